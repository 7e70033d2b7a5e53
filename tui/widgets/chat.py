"""The chat pane: what the person typed and what each operation answered, as plain text."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from core.results import OperationResult
from tui.safe_text import typed, untrusted

_STATUS_STYLE = {"ok": "green", "error": "yellow", "failed": "red", "blocked": "bold red", "denied": "bold red"}
MAX_SHOWN_CHARS = 20_000


class ChatEntry(Static):
    """One message in the chat; built from plain strings only, so markup in them is inert."""

    DEFAULT_CSS = """
    ChatEntry { padding: 0 1; margin-bottom: 1; }
    ChatEntry.-user { color: $text-accent; }
    ChatEntry.-blocked, ChatEntry.-denied, ChatEntry.-failed { border-left: thick $error; }
    ChatEntry.-ok { border-left: thick $success; }
    ChatEntry.-error { border-left: thick $warning; }
    """


class ChatPane(Vertical):
    """Messages above, the prompt below; posts ``ChatPane.Submitted`` with the typed text."""

    DEFAULT_CSS = """
    ChatPane { border: round $primary; border-title-color: $text; }
    ChatPane:focus-within { border: round $accent; }
    ChatPane #messages { height: 1fr; }
    ChatPane #prompt { dock: bottom; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "clear", "Clear chat", id="chat.clear"),
    ]

    class Submitted(Message):
        """The person pressed Enter on a non-empty prompt."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="messages")
        yield Input(placeholder="read file:notes.txt  ·  write file:a.txt content:hi  ·  run code:print(1)",
                    id="prompt")

    def on_mount(self) -> None:
        self.border_title = "Chat"
        self.add_note("Type a command: read file:PATH, write file:PATH content:DATA, delete file:PATH, "
                      "list files:DIR, info file:PATH, run code:CODE (or run code[bash]:...).")

    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if not text.strip():
            return
        event.input.value = ""
        self.add_user(text)
        self.post_message(self.Submitted(text))

    def _append(self, entry: ChatEntry) -> None:
        messages = self.query_one("#messages", VerticalScroll)
        messages.mount(entry)
        messages.scroll_end(animate=False)

    def add_note(self, text: str) -> None:
        self._append(ChatEntry(Text(text, style="dim")))

    def add_user(self, text: str) -> None:
        self._append(ChatEntry(Text("> ").append_text(typed(text)), classes="-user"))

    def add_result(self, result: OperationResult) -> None:
        """Show an operation's outcome: status and message, risk findings, then the body."""
        body = Text()
        body.append(f"{result.status.upper()} ", style=_STATUS_STYLE[result.status])
        body.append_text(untrusted(result.message))
        for f in result.findings:
            body.append_text(untrusted(f"\nrisk [{f.severity}] {f.rule}: {f.message}", style="yellow"))
        if result.output:
            shown = result.output
            if len(shown) > MAX_SHOWN_CHARS:
                shown = shown[:MAX_SHOWN_CHARS] + f"\n[... {len(result.output) - MAX_SHOWN_CHARS:,} more characters]"
            body.append_text(untrusted("\n" + shown))
        self._append(ChatEntry(body, classes=f"-{result.status}"))

    def action_clear(self) -> None:
        self.query_one("#messages", VerticalScroll).remove_children()
