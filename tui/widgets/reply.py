"""The model's reply in the chat: Markdown streamed in, drawn safely and cheaply.

A reply is one widget that draws lines (the Line API), not a tree of block widgets: each Markdown block is
rendered once, when the block after it begins, and kept as lines; only the last, still growing block is
rendered again as text arrives. So a 5,000-token reply costs the same per update at its end as at its start,
and a long conversation does not make every later layout slower. Rendering is done in slices of a few
milliseconds per turn of the event loop, so keys are answered while a burst of text is drawn; just after a
key press (the app's ``input_hold``) slices wait, so the key's own screen update is not queued behind them.

Safety: the text has its terminal escapes removed before anything else; Rich's Markdown renders it without
reading markup, and with ``hyperlinks=False`` a link is shown as its text and address, never as a terminal
hyperlink or an action. Imported when the first reply arrives: the Markdown parser is not on the path to the
first frame.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from rich.markdown import Markdown
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from core.security.sanitize import strip_terminal_escapes

_PARSER = MarkdownIt().enable("strikethrough").enable("table")  # the same grammar as Rich's Markdown


def warm_up() -> None:
    """Make the lexer of Python code blocks (the usual language of a fence) ahead of the first reply: pygments
    compiles a lexer's rules the first time one is made, which takes tens of milliseconds."""
    Syntax("", "python").lexer  # noqa: B018 - made for its side effect


def split_blocks(source: str) -> tuple[list[str], str]:
    """(complete top-level blocks, the last block that may still grow) of Markdown source."""
    lines = source.splitlines(keepends=True)
    starts = [t.map[0] for t in _PARSER.parse(source) if t.level == 0 and t.nesting >= 0 and t.map is not None]
    if not starts:
        return [], source
    complete = ["".join(lines[a:b]) for a, b in zip(starts, starts[1:], strict=False)]
    return complete, "".join(lines[starts[-1]:])


class BlockMarkdown(Markdown):
    """Rich's Markdown of one block, parsed with the module's parser.

    Rich builds a new markdown-it parser for every Markdown (about half a millisecond, much of the cost of a short
    block). The other attributes are copied from a Markdown Rich made itself, so they stay whatever Rich sets.
    """

    _templates: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, markup: str, code_theme: str) -> None:
        template = self._templates.get(code_theme)
        if template is None:
            template = self._templates[code_theme] = vars(Markdown("", code_theme=code_theme, hyperlinks=False))
        self.__dict__.update(template)
        self.markup = markup
        self.parsed = _PARSER.parse(markup)


