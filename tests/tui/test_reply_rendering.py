"""A long reply is rendered in slices: keys are answered meanwhile, and the end result is the same as at once."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from textual import events
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Input

from bench.tui_stream import reply_tokens
from tests.tui.helpers import wait_until
from tui.widgets.reply import AssistantReply, BlockMarkdown, MarkdownLines, split_blocks

LONG = "".join(reply_tokens(6000))  # ~36,000 characters: paragraphs, lists and code blocks


class ReplyHost(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.typed = asyncio.Event()

    def on_input_changed(self) -> None:
        self.typed.set()

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield AssistantReply()
        yield Input(id="typed")

    @property
    def reply(self) -> AssistantReply:
        return self.query_one(AssistantReply)


def drawn(lines: MarkdownLines) -> list[str]:
    return [lines.render_line(y).text for y in range(lines.size.height)]


async def rendered(pilot: Pilot[Any], lines: MarkdownLines) -> None:
    await wait_until(pilot, lambda: lines.rendered, "the reply to be rendered")
    await pilot.pause()


async def test_a_key_is_answered_while_a_long_reply_is_rendered() -> None:
    app = ReplyHost()
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one(Input).focus()
        await pilot.pause()
        lines = app.reply.lines
        lines.append(LONG)  # as a burst of text arrives when the screen has fallen behind a fast model
        assert not lines.rendered  # one slice now, the rest later
        app.post_message(events.Key("x", "x"))
        await asyncio.wait_for(app.typed.wait(), 10)
        assert not lines.rendered  # the key was answered between slices, not after the whole reply
        await rendered(pilot, lines)
        assert app.query_one(Input).value == "x"


class TypingHost(ReplyHost):
    """An app whose person keeps typing: it always asks work that can wait to hold off (see SandchatApp)."""

    typing = False

    def input_hold(self) -> float:
        return 0.05 if self.typing else 0.0


async def test_slices_wait_while_keys_are_answered_but_the_reply_is_still_drawn() -> None:
    app = TypingHost()
    async with app.run_test(size=(100, 30)) as pilot:
        lines = app.reply.lines
        await wait_until(pilot, lambda: lines.size.width > 0, "the reply to be laid out")
        lines.append(LONG[:4000])
        assert 0 < lines.unrendered < len(split_blocks(LONG[:4000])[0])  # the first slice at once
        await rendered(pilot, lines)
        app.typing = True
        lines.append(LONG[4000:])
        blocks = lines.unrendered
        assert blocks > 10  # held: no slice while a key press is answered
        await pilot.pause()
        assert lines.unrendered == blocks
        await rendered(pilot, lines)  # and yet drawn: a slice at least every MAX_HOLD however fast the typing
        assert lines.source == LONG and len(drawn(lines)) > 500


async def test_sliced_rendering_ends_as_rendering_at_once() -> None:
    app = ReplyHost()
    async with app.run_test(size=(100, 30)) as pilot:
        lines = app.reply.lines
        for start in range(0, len(LONG), 997):  # pieces that cut blocks anywhere
            lines.append(LONG[start : start + 997])
        await rendered(pilot, lines)
        other = AssistantReply()
        await app.query_one(VerticalScroll).mount(other)
        whole = other.lines
        whole.SLICE_SECONDS = 60.0  # everything in one slice
        whole.append(LONG)
        await rendered(pilot, whole)
        await rendered(pilot, lines)  # again if the second reply brought the scroll bar (a new width)
        sliced = drawn(lines)
        assert lines.size.width == whole.size.width
        assert sliced == drawn(whole) and len(sliced) > 500
        assert "print(11)" in "\n".join(sliced) and "```" not in "\n".join(sliced)


async def test_a_new_width_renders_everything_again() -> None:
    app = ReplyHost()
    async with app.run_test(size=(100, 30)) as pilot:
        lines = app.reply.lines
        lines.append(LONG[:8000])
        await rendered(pilot, lines)
        before = len(drawn(lines))
        await pilot.resize_terminal(60, 30)
        await rendered(pilot, lines)
        after = drawn(lines)
        assert len(after) > before  # narrower: more lines
        assert all(len(line.rstrip()) <= lines.size.width for line in after)


def test_block_markdown_renders_as_richs_markdown() -> None:
    source = ("# Title\n\nSome *text* and `code`, a [link](https://example.com).\n\n- a\n- b\n  1. c\n\n"
              "> quoted\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n```python\nprint('hi')\n```\n\n---\n")
    console = Console(width=70, color_system="truecolor", file=io.StringIO())
    options = console.options.update_width(70)
    for theme in ("monokai", "default"):
        ours = console.render_lines(BlockMarkdown(source, theme), options)
        richs = console.render_lines(Markdown(source, code_theme=theme, hyperlinks=False), options)
        assert ours == richs


async def test_a_scroll_bar_that_comes_does_not_narrow_the_reply_in_the_chat() -> None:
    """The chat keeps room for its scroll bar: a reply that grows past the screen is not rendered again, whole,
    at a narrower width in the middle of streaming."""
    from core.operations import SecureOperations
    from tests.tui.fakes import FixedBackend
    from tui.app import SandchatApp

    app = SandchatApp(SecureOperations(FixedBackend()))
    async with app.run_test(size=(120, 40)) as pilot:
        chat = app.main.chat
        await chat.reply_delta("A short start.\n\n")
        lines = chat.query_one(AssistantReply).lines
        await wait_until(pilot, lambda: lines.rendered and lines.size.width > 0, "the start to be drawn")
        width = lines.size.width
        renders: list[int] = []
        original = lines._render_again

        def watched(new_width: int, *, during_layout: bool = False) -> None:
            renders.append(new_width)
            original(new_width, during_layout=during_layout)

        lines._render_again = watched  # type: ignore[method-assign,assignment]
        await chat.reply_delta("\n\n".join(f"Paragraph {n} of a long answer." for n in range(120)))
        await wait_until(pilot, lambda: lines.rendered and len(lines.source) > 3000, "the long reply to be drawn")
        await pilot.pause(0.3)
        messages = chat.query_one("#messages", VerticalScroll)
        assert messages.max_scroll_y > 0  # it did grow past the screen
        assert lines.size.width == width and renders == []
