"""The status bar: where code runs and how well it is isolated, the model, the approval mode, the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from tui.safe_text import typed


@dataclass(frozen=True)
class StatusInfo:
    """What the status bar shows besides the audit state; built by the app from its services."""

    backend: str
    isolation: str  # strong / weak / none
    sandbox: str
    model: str  # "" when no model is configured
    approval_mode: str


class StatusBar(Horizontal):
    """One line under the panes. Weak or no isolation is shown in the error colour, in capitals."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text-muted; }
    StatusBar > Label { padding: 0 1; }
    StatusBar > #backend.-strong { color: $text-success; }
    StatusBar > #backend.-weak, StatusBar > #backend.-none { background: $error; color: $text; text-style: bold; }
    StatusBar > #audit.-broken { background: $error; color: $text; text-style: bold; }
    StatusBar > #audit.-verified { color: $text-success; }
    StatusBar > #activity { width: 1fr; content-align-horizontal: right; color: $text-accent; }
    """

    def compose(self) -> ComposeResult:
        for name in ("backend", "sandbox", "model", "approval", "audit", "activity"):
            yield Label(id=name)

    def show_info(self, info: StatusInfo) -> None:
        backend = self.query_one("#backend", Label)
        if info.isolation == "strong":
            backend.update(typed(f"{info.backend} · strong isolation"))
        else:
            backend.update(typed(f"⚠ {info.backend} · {info.isolation.upper()} ISOLATION"))
        backend.set_classes(f"-{info.isolation}")
        self.query_one("#sandbox", Label).update(typed(f"sandbox {info.sandbox}"))
        self.query_one("#model", Label).update(typed(f"model {info.model or 'none'}"))
        self.query_one("#approval", Label).update(typed(f"approval {info.approval_mode}"))

    def show_audit(self, text: str, state: str) -> None:
        """``state``: verified, broken, checking or off (a CSS class, for colour)."""
        audit = self.query_one("#audit", Label)
        audit.update(typed(text))
        audit.set_classes(f"-{state}")

    def show_activity(self, text: str) -> None:
        self.query_one("#activity", Label).update(typed(text))

    def text(self) -> str:
        """The bar as plain text (for tests and the end-to-end check)."""
        return "  ".join(str(label.visual) for label in self.query(Label))
