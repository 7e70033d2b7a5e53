"""The execution log: every operation as it happens, and the output of running programs.

Entries are kept as small records and only the rows on screen are drawn (the Line API), so a session of
100,000 operations stays quick and small: a RichLog would keep a rendered copy of every line instead.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from core.events import Event, OperationFinished, OperationStarted, OutputChunk
from core.security.sanitize import strip_terminal_escapes
from tui.safe_text import one_line

KEEP = 400  # characters of a command or message kept per row (a write's content can be megabytes)
MAX_ROWS = 250_000  # beyond this the oldest rows go, a tenth at a time
_LABELS = {"running": "…", "ok": "OK", "error": "ERROR", "failed": "FAILED", "blocked": "BLOCKED",
           "denied": "DENIED"}
_ACTORS = {"user": "you", "assistant": "ai"}  # short names in the rows; the filter takes both
_ACTOR_ALIASES = {"you": "user", "ai": "assistant"}


@dataclass(slots=True)
class LogEntry:
    """One operation; updated in place when it ends."""

    op_id: int
    actor: str
    tool: str
    command: str  # the first KEEP characters; made safe (one line, controls visible) when drawn
    at: float
    status: str = "running"
    duration: float | None = None
    exit_code: int | None = None
    message: str = ""
    number: int = 0  # its place among every row the log has taken, the dropped ones included

    def text(self) -> str:
        return f"{self.command}\n{self.message}".lower()


@dataclass(slots=True)
class OutputLine:
    """One line that a running program printed."""

    entry: LogEntry
    stream: str
    text: str


Row = LogEntry | OutputLine


@dataclass(frozen=True)
class LogFilter:
    """``status:blocked actor:assistant tool:read_file words``: every part must match (words: anywhere)."""

    statuses: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()
    tools: frozenset[str] = frozenset()
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LogFilter:
        fields: dict[str, set[str]] = {"status": set(), "actor": set(), "tool": set()}
        words: list[str] = []
        for token in text.lower().split():
            key, sep, value = token.partition(":")
            if sep and key in fields and value:
                names = [v for v in value.split(",") if v]
                fields[key].update(_ACTOR_ALIASES.get(v, v) if key == "actor" else v for v in names)
            else:
                words.append(token)
        return cls(frozenset(fields["status"]), frozenset(fields["actor"]), frozenset(fields["tool"]), tuple(words))

    @property
    def empty(self) -> bool:
        return not (self.statuses or self.actors or self.tools or self.words)

    def matches(self, row: Row) -> bool:
        entry = row if isinstance(row, LogEntry) else row.entry
        if self.statuses and entry.status not in self.statuses:
            return False
        if self.actors and entry.actor not in self.actors:
            return False
        if self.tools and entry.tool not in self.tools:
            return False
        if not self.words:
            return True
        text = entry.text() if isinstance(row, LogEntry) else f"{entry.command}\n{row.text}".lower()
        return all(word in text for word in self.words)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


class ExecutionLog(ScrollView, can_focus=True):
    """A live log of operations; rows are drawn from plain strings only (no markup is interpreted)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "exec-log--dim", "exec-log--ok", "exec-log--error", "exec-log--failed", "exec-log--blocked",
        "exec-log--running", "exec-log--stderr",
    }
    DEFAULT_CSS = """
    ExecutionLog { height: 1fr; background: $surface; overflow-x: hidden; }
    ExecutionLog > .exec-log--dim { color: $text-muted; }
    ExecutionLog > .exec-log--ok { color: $text-success; }
    ExecutionLog > .exec-log--error { color: $text-warning; }
    ExecutionLog > .exec-log--failed { color: $text-error; }
    ExecutionLog > .exec-log--blocked { background: $error 60%; color: $text; text-style: bold; }
    ExecutionLog > .exec-log--running { color: $text-accent; }
    ExecutionLog > .exec-log--stderr { color: $text-error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("end", "scroll_end", "Newest", show=False, id="log.newest"),
    ]

    def __init__(self, *, id: str | None = None, time_format: Callable[[float], str] = _clock) -> None:  # noqa: A002
        super().__init__(id=id)
        self.time_format = time_format
        self._rows: list[Row] = []
        self._open_ops: dict[int, LogEntry] = {}
        self._filter = LogFilter()
        self._shown: list[int] | None = None  # indices into _rows when a filter is on
        self._dropped = 0  # rows dropped from the front since the start
        # drawn rows by (id(row), width): rows stay in the cache while the log grows or its filter changes
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._looks: dict[str, tuple[Style, Style, Style]] = {}  # styles by kind of row, until the CSS changes
        self._width = 0
        self._resize_pending = False
        self.entry_count = 0

    # -- adding --------------------------------------------------------------------------------
    @property
    def entries(self) -> list[LogEntry]:
        """Every operation still in the log, oldest first."""
        return [row for row in self._rows if isinstance(row, LogEntry)]

    @property
    def rows(self) -> Sequence[Row]:
        """Every row, shown or not."""
        return self._rows

    def show(self, event: Event) -> LogEntry | None:
        """Add one pipeline event to the log; returns the entry of a finished operation."""
        if isinstance(event, OperationStarted):
            entry = LogEntry(event.op_id, event.actor, event.tool, event.command[:KEEP], event.at)
            self._open_ops[event.op_id] = entry
            self._add(entry)
        elif isinstance(event, OutputChunk):
            owner = self._open_ops.get(event.op_id)
            if owner is not None:
                for line in strip_terminal_escapes(event.text).rstrip("\n").split("\n"):
                    self._add(OutputLine(owner, event.stream, line))
        elif isinstance(event, OperationFinished):
            return self._finish(event)
        return None

    def _finish(self, event: OperationFinished) -> LogEntry:
        r = event.result
        entry = self._open_ops.pop(r.op_id, None)
        if entry is None:  # started before this log existed
            entry = LogEntry(r.op_id, r.actor, r.tool, r.text[:KEEP], r.started_at)
            self._add(entry)
        was_shown = self._shown is not None and self._filter.matches(entry)
        entry.status, entry.duration, entry.message = r.status, r.duration, r.message[:KEEP]
        if r.exec is not None:
            entry.exit_code = r.exec.exit_code
        self._cache.discard((id(entry), self._width))
        if self._shown is not None and self._filter.matches(entry) != was_shown:
            # The entry and its output lines (all after it) now match differently: filter again from there.
            self._filter_from(max(0, entry.number - self._dropped))
        self._schedule_resize()
        return entry

    def _add(self, row: Row) -> None:
        if isinstance(row, LogEntry):
            self.entry_count += 1
            row.number = self._dropped + len(self._rows)
        self._rows.append(row)
        if self._shown is not None and self._filter.matches(row):
            self._shown.append(len(self._rows) - 1)
        if len(self._rows) > MAX_ROWS:
            self._drop_oldest(MAX_ROWS // 10)
        self._schedule_resize()

    def _drop_oldest(self, count: int) -> None:
        del self._rows[:count]
        self._dropped += count
        self._cache.clear()
        self._apply_filter()

    def _schedule_resize(self) -> None:
        # One update (size, scroll, redraw) per burst of events, not one per event.
        if not self._resize_pending:
            self._resize_pending = True
            self.call_later(self._resize)

    def _resize(self) -> None:
        self._resize_pending = False
        self._update_rows(follow=self.scroll_y >= self.max_scroll_y)

    def _update_rows(self, *, follow: bool) -> None:
        """Size the scroll area to the rows, keep to the newest if asked, and redraw: no layout of the screen."""
        bar_changes = self._set_virtual_height(self.row_count)
        if follow:
            # At once (a ScrollView does not wait for a refresh), and forced: a scroll bar that is about to appear
            # is not there until the layout, and until then scrolling would not be allowed.
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True)
        if bar_changes:
            self.vertical_scrollbar.position = self.scroll_y  # it was hidden while the position changed
        self.refresh()

    def _set_virtual_height(self, height: int) -> bool:
        """Size the scroll area; True if the scroll bar comes or goes (the screen is then laid out again)."""
        size = Size(self.scrollable_content_region.width, height)
        if size == self.virtual_size:
            return False
        if self.styles.overflow_y == "auto" and (height > self.container_size.height) != self.show_vertical_scrollbar:
            self.virtual_size = size
            return True
        # Otherwise only the log and its scroll bar change: assigning virtual_size would lay out the whole screen
        # (and repaint every widget) each frame while the log grows.
        self.set_reactive(ExecutionLog.virtual_size, size)
        if self.show_vertical_scrollbar:
            self.vertical_scrollbar.window_virtual_size = height
        return False

    def clear(self) -> None:
        """Forget every row."""
        self._dropped += len(self._rows)  # as if dropped: running operations keep their numbers
        self._rows.clear()
        self._cache.clear()
        self._apply_filter()
        self._schedule_resize()

    # -- filtering -------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows) if self._shown is None else len(self._shown)

    def set_filter(self, text: str) -> None:
        """Show only what matches (see LogFilter); an empty filter shows everything."""
        self._filter = LogFilter.parse(text)
        self._apply_filter()
        self._update_rows(follow=True)

    def _apply_filter(self) -> None:
        flt = self._filter
        self._shown = None if flt.empty else [i for i, row in enumerate(self._rows) if flt.matches(row)]

    def _filter_from(self, start: int) -> None:
        """Filter the rows from index ``start`` on again (those before it match as they did)."""
        shown = self._shown
        if shown is None:
            return
        del shown[bisect_left(shown, start):]
        rows, flt = self._rows, self._filter
        shown.extend(i for i in range(start, len(rows)) if flt.matches(rows[i]))

    def visible_rows(self) -> list[Row]:
        """The rows the filter lets through, oldest first."""
        if self._shown is None:
            return list(self._rows)
        return [self._rows[i] for i in self._shown]

    # -- drawing -----------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= self.row_count:
            return Strip.blank(width, self._base_style)
        row = self._rows[index if self._shown is None else self._shown[index]]
        self._width = width
        key = (id(row), width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, width)
            self._cache[key] = strip
        return strip.apply_offsets(scroll_x, index)

    def _render_row(self, row: Row, width: int) -> Strip:
        if isinstance(row, OutputLine):
            base, text, rule = self._look("stderr" if row.stream == "stderr" else "stdout")
            return _fit([(" " * 9 + "│ ", rule), (row.text.expandtabs(4), text)], width, base)
        return _fit(self._entry_pieces(row), width, self._base_style)

    @property
    def _base_style(self) -> Style:
        return self._look("stdout")[0]

    def _look(self, kind: str) -> tuple[Style, Style, Style]:
        """Styles of a kind of row, worked out once until the CSS changes: (badge, row, dim) for an entry's
        status, (base, text, rule) for the output lines of a stream."""
        look = self._looks.get(kind)
        if look is None:
            base = self.rich_style  # walks the ancestors for their backgrounds: not something to do per row
            dim = base + self._style("dim")
            if kind in ("stdout", "stderr"):
                look = (base, base + self._style("stderr") if kind == "stderr" else dim, dim)
            elif kind == "blocked":
                badge = base + self._style("blocked")
                look = (badge, badge, badge)
            else:
                look = (base + self._style(kind), base, dim)
            self._looks[kind] = look
        return look

    def _entry_pieces(self, entry: LogEntry) -> list[tuple[str, Style]]:
        status = entry.status
        badge, row_style, dim = self._look("blocked" if status in ("blocked", "denied") else status)
        took = "" if entry.duration is None else f"{entry.duration * 1000:,.0f} ms"
        tail = " ".join(part for part in (took, "" if entry.exit_code is None else f"exit {entry.exit_code}",
                                          f"#{entry.op_id}") if part)
        pieces = [
            (f"{self.time_format(entry.at)} ", dim),
            (f"{_LABELS.get(status, status.upper()):<7}", badge),
            (f" {_ACTORS.get(entry.actor, entry.actor):<3} ", row_style),
            (one_line(entry.command), row_style),
            (f"  {tail}", dim),
        ]
        if entry.message:
            pieces.append((f" — {one_line(entry.message, 300)}", dim))
        return pieces

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"exec-log--{name}", partial=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._looks.clear()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)


def _fit(pieces: list[tuple[str, Style]], width: int, base: Style) -> Strip:
    """The pieces, one segment each, cut or padded to exactly ``width`` cells (as ``Strip.crop_extend`` would).

    A row is mostly wider than the pane: cutting the text before making segments costs a third of cropping a
    strip of every piece, and the log draws a page of new rows each frame while operations pour in.
    """
    segments: list[Segment] = []
    room = width
    for text, style in pieces:
        if room <= 0:
            break
        if text.isascii() and text.isprintable():  # one cell a character: no need to measure
            text = text[:room]
            size = len(text)
        else:
            size = cell_len(text)
            if size > room:
                text, size = set_cell_size(text, room), room
        segments.append(Segment(text, style))
        room -= size
    if room > 0:
        segments.append(Segment(" " * room, base))
    return Strip(segments, width)


class ExecLogPane(Vertical):
    """The log with its filter line above it."""

    DEFAULT_CSS = """
    ExecLogPane { border: round $primary; height: 1fr; }
    ExecLogPane:focus-within { border: round $accent; }
    ExecLogPane > #log-filter { height: 1; border: none; padding: 0 1; background: $boost; }
    ExecLogPane > #log-filter:focus { background: $boost; }
    """
    def __init__(self, *, id: str | None = None, time_format: Callable[[float], str] = _clock) -> None:  # noqa: A002
        super().__init__(id=id)
        self._time_format = time_format

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: status:blocked actor:assistant tool:execute_code text", id="log-filter")
        yield ExecutionLog(id="log", time_format=self._time_format)

    def on_mount(self) -> None:
        self.border_title = "Execution log"

    @on(Input.Changed, "#log-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one(ExecutionLog).set_filter(event.value)

    @on(Input.Submitted, "#log-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(ExecutionLog).focus()

    def focus_filter(self) -> None:
        self.query_one("#log-filter", Input).focus()
