"""The chat pane: the conversation above, offered commands and the prompt below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from core.assistant.events import ReplyFinished
from core.assistant.messages import ChatMessage
from core.results import OperationResult
from tui.safe_text import typed
from tui.widgets.chat_items import (
    SuggestionBar,
    ToolCallCard,
    error_item,
    note_item,
    user_item,
)
from tui.widgets.prompt import Lister, PromptArea

if TYPE_CHECKING:
    from core.assistant.suggest import Suggestion
    from tui.widgets.reply import AssistantReply

_TOOL_STATUS = {"invalid": "rejected"}  # statuses of saved tool messages that cards name differently
PLACEHOLDER = "Ask the assistant, or type a command: read file:PATH · write file:PATH content:TEXT · run code:CODE"


class ChatPane(Vertical):
    """Messages, tool-call cards and replies; the prompt posts ``PromptArea.Submitted``."""

    DEFAULT_CSS = """
    ChatPane { border: round $primary; border-title-color: $text; }
    ChatPane:focus-within { border: round $accent; }
    ChatPane > #messages { height: 1fr; scrollbar-gutter: stable; }  /* a scroll bar that comes does not narrow
    the reply (which would render it all again, mid-stream) */
    ChatPane > #completions { height: auto; max-height: 4; padding: 0 1; color: $text-muted; display: none; }
    ChatPane > #completions.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "clear", "Clear chat", id="chat.clear", show=False),
    ]

    def __init__(self, lister: Lister | None = None, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._lister = lister
        self._reply: AssistantReply | None = None
        self._cards: dict[str, ToolCallCard] = {}

    def compose(self) -> ComposeResult:
        yield VerticalScroll(id="messages")
        yield SuggestionBar(id="suggestions")
        yield Static(id="completions")
        prompt = PromptArea(self._lister, id="prompt")
        prompt.placeholder = PLACEHOLDER
        yield prompt

    def on_mount(self) -> None:
        self.border_title = "Chat"
        self.query_one("#messages", VerticalScroll).anchor()

    @property
    def prompt(self) -> PromptArea:
        return self.query_one(PromptArea)

    @property
    def suggestions(self) -> tuple[Suggestion, ...]:
        return self.query_one(SuggestionBar).suggestions

    def _append(self, widget: Widget) -> None:
        self.query_one("#messages", VerticalScroll).mount(widget)

    # -- plain items -------------------------------------------------------------------------------
    def add_user(self, text: str) -> None:
        self._reply = None
        self._append(user_item(text))

    def add_note(self, text: str) -> None:
        self._append(note_item(text))

    def add_error(self, message: str, hint: str = "") -> None:
        self._append(error_item(message, hint))

    def offer(self, suggestions: Sequence[Suggestion]) -> None:
        """Offer commands to run with one key (an empty list takes the offer away)."""
        self.query_one(SuggestionBar).offer(suggestions)

    @on(PromptArea.CompletionsShown)
    def _completions(self, message: PromptArea.CompletionsShown) -> None:
        shown = self.query_one("#completions", Static)
        shown.update(typed("  ".join(message.candidates)) if message.candidates else Text(""))
        shown.set_class(bool(message.candidates), "-shown")

    # -- cards ---------------------------------------------------------------------------------------
    def add_card(self, command_text: str, *, actor: str, call_id: str = "", expanded: bool = False) -> ToolCallCard:
        """A card for a command about to run; ``call_id`` finds it again for the assistant's events."""
        card = ToolCallCard(command_text, actor=actor, call_id=call_id, expanded=expanded)
        if call_id:
            self._cards[call_id] = card
            self._reply = None  # the model's next words go below the card
        self._append(card)
        return card

    def card(self, call_id: str) -> ToolCallCard | None:
        return self._cards.get(call_id)

    def finish_card(self, call_id: str, result: OperationResult) -> None:
        card = self._cards.pop(call_id, None)
        if card is not None:
            card.finish(result)

    def end_card(self, call_id: str, status: str, why: str, command_text: str = "", actor: str = "assistant") -> None:
        """A call that ended without a result (cancelled, rejected); a card is made if it never started."""
        card = self._cards.pop(call_id, None) or self.add_card(command_text or "(no command)", actor=actor)
        card.end_without_result(status, why)

    def mark_waiting(self, command_text: str, waiting: bool) -> None:
        """The running card of this command waits for approval (or no longer does)."""
        for card in reversed(list(self.query(ToolCallCard))):
            if card.command_text == command_text and card.status in ("running", "waiting"):
                card.set_status("waiting" if waiting else "running")
                return

    # -- the model's replies ----------------------------------------------------------------------------
    async def reply_delta(self, text: str) -> None:
        if self._reply is None:
            from tui.widgets.reply import AssistantReply

            self._reply = AssistantReply()
            await self.query_one("#messages", VerticalScroll).mount(self._reply)
        await self._reply.append(text)

    async def reply_finished(self, event: ReplyFinished) -> None:
        reply, self._reply = self._reply, None
        if reply is not None:
            await reply.finish(event.status)
        elif event.status == "cancelled":
            self.add_note("(cancelled)")

    async def end_reply_stream(self) -> None:
        """Draw what is left of the current reply (before a tool call's card goes below it)."""
        if self._reply is not None:
            await self._reply.finish()

    async def show_conversation(self, messages: Sequence[ChatMessage]) -> None:
        """Show a saved conversation again (resumed from the history)."""
        self.action_clear()
        for message in messages:
            if message.role == "user":
                self.add_user(message.content)
            elif message.role == "assistant" and message.content:
                await self.reply_delta(message.content)
                await self.reply_finished(ReplyFinished(message.content, message.status, 1))
            elif message.role == "tool":
                card = self.add_card(message.command or message.tool_name, actor="assistant")
                card.end_without_result(_TOOL_STATUS.get(message.tool_status, "failed"),
                                        message.content.partition("\n")[0])

    # -- reading it back -------------------------------------------------------------------------------
    def transcript(self) -> str:
        """Everything in the chat as plain text, top to bottom."""
        parts: list[str] = []
        for child in self.query_one("#messages", VerticalScroll).children:
            plain = getattr(child, "plain", None)
            if callable(plain):
                parts.append(str(plain()))
        return "\n".join(parts)

    def action_clear(self) -> None:
        self._reply = None
        self._cards.clear()
        self.query_one("#messages", VerticalScroll).remove_children()
