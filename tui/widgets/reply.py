"""The model's reply in the chat: Markdown streamed in, drawn safely and cheaply.

A reply is one widget that draws lines (the Line API), not a tree of block widgets: each Markdown block is
rendered once, when the block after it begins, and kept as lines; only the last, still growing block is
rendered again as text arrives. So a 5,000-token reply costs the same per update at its end as at its start,
and a long conversation does not make every later layout slower.

Safety: the text has its terminal escapes removed before anything else; Rich's Markdown renders it without
reading markup, and with ``hyperlinks=False`` a link is shown as its text and address, never as a terminal
hyperlink or an action. Imported when the first reply arrives: the Markdown parser is not on the path to the
first frame.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from rich.markdown import Markdown
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


def split_blocks(source: str) -> tuple[list[str], str]:
    """(complete top-level blocks, the last block that may still grow) of Markdown source."""
    lines = source.splitlines(keepends=True)
    starts = [t.map[0] for t in _PARSER.parse(source) if t.level == 0 and t.nesting >= 0 and t.map is not None]
    if not starts:
        return [], source
    complete = ["".join(lines[a:b]) for a, b in zip(starts, starts[1:], strict=False)]
    return complete, "".join(lines[starts[-1]:])


class MarkdownLines(Widget):
    """Markdown drawn as lines; :meth:`append` adds source text."""

    DEFAULT_CSS = "MarkdownLines { height: auto; }"

    def __init__(self) -> None:
        super().__init__()
        self.source = ""
        self._done: list[str] = []  # complete blocks, as source
        self._done_lines: list[Strip] = []  # ... and as lines, at _width
        self._tail = ""
        self._tail_lines: list[Strip] = []
        self._width = 0

    def append(self, text: str) -> None:
        self.source += text
        complete, self._tail = split_blocks(self._tail + text)
        self._done.extend(complete)
        if self._width:
            for block in complete:
                self._done_lines.extend(self._render_block(block, self._width))
            self._tail_lines = self._render_block(self._tail, self._width)
        self.refresh(layout=True)

    def _render_block(self, block: str, width: int) -> list[Strip]:
        if not block.strip():
            return []
        console = self.app.console
        options = console.options.update_width(width)
        theme = "monokai" if self.app.current_theme.dark else "default"
        markdown = Markdown(block, code_theme=theme, hyperlinks=False)
        lines = [Strip(line, width) for line in console.render_lines(markdown, options, style=self.rich_style)]
        while lines and not lines[-1].text.strip():
            lines.pop()  # one blank line between blocks, however the block ended
        return [*lines, Strip.blank(width, self.rich_style)]

    def _rerender(self, width: int) -> None:
        self._width = width
        self._done_lines = [line for block in self._done for line in self._render_block(block, width)]
        self._tail_lines = self._render_block(self._tail, width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._rerender(width)
        return max(0, len(self._done_lines) + len(self._tail_lines) - 1)  # no blank line after the last block

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:
            self._rerender(width)
        done = len(self._done_lines)
        if y < done:
            return self._done_lines[y]
        if y - done < len(self._tail_lines):
            return self._tail_lines[y - done]
        return Strip.blank(width, self.rich_style)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._width = 0  # colours changed (a theme switch): render again


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
