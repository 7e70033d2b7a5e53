"""The execution log: every operation as it happens, and the output of running programs.

Only the rows on screen are drawn (the Line API), so a session of 100,000 operations stays quick and small: a
RichLog would keep a rendered copy of every line instead. The rows are kept as plain tuples of strings and numbers,
which CPython stops tracking for garbage collection at the first collection they survive: full passes of the
collector, which a key press waits on, then do not walk them (100,000 operations as objects: 14-25 ms a pass with
the app's own objects frozen; as tuples ~1 ms, bench/exec_log_gc.py).
An output line refers to its operation by the operation's row number, not to an object, and an operation that ends
gets a new tuple in its place. LogEntry and OutputLine are made from the tuples when asked for.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast, overload

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

# How the log keeps its rows: exact tuples of atoms only (str, int, float, None), never a subclass or an object, so
# that the garbage collector untracks them. An operation: its fields; its row number is its place in the log.
_Entry = tuple[int, str, str, str, float, str, float | None, int | None, str]
#              op_id actor tool command at   status duration  exit_code  message
_STATUS, _MESSAGE = 5, 8
# A line of output: the row number of its operation (looked up when needed: the operation's status changes when it
# ends), the stream and the text.
_Line = tuple[int, str, str]
_Stored = _Entry | _Line
_LINE = 3  # the length of a stored line; an operation's is 9


@dataclass(slots=True)
class LogEntry:
    """One operation as it stood when asked for: a copy, made from the log's row (which is replaced, not updated,
    when the operation ends). Not frozen: a frozen dataclass takes three times as long to make, and show() makes one
    for every operation that ends."""

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

    def _stored(self) -> _Entry:
        return (self.op_id, self.actor, self.tool, self.command, self.at, self.status, self.duration, self.exit_code,
                self.message)


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
        if isinstance(row, LogEntry):
            return self._accepts(row._stored())
        return self._accepts(row.entry._stored(), row.text)

    def _accepts(self, entry: _Entry, line: str | None = None) -> bool:
        """Whether an operation's row (``line`` None) or one of its output lines matches; the log's own rows."""
        if self.statuses and entry[_STATUS] not in self.statuses:
            return False
        if self.actors and entry[1] not in self.actors:
            return False
        if self.tools and entry[2] not in self.tools:
            return False
        return not self.words or _has_words(self.words, f"{entry[3]}\n{entry[_MESSAGE] if line is None else line}")


def _has_words(words: tuple[str, ...], text: str) -> bool:
    text = text.lower()
    return all(word in text for word in words)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


class _Rows(Sequence[Row]):
    """The log's rows as LogEntry and OutputLine, made when asked for."""

    def __init__(self, log: ExecutionLog) -> None:
        self._log = log

    def __len__(self) -> int:
        return len(self._log._rows)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if isinstance(index, slice):
            return [self._log._row(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("row index out of range")
        return self._log._row(index)

    def __iter__(self) -> Iterator[Row]:
        return (self._log._row(i) for i in range(len(self)))


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
        # Rows as tuples of atoms (see _Stored); a row's number, unique for the log's life, is _dropped + its index.
        self._rows: list[_Stored] = []
        self._dropped = 0  # rows dropped from the front since the start
        self._open_ops: dict[int, int] = {}  # op_id -> the row number of a running operation
        # Operations dropped from the rows (trimmed, cleared) that are still running or have output lines left, by
        # row number: their lines still need their status.
        self._gone: dict[int, _Entry] = {}
        self._filter = LogFilter()
        self._shown: list[int] | None = None  # indices into _rows when a filter is on
        # drawn rows by (row number, width): rows stay in the cache while the log grows or its filter changes
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._looks: dict[str, tuple[Style, Style, Style]] = {}  # styles by kind of row, until the CSS changes
        self._width = 0
        self._resize_pending = False
        self.entry_count = 0

    # -- the rows as values ------------------------------------------------------------------------
    @property
    def entries(self) -> list[LogEntry]:
        """Every operation still in the log, oldest first."""
        dropped = self._dropped
        return [LogEntry(*cast(_Entry, row), dropped + i) for i, row in enumerate(self._rows) if len(row) != _LINE]

    @property
    def rows(self) -> Sequence[Row]:
        """Every row, shown or not (a live view: LogEntry and OutputLine are made as they are read)."""
        return _Rows(self)

    def _row(self, index: int) -> Row:
        row = self._rows[index]
        if len(row) == _LINE:
            owner, stream, text = cast(_Line, row)
            return OutputLine(self._entry_value(owner), stream, text)
        return LogEntry(*cast(_Entry, row), self._dropped + index)

    def _entry_value(self, number: int) -> LogEntry:
        return LogEntry(*self._entry(number), number)

    def _entry(self, number: int) -> _Entry:
        """The stored operation of a row number, in the rows or dropped from them."""
        index = number - self._dropped
        return cast(_Entry, self._rows[index]) if index >= 0 else self._gone[number]

    # -- adding --------------------------------------------------------------------------------
    def show(self, event: Event) -> LogEntry | None:
        """Add one pipeline event to the log; returns the entry of a finished operation."""
        if isinstance(event, OperationStarted):
            self._open_ops[event.op_id] = self._dropped + len(self._rows)
            self._add_entry((event.op_id, event.actor, event.tool, event.command[:KEEP], event.at, "running", None,
                             None, ""))
        elif isinstance(event, OutputChunk):
            owner = self._open_ops.get(event.op_id)
            if owner is not None:
                entry, stream = self._entry(owner), event.stream
                for line in strip_terminal_escapes(event.text).rstrip("\n").split("\n"):
                    self._add_line((owner, stream, line), entry)
        elif isinstance(event, OperationFinished):
            return self._finish(event)
        return None

    def _finish(self, event: OperationFinished) -> LogEntry:
        r = event.result
        number = self._open_ops.pop(r.op_id, None)
        if number is None:  # started before this log existed
            number = self._dropped + len(self._rows)  # (the newest row is never the one trimmed)
            self._add_entry((r.op_id, r.actor, r.tool, r.text[:KEEP], r.started_at, "running", None, None, ""))
        index = number - self._dropped
        old = self._rows[index] if index >= 0 else self._gone[number]
        op_id, actor, tool, command, at, status, _, exit_code, _ = cast(_Entry, old)
        new: _Entry = (op_id, actor, tool, command, at, r.status, r.duration,
                       exit_code if r.exec is None else r.exec.exit_code, r.message[:KEEP])
        if index >= 0:
            self._rows[index] = new  # the old tuple goes, and a new one may get its id(): the cache is by number
        else:
            self._gone[number] = new
        self._cache.discard((number, self._width))
        flt = self._filter
        if self._shown is not None and (flt._accepts(cast(_Entry, old)) != flt._accepts(new)
                                        or (status in flt.statuses) != (r.status in flt.statuses)):
            # The entry or its output lines (all after it; they match by its status) now match differently: filter
            # again from there.
            self._filter_from(max(0, index))
        self._schedule_resize()
        return LogEntry(*new, number)

    def _add_entry(self, entry: _Entry) -> None:
        self.entry_count += 1
        self._append(entry, self._shown is not None and self._filter._accepts(entry))

    def _add_line(self, line: _Line, entry: _Entry) -> None:
        self._append(line, self._shown is not None and self._filter._accepts(entry, line[2]))

    def _append(self, row: _Stored, shown: bool) -> None:
        rows = self._rows
        rows.append(row)
        if shown and self._shown is not None:
            self._shown.append(len(rows) - 1)
        if len(rows) > MAX_ROWS:
            self._drop_oldest(MAX_ROWS // 10)
        self._schedule_resize()

    def _drop_oldest(self, count: int) -> None:
        rows: list[Any] = self._rows
        count = min(count, len(rows))
        start, end = self._dropped, self._dropped + count
        gone = dict(self._gone)
        gone.update((start + i, rows[i]) for i in range(count) if len(rows[i]) != _LINE)
        del rows[:count]
        self._dropped = end
        # Keep the dropped operations that are still running or that output lines left in the log refer to.
        needed = set(self._open_ops.values())
        needed.update(row[0] for row in rows if len(row) == _LINE and row[0] < end)
        self._gone = {number: entry for number, entry in gone.items() if number in needed}
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
        # Running operations keep their numbers and stay known (their later output lines need them).
        self._gone = {number: self._entry(number) for number in self._open_ops.values()}
        self._dropped += len(self._rows)  # as if dropped
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
        self._shown = None if self._filter.empty else self._matching(0)

    def _filter_from(self, start: int) -> None:
        """Filter the rows from index ``start`` on again (those before it match as they did)."""
        shown = self._shown
        if shown is None:
            return
        del shown[bisect_left(shown, start):]
        shown.extend(self._matching(start))

    def _matching(self, start: int) -> list[int]:
        """The indices of the rows from ``start`` on that the filter lets through (LogFilter._accepts, inlined: this
        goes over every row when the filter changes)."""
        rows: list[Any] = self._rows  # (unchecked: a cast per row would cost a call)
        dropped, gone = self._dropped, self._gone
        flt = self._filter
        statuses, actors, tools, words = flt.statuses, flt.actors, flt.tools, flt.words
        shown: list[int] = []
        owner, entry_ok = -1, False  # the last output line's operation (an operation's lines mostly come together)
        entry: Any = None
        for i in range(start, len(rows)):
            row = rows[i]
            if len(row) == _LINE:
                if row[0] != owner:
                    owner = row[0]
                    entry = rows[owner - dropped] if owner >= dropped else gone[owner]
                    entry_ok = ((not statuses or entry[_STATUS] in statuses) and (not actors or entry[1] in actors)
                                and (not tools or entry[2] in tools))
                if entry_ok and (not words or _has_words(words, f"{entry[3]}\n{row[2]}")):
                    shown.append(i)
            elif ((not statuses or row[_STATUS] in statuses) and (not actors or row[1] in actors)
                  and (not tools or row[2] in tools)
                  and (not words or _has_words(words, f"{row[3]}\n{row[_MESSAGE]}"))):
                shown.append(i)
        return shown

    def visible_rows(self) -> list[Row]:
        """The rows the filter lets through, oldest first."""
        return [self._row(i) for i in (range(len(self._rows)) if self._shown is None else self._shown)]

    # -- drawing -----------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= self.row_count:
            return Strip.blank(width, self._base_style)
        at = index if self._shown is None else self._shown[index]
        self._width = width
        key = (self._dropped + at, width)  # row numbers are never used again: a tuple's id() would be
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(self._rows[at], width)
            self._cache[key] = strip
        return strip.apply_offsets(scroll_x, index)

    def _render_row(self, row: Any, width: int) -> Strip:  # a _Stored row (unchecked: no cast call per row)
        if len(row) == _LINE:
            _, stream, line = row
            base, text, rule = self._look("stderr" if stream == "stderr" else "stdout")
            return _fit([(" " * 9 + "│ ", rule), (line.expandtabs(4), text)], width, base)
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

    def _entry_pieces(self, entry: _Entry) -> list[tuple[str, Style]]:
        op_id, actor, _tool, command, at, status, duration, exit_code, message = entry
        badge, row_style, dim = self._look("blocked" if status in ("blocked", "denied") else status)
        took = "" if duration is None else f"{duration * 1000:,.0f} ms"
        tail = " ".join(part for part in (took, "" if exit_code is None else f"exit {exit_code}", f"#{op_id}") if part)
        pieces = [
            (f"{self.time_format(at)} ", dim),
            (f"{_LABELS.get(status, status.upper()):<7}", badge),
            (f" {_ACTORS.get(actor, actor):<3} ", row_style),
            (one_line(command), row_style),
            (f"  {tail}", dim),
        ]
        if message:
            pieces.append((f" — {one_line(message, 300)}", dim))
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
