"""A virtual table of audit records: one line per record, pages fetched as they scroll into view.

A Line API widget rather than a DataTable: it draws only the visible lines, holds only a few pages of records
(tui/screens/audit_pages.py), and so opens over a million records as fast as over ten.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import NULL_STYLE, Style
from textual import events, on, work
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState, get_current_worker

from core.audit import AuditFilter, AuditLog, AuditRecord
from core.security.sanitize import strip_terminal_escapes, visible_control_chars
from tui.screens.audit_pages import RecordPages

#: (title, width, right-aligned); the command takes what is left.
COLUMNS: tuple[tuple[str, int, bool], ...] = (
    ("seq", 8, True),
    ("time (UTC)", 19, False),
    ("actor", 9, False),
    ("tool", 13, False),
    ("status", 7, False),
    ("exit", 4, True),
    ("duration", 9, True),
    ("command", 0, False),
)

STATUS_STYLES = {status: Style.parse(style) for status, style in (
    ("ok", "green"), ("error", "yellow"), ("failed", "red"), ("blocked", "bold red"), ("denied", "bold red"),
    ("started", "dim"),
)}

#: Rows fetched ahead of the viewport, so that scrolling on finds its page already there.
PREFETCH_ROWS = 50


def one_line(text: str) -> str:
    """The first line of untrusted text, escapes removed and other controls made visible; "…" if there was more."""
    clean = strip_terminal_escapes(text)
    first, _, rest = clean.partition("\n")
    return visible_control_chars(first) + (" …" if rest else "")


def format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def row_cells(record: AuditRecord) -> list[str]:
    """The record's cells in COLUMNS order, as plain one-line strings."""
    exit_code = "" if record.exit_code is None else str(record.exit_code)
    return [str(record.seq), record.time[:19].replace("T", " "), record.actor, record.tool, record.status,
            exit_code, format_duration(record.duration_ms), record.command]


def fitted_cells(cells: list[str], width: int) -> list[str]:
    """Each cell made one safe line and fitted to its column (in terminal cells, a space after it).

    The last column takes what is left of ``width``, cut with "…" when it does not fit.
    """
    out: list[str] = []
    used = 0
    for (_, size, right), cell in zip(COLUMNS, cells, strict=True):
        plain = one_line(cell)
        if size:
            short = size - cell_len(plain)
            out.append((" " * short + plain if right and short > 0 else set_cell_size(plain, size)) + " ")
            used += size + 1
        else:
            room = max(width - used, 0)
            cut = cell_len(plain) > room > 0
            out.append(set_cell_size(plain, room - 1) + "…" if cut else set_cell_size(plain, room))
    return out


