"""Audit review: the records of every operation, filtered, paged, opened one by one, verified and exported.

Every database call runs in a thread worker; the table fetches a page of records at a time as it scrolls
(tui/screens/audit_table.py), so the screen opens over a million records as fast as over a few.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.audit import AuditFilter, AuditLog, VerifyReport
from core.errors import SandchatError
from core.security.sanitize import visible_control_chars
from tui.screens.audit_dialogs import AuditRecordScreen, ExportScreen
from tui.screens.audit_filters import AuditFilterBar
from tui.screens.audit_table import AuditTable
from tui.screens.screen_commands import PaletteEntry, ScreenActions

__all__ = ["AuditScreen"]


class VerifyStopped(Exception):
    """Raised from the progress callback when the verifying worker was cancelled (a newer request, or closed)."""


def verify_summary(report: VerifyReport) -> Text:
    """The outcome of a chain verification in one line (two with notes), styled by outcome."""
    if report.ok:
        line = Text(f"chain OK: {report.records_checked:,} records verified", style="bold green", end="")
    elif report.first_bad_seq is not None:
        line = Text(f"chain BROKEN at record {report.first_bad_seq}: {report.problem}", style="bold red", end="")
    else:
        line = Text(f"chain BROKEN: {report.problem}", style="bold red", end="")
    for note in report.notes:
        line.append(f"\n{note}", style="dim")
    return line


class AuditScreen(Screen[None]):
    """Review the audit log: filter, page through, open, verify and export records; escape closes."""

    CSS_PATH = "audit.tcss"
    TITLE = "Audit log"
    COMMANDS = {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="audit.close"),
        Binding("slash", "filter", "Filter", id="audit.filter"),
        Binding("v", "verify", "Verify chain", id="audit.verify"),
        Binding("x", "export", "Export", id="audit.export"),
        Binding("r", "refresh", "Refresh", id="audit.refresh"),
    ]
    PALETTE: ClassVar[tuple[PaletteEntry, ...]] = (
        ("Audit: verify the chain", "check every record's MAC and link", "verify"),
        ("Audit: export as JSON lines", "write the filtered records to a file", "export"),
        ("Audit: refresh", "list again from the newest record", "refresh"),
        ("Audit: filter", "type words to look for", "filter"),
    )

    def __init__(self, audit: AuditLog, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.audit = audit
        self._clock = clock  # "now" for ages such as 7d

    def compose(self) -> ComposeResult:
        yield Header()
        yield Container(id="filters-slot")  # the filter bar moves in once the first page is on screen
        yield AuditTable(self.audit, id="records")
        with Horizontal(id="status-bar"):
            yield Static(Text("chain not verified yet: press v", style="dim"), id="chain")
            yield Static("", id="position", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(AuditTable)
        table.border_title = "Records, newest first"
        table.show(AuditFilter())
        table.focus()
        self.set_timer(0.5, self._mount_filters)  # in case the first page is slow or fails

    @on(AuditTable.PageLoaded)
    def _page_loaded(self) -> None:
        self.call_after_refresh(self._mount_filters)

    async def _mount_filters(self) -> None:
        """Add the filter bar, once the first page is painted.

        Its six controls cost about as much time to mount as the rest of the screen: the records come first (as
        with textual.lazy.Lazy, but after the first page rather than after the first frame).
        """
        slot = self.query_one("#filters-slot")
        if not slot.children:
            await slot.mount(AuditFilterBar(clock=self._clock, id="filters"))

    @property
    def table(self) -> AuditTable:
        return self.query_one(AuditTable)

    # -- browsing ----------------------------------------------------------------------------------
    @on(AuditFilterBar.FiltersChanged)
    def _filter(self, event: AuditFilterBar.FiltersChanged) -> None:
        self.table.show(event.filters)

    @on(AuditTable.Moved)
    def _moved(self, event: AuditTable.Moved) -> None:
        self.query_one("#position", Static).update(event.position, layout=False)  # fixed width: no relayout

    @on(AuditTable.RecordOpened)
    def _open(self, event: AuditTable.RecordOpened) -> None:
        self.app.push_screen(AuditRecordScreen(event.record))

    def action_close(self) -> None:
        if self.focused is not None and self.focused is not self.table:
            self.table.focus()  # escape first leaves a filter, then the screen
            return
        self.dismiss(None)

    def action_filter(self) -> None:
        for text in self.query("#text"):
            text.focus()

    def action_refresh(self) -> None:
        self.table.reload()

    # -- verifying ---------------------------------------------------------------------------------
    def action_verify(self) -> None:
        self._show_chain(Text("verifying the chain…", style="italic"))
        self.table.broken_seq = None
        self.verify_chain()

    @work(thread=True, exclusive=True, group="audit-verify", exit_on_error=False)
    def verify_chain(self) -> VerifyReport | None:
        """Check the whole chain in a thread, showing how far it is; the newest request wins, closing stops it."""
        worker = get_current_worker()

        def progress(checked: int, total: int) -> None:
            if worker.is_cancelled:
                raise VerifyStopped
            if total:
                self.app.call_from_thread(self._show_chain, Text(
                    f"verifying the chain… {checked:,} of {total:,} records ({checked * 100 // total}%)",
                    style="italic"))

        try:
            report = self.audit.verify(progress)
        except VerifyStopped:
            return None
        if not worker.is_cancelled:
            self.app.call_from_thread(self._verified, report)
        return report

    def _verified(self, report: VerifyReport) -> None:
        self._show_chain(verify_summary(report))
        self.table.broken_seq = report.first_bad_seq
        self.table.refresh()
        if not report.ok:
            self.notify(report.problem, title="Audit chain BROKEN", severity="error", timeout=15, markup=False)

    def _show_chain(self, text: Text) -> None:
        self.query_one("#chain", Static).update(text)

    # -- exporting ---------------------------------------------------------------------------------
    def action_export(self) -> None:
        filters = self.table.filters

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.export_to(path, filters)

        self.app.push_screen(ExportScreen(self.table.total), chosen)

    @work(thread=True, exclusive=True, group="audit-export", exit_on_error=False)
    def export_to(self, path: Path, filters: AuditFilter) -> int:
        """Write the records matching ``filters`` to a new file at ``path`` (0o600), oldest first."""
        shown = visible_control_chars(str(path))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as err:
            raise SandchatError(f"{shown} already exists", hint="the export never overwrites a file") from err
        except OSError as err:
            raise SandchatError(f"{shown} cannot be created: {err.strerror}") from err
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                count = self.audit.export_jsonl(out, filters)
        except BaseException:
            path.unlink(missing_ok=True)  # ours: created above; a partial export must not pass for a whole one
            raise
        self.app.call_from_thread(self.notify, f"{count:,} records written to {shown}", title="Exported",
                                  markup=False)
        return count

    # -- failures ----------------------------------------------------------------------------------
    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "audit-verify":
            self._show_chain(Text(f"verification could not run: {error}", style="bold red"))
        self.notify(str(error), title="Audit log", severity="error", markup=False)