class MarkdownLines(Widget):
    """Markdown drawn as lines; :meth:`append` adds source text.

    Rendering is spread over turns of the event loop: a slice renders complete blocks, in order, for about
    ``SLICE_SECONDS`` (at least one block), and the next slice comes ``SLICE_GAP`` seconds later, so a burst of
    text or a new width never keeps the screen from answering keys for long. What slices render is
    shown (and the screen laid out again) at most every ``FRAME`` seconds while they catch up, and at once when
    they have. A block not yet rendered at the current width shows the lines it had before; the growing last
    block is rendered once every block before it is.
    """

    DEFAULT_CSS = "MarkdownLines { height: auto; }"
    SLICE_SECONDS = 0.01
    SLICE_GAP = 0.033  # two frames at 60 fps: a key's screen update always fits between two slices, and the slices
    # leave most of a core to the terminal that shows them
    FRAME = 0.3  # a backlog is shown in a few steps: each costs a layout of the screen
    MAX_HOLD = 0.3  # slices wait for key presses (see _hold_for_input) at most this long in a row

    def __init__(self) -> None:
        super().__init__()
        self.source = ""
        self._blocks: list[str] = []  # complete blocks, as source
        self._block_lines: list[list[Strip]] = []  # ... and as lines, as last rendered
        self._fresh = 0  # blocks before this one are rendered at _width
        self._tail = ""
        self._tail_lines: list[Strip] = []
        self._tail_fresh = True
        self._width = 0
        self._next_slice: Timer | None = None
        self._held_since: float | None = None  # slices have waited for key presses since then
        self._unshown = False  # slices rendered lines that are not shown yet
        self._shown_at = 0.0
        # what the screen shows: the lines of the complete blocks, then the last block's
        self._shown: list[Strip] = []
        self._shown_tail: list[Strip] = []

    def append(self, text: str) -> None:
        self.source += text
        complete, self._tail = split_blocks(self._tail + text)
        self._blocks.extend(complete)
        self._block_lines.extend([] for _ in complete)
        self._tail_fresh = False
        if self._next_slice is None:
            self._render_slice()

    @property
    def unrendered(self) -> int:
        """Complete blocks not yet rendered at the current width."""
        return len(self._blocks) - self._fresh

    @property
    def rendered(self) -> bool:
        """True when every line is drawn as it will stay (until more text or a new width)."""
        return bool(self._width) and self._fresh == len(self._blocks) and self._tail_fresh and not self._unshown

    def _render_slice(self, *, during_layout: bool = False) -> None:
        """Render the next slice of what is out of date, show it if it is time, schedule the next slice."""
        self._next_slice = None
        width = self._width
        if not width:
            return  # not laid out yet: get_content_height starts it
        if not during_layout and self._hold_for_input():
            return
        deadline = time.perf_counter() + self.SLICE_SECONDS
        style, theme = self.rich_style, "monokai" if self.app.current_theme.dark else "default"
        start = self._fresh
        while self._fresh < len(self._blocks) and (self._fresh == start or time.perf_counter() < deadline):
            block = self._blocks[self._fresh]
            self._block_lines[self._fresh] = self._render_block(block, width, style, theme)
            self._fresh += 1
        self._unshown = self._unshown or self._fresh > start
        caught_up = self._fresh == len(self._blocks)
        if caught_up and not self._tail_fresh and (self._fresh == start or time.perf_counter() < deadline):
            self._tail_lines = self._render_block(self._tail, width, style, theme)
            self._tail_fresh = self._unshown = True
        caught_up = caught_up and self._tail_fresh
        if not caught_up:
            self._next_slice = self.set_timer(self.SLICE_GAP, self._render_slice)
        if self._unshown and (during_layout or caught_up or time.monotonic() - self._shown_at >= self.FRAME):
            self._show(refresh=not during_layout)

    def _hold_for_input(self) -> bool:
        """Put the slice off while the app answers a key press (its ``input_hold``): the key's frame comes first.
        However fast the person types, the reply is drawn at least every ``MAX_HOLD`` seconds."""
        input_hold = getattr(self.app, "input_hold", None)
        hold = input_hold() if input_hold is not None else 0.0
        now = time.monotonic()
        if not hold:
            self._held_since = None
            return False
        if self._held_since is None:
            self._held_since = now
        elif now - self._held_since >= self.MAX_HOLD:
            self._held_since = None
            return False
        self._next_slice = self.set_timer(hold, self._render_slice)
        return True

    def _show(self, *, refresh: bool) -> None:
        """Put what slices rendered on the screen.

        Until then layouts keep the old height: a height that changed with every slice would lay the screen out
        again on every frame, which costs as much as the rendering itself.
        """
        self._shown = [line for lines in self._block_lines for line in lines]
        self._shown_tail = self._tail_lines
        self._unshown = False
        self._shown_at = time.monotonic()
        if refresh:
            self.refresh(layout=True)

    def _render_block(self, block: str, width: int, style: Style, theme: str) -> list[Strip]:
        if not block.strip():
            return []
        console = self.app.console
        options = console.options.update_width(width)
        markdown = BlockMarkdown(block, theme)
        lines = [Strip(line, width) for line in console.render_lines(markdown, options, style=style)]
        while lines and not lines[-1].text.strip():
            lines.pop()  # one blank line between blocks, however the block ended
        return [*lines, Strip.blank(width, style)]

    def _render_again(self, width: int, *, during_layout: bool = False) -> None:
        """Everything is to be rendered at ``width`` (until then the old lines stay on screen)."""
        self._width, self._fresh, self._tail_fresh = width, 0, False
        if self._next_slice is None:
            self._render_slice(during_layout=during_layout)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._render_again(width, during_layout=True)
        return max(0, len(self._shown) + len(self._shown_tail) - 1)  # no blank line after the last block

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:
            self._render_again(width, during_layout=True)
        done = self._shown
        if y < len(done):
            return done[y]
        if y - len(done) < len(self._shown_tail):
            return self._shown_tail[y - len(done)]
        return Strip.blank(width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._width:  # colours changed (a theme switch): render again
            self._render_again(self._width)


class AssistantReply(Vertical):
    """The model's reply, streamed in as Markdown.

    Pieces are gathered and drawn at most every ``FRAME`` seconds: a fast model sends hundreds a second, and
    the person should see smooth text and get answers to their keys, not a redraw per piece.
    """

    DEFAULT_CSS = """
    AssistantReply { height: auto; margin-bottom: 1; padding: 0 1; border-left: thick $secondary; }
    AssistantReply.-cancelled, AssistantReply.-incomplete { border-left: thick $warning; }
    """
    FRAME = 0.15

    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.status = "complete"
        self._pending: list[str] = []
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield MarkdownLines()

    @property
    def lines(self) -> MarkdownLines:
        return self.query_one(MarkdownLines)

    async def append(self, fragment: str) -> None:
        clean = strip_terminal_escapes(fragment)  # the model's text is not trusted to drive the terminal
        if not clean:
            return
        self.text += clean
        self._pending.append(clean)
        if self._timer is None:
            self._timer = self.set_timer(self.FRAME, self._draw)

    def _draw(self) -> None:
        self._timer = None
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self.lines.append(text)

    async def finish(self, status: str = "complete") -> None:
        """The reply is over: draw what is left; mark it when it did not complete."""
        if self._timer is not None:
            self._timer.stop()
        self._draw()
        if status != "complete" and self.status == "complete":
            self.status = status
            self.add_class(f"-{status}")
            await self.mount(Static(Text(f"({status})", style="dim italic")))

    def plain(self) -> str:
        return self.text + (f"\n({self.status})" if self.status != "complete" else "")
