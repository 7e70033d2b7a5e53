"""The execution log: every operation as it happens, and the output of running programs.

Entries are kept as small records and only the rows on screen are drawn (the Line API), so a session of
100,000 operations stays quick and small: a RichLog would keep a rendered copy of every line instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

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
        # drawn rows by (id(row), width): rows stay in the cache while the log grows or its filter changes
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
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
            self._apply_filter()  # rare: a filter is on and the ending changed what it lets through
        self._schedule_resize()
        return entry

    def _add(self, row: Row) -> None:
        if isinstance(row, LogEntry):
            self.entry_count += 1
        self._rows.append(row)
        if self._shown is not None and self._filter.matches(row):
            self._shown.append(len(self._rows) - 1)
        if len(self._rows) > MAX_ROWS:
            self._drop_oldest(MAX_ROWS // 10)
        self._schedule_resize()

    def _drop_oldest(self, count: int) -> None:
        del self._rows[:count]
        self._cache.clear()
        self._apply_filter()

    def _schedule_resize(self) -> None:
        # One update (size, scroll, redraw) per burst of events, not one per event.
        if not self._resize_pending:
            self._resize_pending = True
            self.call_later(self._resize)

    def _resize(self) -> None:
        self._resize_pending = False
        at_end = self.scroll_y >= self.max_scroll_y
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)
        if at_end:
            self.scroll_end(animate=False, x_axis=False)
        self.refresh()

    def clear(self) -> None:
        """Forget every row."""
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
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)
        self.scroll_end(animate=False, x_axis=False)
        self.refresh()

    def _apply_filter(self) -> None:
        flt = self._filter
        self._shown = None if flt.empty else [i for i, row in enumerate(self._rows) if flt.matches(row)]

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
            return Strip.blank(width, self.rich_style)
        row = self._rows[index if self._shown is None else self._shown[index]]
        self._width = width
        key = (id(row), width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, width)
            self._cache[key] = strip
        return strip.apply_offsets(scroll_x, index)

    def _render_row(self, row: Row, width: int) -> Strip:
        base = self.rich_style
        if isinstance(row, OutputLine):
            style = base + self._style("stderr" if row.stream == "stderr" else "dim")
            segments = [Segment(" " * 9 + "│ ", base + self._style("dim")), Segment(row.text.expandtabs(4), style)]
        else:
            segments = self._entry_segments(row, base)
        return Strip(segments).crop_extend(0, width, base)

    def _entry_segments(self, entry: LogEntry, base: Style) -> list[Segment]:
        status = entry.status
        kind = "blocked" if status in ("blocked", "denied") else status
        badge = base + self._style(kind)
        row_style = badge if kind == "blocked" else base
        dim = row_style + self._style("dim") if kind != "blocked" else row_style
        took = "" if entry.duration is None else f"{entry.duration * 1000:,.0f} ms"
        tail = " ".join(part for part in (took, "" if entry.exit_code is None else f"exit {entry.exit_code}",
                                          f"#{entry.op_id}") if part)
        parts = [
            Segment(f"{self.time_format(entry.at)} ", dim),
            Segment(f"{_LABELS.get(status, status.upper()):<7}", badge),
            Segment(f" {_ACTORS.get(entry.actor, entry.actor):<3} ", row_style),
            Segment(one_line(entry.command), row_style),
            Segment(f"  {tail}", dim),
        ]
        if entry.message:
            parts.append(Segment(f" — {one_line(entry.message, 300)}", dim))
        return parts

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"exec-log--{name}", partial=True)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self) -> None:
        self._cache.clear()
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False)


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
