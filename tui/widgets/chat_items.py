"""What the chat shows: the person's messages, notes, tool-call cards and offered commands.

Every piece is built from plain strings (``tui.safe_text``): markup and terminal escapes in sandbox output,
file content or the model's text have no effect. The model's replies are in ``tui.widgets.reply``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Collapsible, Static

from core.results import OperationResult
from tui.safe_text import one_line, typed, untrusted

if TYPE_CHECKING:
    from core.assistant.suggest import Suggestion

MAX_SHOWN_CHARS = 20_000

#: status -> what the card says; the card's CSS class is "-" + status
CARD_LABELS: dict[str, str] = {
    "waiting": "waiting for approval", "running": "running", "ok": "done", "error": "failed", "failed": "failed",
    "blocked": "blocked", "denied": "denied", "cancelled": "cancelled", "rejected": "rejected",
}
_ICONS = {"waiting": "?", "running": "…", "ok": "✓", "error": "✗", "failed": "✗", "blocked": "⛔",
          "denied": "⛔", "cancelled": "■", "rejected": "✗"}


class ChatItem(Static):
    """One plain piece of the chat."""

    DEFAULT_CSS = """
    ChatItem { padding: 0 1; margin-bottom: 1; }
    ChatItem.-user { color: $text-accent; }
    ChatItem.-note { color: $text-muted; }
    ChatItem.-error { border-left: thick $error; color: $text-error; }
    """

    def plain(self) -> str:
        content = self.visual
        return str(content) if content is not None else ""


def user_item(text: str) -> ChatItem:
    return ChatItem(Text("> ").append_text(typed(text)), classes="-user")


def note_item(text: str) -> ChatItem:
    return ChatItem(untrusted(text), classes="-note")


def error_item(message: str, hint: str = "") -> ChatItem:
    body = untrusted(message)
    if hint:
        body.append_text(untrusted("\n" + hint, style="dim"))
    return ChatItem(body, classes="-error")


class ToolCallCard(Vertical):
    """A command on its way through the pipeline: what, who, status, duration and a collapsible result."""

    DEFAULT_CSS = """
    ToolCallCard { height: auto; margin-bottom: 1; padding: 0 1; border-left: thick $accent; }
    ToolCallCard.-ok { border-left: thick $success; }
    ToolCallCard.-error, ToolCallCard.-cancelled, ToolCallCard.-rejected { border-left: thick $warning; }
    ToolCallCard.-failed, ToolCallCard.-blocked, ToolCallCard.-denied { border-left: thick $error; }
    ToolCallCard.-waiting { border-left: thick $warning; background: $warning 10%; }
    ToolCallCard > Collapsible { padding: 0; margin: 0; border: none; background: transparent; }
    ToolCallCard > Collapsible > Contents { padding: 0 0 0 2; }
    ToolCallCard .card-body { color: $text; }
    """

    def __init__(self, command_text: str, *, actor: str, call_id: str = "", expanded: bool = False) -> None:
        super().__init__(classes="-running")
        self.command_text = command_text
        self.actor = actor
        self.call_id = call_id
        self.status = "running"
        self.duration: float | None = None
        self.message = ""
        self.output = ""
        self._message_text = Text("")
        self._expanded = expanded
        self._composed = False

    def compose(self) -> ComposeResult:
        yield Static(classes="card-head")
        yield Static(classes="card-message")
        with Collapsible(title="result", collapsed=not self._expanded):
            yield Static(classes="card-body")

    def on_mount(self) -> None:
        self._composed = True
        self._show()

    def _show(self) -> None:
        """Draw the card from its state (it may change before the card is even mounted)."""
        if not self._composed:
            return
        self.query_one(".card-head", Static).update(self._head())
        self.query_one(".card-message", Static).update(self._message_text)
        collapsible = self.query_one(Collapsible)
        collapsible.display = bool(self.output)
        if self.output:
            shown = self.output
            if len(shown) > MAX_SHOWN_CHARS:
                shown = shown[:MAX_SHOWN_CHARS] + f"\n[... {len(self.output) - MAX_SHOWN_CHARS:,} more characters]"
            lines = self.output.count("\n") + 1
            collapsible.title = f"result: {lines:,} line{'s' if lines != 1 else ''}"
            self.query_one(".card-body", Static).update(untrusted(shown))

    def _head(self) -> Text:
        label = CARD_LABELS.get(self.status, self.status)
        head = Text()
        head.append(f"{_ICONS.get(self.status, '•')} ", style="bold")
        head.append(f"{self.actor}: ", style="dim")
        head.append_text(typed(one_line(self.command_text, 300)))
        head.append(f"  [{label}]", style=_rich_style(self.status))
        if self.duration is not None:
            head.append(f" {self.duration * 1000:,.0f} ms", style="dim")
        return head

    def set_status(self, status: str) -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        self._show()

    def finish(self, result: OperationResult) -> None:
        """Show how the operation ended and its output."""
        self.duration = result.duration
        self.message = result.message
        self._message_text = untrusted(result.message, style="dim" if result.ok else "")
        for f in result.findings:
            self._message_text.append_text(untrusted(f"\nrisk [{f.severity}] {f.rule}: {f.message}", style="yellow"))
        self.output = result.output
        self.set_status(result.status)

    def end_without_result(self, status: str, why: str) -> None:
        self.message = why
        self._message_text = untrusted(why, style="dim")
        self.set_status(status)

    def plain(self) -> str:
        """The card as drawn, in plain text."""
        parts = (self._head().plain, self._message_text.plain, untrusted(self.output).plain)
        return "\n".join(part for part in parts if part)


def _rich_style(status: str) -> str:
    return {"ok": "green", "running": "cyan", "waiting": "bold yellow", "error": "yellow", "cancelled": "yellow",
            "rejected": "yellow"}.get(status, "bold red")


class SuggestionBar(Static):
    """Commands offered to the person, each run with one key (alt+1 ... alt+9)."""

    DEFAULT_CSS = """
    SuggestionBar { height: auto; max-height: 9; padding: 0 1; background: $boost; display: none; }
    SuggestionBar.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.suggestions: tuple[Suggestion, ...] = ()

    def offer(self, suggestions: Sequence[Suggestion]) -> None:
        self.suggestions = tuple(suggestions[:9])
        text = Text()
        for n, s in enumerate(self.suggestions, 1):
            if n > 1:
                text.append("\n")
            text.append(f"alt+{n} ", style="bold reverse")
            text.append(" ")
            text.append_text(typed(one_line(s.text, 120)))
            text.append(f"  — {s.why}", style="dim")
        self.update(text)
        self.set_class(bool(self.suggestions), "-shown")