class AuditTable(ScrollView, can_focus=True):
    """Audit records matching a filter, newest first; Enter opens one."""

    DEFAULT_CSS = """
    AuditTable { height: 1fr; background: $surface; overflow-x: hidden; overflow-y: scroll; }
    AuditTable > .audit-table--header { text-style: bold; color: $text-accent; background: $panel; }
    AuditTable > .audit-table--cursor { background: $boost; }
    AuditTable:focus > .audit-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    AuditTable > .audit-table--pending { color: $text-muted; }
    AuditTable > .audit-table--broken { background: $error-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "audit-table--header", "audit-table--cursor", "audit-table--pending", "audit-table--broken",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False, id="audit_table.cursor_up"),
        Binding("down", "move(1)", "Down", show=False, id="audit_table.cursor_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="audit_table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="audit_table.page_down"),
        Binding("home", "first", "Newest", show=False, id="audit_table.first"),
        Binding("end", "last", "Oldest loaded", show=False, id="audit_table.last"),
        Binding("enter", "open", "Details", id="audit_table.open"),
    ]

    class RecordOpened(Message):
        """The user asked for the record under the cursor in full."""

        def __init__(self, record: AuditRecord) -> None:
            super().__init__()
            self.record = record

    class PageLoaded(Message):
        """A page of records arrived and is shown."""

        def __init__(self, page: int, known_rows: int, exhausted: bool) -> None:
            super().__init__()
            self.page = page
            self.known_rows = known_rows
            self.exhausted = exhausted

    class Moved(Message):
        """The cursor moved, or the number of records it moves among changed."""

        def __init__(self, position: str) -> None:
            super().__init__()
            self.position = position

    class Counted(Message):
        """The number of records matching the filter is known."""

        def __init__(self, total: int) -> None:
            super().__init__()
            self.total = total

    def __init__(self, audit: AuditLog, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id)
        self._audit = audit
        self.filters = AuditFilter()
        self.pages = RecordPages()
        self.cursor_row = 0
        self.total: int | None = None
        self.broken_seq: int | None = None  # highlighted after a failed verification
        self._generation = 0
        self._in_flight: set[tuple[int, int]] = set()
        # Drawn lines by (generation, row, width, under the cursor, broken): a key press redraws two rows only.
        self._lines: LRUCache[tuple[int, int, int, bool, bool], Strip] = LRUCache(256)
        self._styles: dict[str, Style] = {}
        self._width = 0

    # -- what to show ------------------------------------------------------------------------------
    def show(self, filters: AuditFilter) -> None:
        """List the records matching ``filters`` from the newest one."""
        self.filters = filters
        self.reload()

    def reload(self) -> None:
        """Start the listing again from the newest record (picks up records written since)."""
        self._generation += 1
        self._in_flight.clear()
        self.pages = RecordPages()
        self.cursor_row = 0
        self.total = None
        self._sync_size()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()
        self._want_pages()

    @property
    def current(self) -> AuditRecord | None:
        """The record under the cursor, if it is loaded."""
        return self.pages.record(self.cursor_row)

    # -- fetching ----------------------------------------------------------------------------------
    def _want_pages(self) -> None:
        if not self.is_mounted:
            return
        top = round(self.scroll_offset.y)
        bottom = top + max(self.scrollable_content_region.height - 1, 1) + PREFETCH_ROWS
        for page in self.pages.missing(min(top, self.cursor_row), max(bottom, self.cursor_row)):
            if (self._generation, page) not in self._in_flight:
                self._in_flight.add((self._generation, page))
                self._fetch_page(self._generation, page, self.filters, self.pages.cursor(page), self.pages.page_size)

    @work(thread=True, group="audit-pages", exit_on_error=False)
    def _fetch_page(self, generation: int, page: int, filters: AuditFilter, before_seq: int | None, size: int) -> None:
        records = self._audit.list(filters, limit=size, before_seq=before_seq)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._page_arrived, generation, page, records)

    def _page_arrived(self, generation: int, page: int, records: list[AuditRecord]) -> None:
        self._in_flight.discard((generation, page))
        if generation != self._generation or not self.is_mounted:
            return  # fetched for a filter that has since changed
        first_time = page == 0 and self.pages.frontier == 0
        self.pages.store(page, records, near_page=round(self.scroll_offset.y) // self.pages.page_size)
        self._sync_size()
        self.refresh()
        self._show_position()
        self.post_message(self.PageLoaded(page, self.pages.known_rows, self.pages.exhausted))
        if first_time:
            self._count(generation, self.filters)
        self._want_pages()

    @work(thread=True, exclusive=True, group="audit-count", exit_on_error=False)
    def _count(self, generation: int, filters: AuditFilter) -> None:
        total = self._audit.count(filters)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._counted, generation, total)

    def _counted(self, generation: int, total: int) -> None:
        if generation != self._generation or not self.is_mounted:
            return
        self.total = total
        self._show_position()
        self.post_message(self.Counted(total))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            # The page stays "in flight", so it shows "loading…" instead of being asked for again at every
            # scroll (and failing again); refresh (r) starts over.
            self.notify(str(event.worker.error), title="Audit log not read", severity="error", markup=False)

    # -- moving ------------------------------------------------------------------------------------
    def move_to(self, row: int) -> None:
        """Put the cursor on ``row`` (clamped to the records found so far) and scroll it into view."""
        previous, self.cursor_row = self.cursor_row, max(0, min(row, self.pages.known_rows - 1))
        visible = max(self.scrollable_content_region.height - 1, 1)
        top = round(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)  # redraws everything
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)
        else:
            self.refresh_line(previous + 1)  # + 1: the header line
            self.refresh_line(self.cursor_row + 1)
        self._show_position()
        self._want_pages()

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor_row + direction * max(self.scrollable_content_region.height - 2, 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.pages.known_rows - 1)

    def action_open(self) -> None:
        record = self.current
        if record is not None:
            self.post_message(self.RecordOpened(record))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        self.move_to(round(self.scroll_offset.y) + offset.y - 1)
        if event.chain >= 2:
            self.action_open()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._want_pages()

    def on_resize(self) -> None:
        self._sync_size()
        self._want_pages()

    def _sync_size(self) -> None:
        pending = 0 if self.pages.exhausted else 1  # a "loading" line while more may follow
        self.virtual_size = Size(0, self.pages.known_rows + pending + 1)

    @property
    def position(self) -> str:
        """Where the cursor is, e.g. "5 of 1,000,000" ("of 200+" until the count is in)."""
        known = self.pages.known_rows
        if known == 0:
            return ""
        of = f"{self.total:,}" if self.total is not None else f"{known:,}{'' if self.pages.exhausted else '+'}"
        return f"{self.cursor_row + 1:,} of {of}"

    def _show_position(self) -> None:
        # A message, not the border subtitle: a changed border would redraw every line at every key press.
        self.post_message(self.Moved(self.position))

    # -- drawing -----------------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        self._width = self.scrollable_content_region.width  # once a frame rather than once a line
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self._width or self.scrollable_content_region.width
        if y == 0:
            header = "".join(fitted_cells([title for title, _, _ in COLUMNS], width))
            return self._strip([Segment(header, self._style("") + self._style("header"))], width)
        row = round(self.scroll_offset.y) + y - 1
        record = self.pages.record(row)
        if record is None:
            return self._pending(row, width)
        key = (self._generation, row, width, row == self.cursor_row, record.seq == self.broken_seq)
        strip = self._lines.get(key)
        if strip is None:
            # Segments built directly from plain strings: no markup is ever parsed, and a line costs a fraction
            # of what a rich Text would.
            base, over = self._style(""), NULL_STYLE
            if record.seq == self.broken_seq:
                over += self._style("broken")
            if row == self.cursor_row:
                over += self._style("cursor")
            line, status = base + over, base + STATUS_STYLES.get(record.status, NULL_STYLE) + over
            cells = fitted_cells(row_cells(record), width)
            strip = self._lines[key] = self._strip(
                [Segment(cell, status if index == 4 else line) for index, cell in enumerate(cells)], width
            )
        return strip

    def _style(self, part: str) -> Style:
        """The style of the component ``audit-table--{part}``, or of the widget itself for ""."""
        style = self._styles.get(part)
        if style is None:
            style = self.get_component_rich_style(f"audit-table--{part}") if part else self.rich_style
            self._styles[part] = style
        return style

    def notify_style_update(self) -> None:
        self._styles.clear()  # theme or focus changed: the lines must be drawn again
        self._lines.clear()
        super().notify_style_update()

    def _pending(self, row: int, width: int) -> Strip:
        pages = self.pages
        if row == 0 and pages.exhausted and pages.known_rows == 0:
            label = "no records match"
        elif row < pages.known_rows + (0 if pages.exhausted else 1):
            label = "loading…"
        else:
            return Strip.blank(width, self._style(""))
        return self._strip([Segment(f"  {label}", self._style("") + self._style("pending"))], width)

    def _strip(self, segments: list[Segment], width: int) -> Strip:
        return Strip(segments).crop_extend(0, width, self._style(""))
