"""One user turn: what it did (the result handed back) and the state the loop keeps while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.assistant.errors import AssistantError
from core.assistant.events import TurnStatus
from core.assistant.messages import ToolCallRequest
from core.assistant.reply import ReplyBuilder
from core.results import OperationResult


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of a turn and how it ended.

    ``status`` is the operation's (ok, error, failed, blocked, denied), or ``invalid`` when the arguments
    could not become a command, or ``cancelled``. ``command_text`` is empty for invalid calls.
    """

    call_id: str
    tool: str
    arguments: str
    command_text: str
    status: str
    message: str
    result: OperationResult | None = None


@dataclass(frozen=True)
class TurnResult:
    """What :meth:`Assistant.send` hands back once the turn is over."""

    reply: str  # all reply text of the turn, the replies of successive steps separated by a blank line
    status: TurnStatus
    steps: int
    tool_calls: tuple[ToolCallRecord, ...]
    error: AssistantError | None
    conversation_id: int | None

    @property
    def incomplete(self) -> bool:
        """True unless the model finished its reply."""
        return self.status != "complete"


@dataclass
class Turn:
    """The loop's working state for one turn."""

    step: int = 0
    texts: list[str] = field(default_factory=list)
    records: list[ToolCallRecord] = field(default_factory=list)
    builder: ReplyBuilder | None = None  # the reply being streamed
    stream_row: int | None = None  # its history row, once text has arrived
    pending: list[ToolCallRequest] = field(default_factory=list)  # calls of the last reply not yet answered
    running_command: str = ""  # the command text of pending[0] while it runs
    error: AssistantError | None = None
    cancelled: bool = False

    @property
    def reply(self) -> str:
        """All reply text of the turn so far."""
        return "\n\n".join(t for t in self.texts if t)

    @property
    def did_something(self) -> bool:
        """True once the turn has shown text or made a tool call (an error then leaves it incomplete)."""
        return bool(self.reply or self.records)

    def status(self) -> TurnStatus:
        """How the turn ended (see TurnStatus)."""
        if self.cancelled:
            return "cancelled"
        if self.error is None:
            return "complete"
        return "incomplete" if self.did_something else "failed"

    def result(self, conversation_id: int | None) -> TurnResult:
        """The turn's frozen result."""
        return TurnResult(self.reply, self.status(), self.step, tuple(self.records), self.error, conversation_id)
