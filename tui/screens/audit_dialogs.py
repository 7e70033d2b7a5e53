"""One audit record in full, and the dialog that asks where to export records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from core.audit import AuditRecord
from core.audit_types import COLUMNS
from core.security.sanitize import visible_control_chars

_LABEL_WIDTH = max(len(name) for name in COLUMNS) + 2


def exact_text(text: str) -> str:
    """Untrusted text shown exactly: every control character (escapes included) made visible, lines kept."""
    return "\n".join(visible_control_chars(line) for line in text.split("\n"))


def describe_findings(record: AuditRecord) -> list[str]:
    """The risk findings as one line each, or why they cannot be read."""
    try:
        findings = record.finding_list()
    except (ValueError, TypeError):
        return ["(not readable: " + record.findings + ")"]
    if not isinstance(findings, list):
        return [f"(not a list: {record.findings})"]
    lines = []
    for finding in findings:
        if isinstance(finding, dict):
            rule, severity = finding.get("rule", "?"), finding.get("severity", "?")
            lines.append(f"{rule} ({severity}) at {finding.get('start', '?')}-{finding.get('end', '?')}")
        else:
            lines.append(json.dumps(finding))
    return lines or ["none"]


def record_text(record: AuditRecord) -> Text:
    """Every field of the record, one per line (multi-line values indented), built from plain strings."""
    out = Text(end="")
    for name, value in record.as_dict().items():
        if name == "findings":
            continue
        shown = "-" if value is None else exact_text(str(value))
        out.append(f"{name:<{_LABEL_WIDTH}}", style="bold")
        out.append(shown.replace("\n", "\n" + " " * _LABEL_WIDTH) + "\n")
    out.append(f"{'findings':<{_LABEL_WIDTH}}", style="bold")
    out.append(("\n" + " " * _LABEL_WIDTH).join(exact_text(line) for line in describe_findings(record)))
    return out


class AuditRecordScreen(ModalScreen[None]):
    """The record in full: every field, its risk findings and its MACs; escape closes."""

    DEFAULT_CSS = """
    AuditRecordScreen { align: center middle; }
    AuditRecordScreen > VerticalScroll {
        width: 90%; height: 85%; border: thick $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,enter", "close", "Close", id="audit_detail.close"),
    ]

    def __init__(self, record: AuditRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = f"Audit record {self.record.seq}"
            scroll.border_subtitle = "esc closes"
            scroll.can_focus = True
            yield Static(record_text(self.record), id="record")

    def action_close(self) -> None:
        self.dismiss(None)


class ExportScreen(ModalScreen[Path | None]):
    """Ask for the file to export the filtered records to; None when cancelled."""

    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > Vertical {
        width: 80; height: auto; border: thick $primary; background: $surface; padding: 1 2;
    }
    ExportScreen #export-what { margin-bottom: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="audit_export.cancel"),
    ]

    def __init__(self, count: int | None) -> None:
        super().__init__()
        self._count = count

    def compose(self) -> ComposeResult:
        what = f"{self._count:,} records" if self._count is not None else "The records"
        with Vertical() as box:
            box.border_title = "Export as JSON lines"
            yield Static(f"{what} matching the filters, oldest first. An existing file is not overwritten.",
                         markup=False, id="export-what")
            yield Input(placeholder="path of the .jsonl file to write", id="export-path")

    @on(Input.Submitted, "#export-path")
    def _chosen(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(Path(value).expanduser())

    def action_cancel(self) -> None:
        self.dismiss(None)
