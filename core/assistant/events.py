"""What the assistant tells its listeners during a turn, as frozen dataclasses (core knows nothing of who listens).

Every turn ends with exactly one :class:`ReplyFinished`; when something went wrong a :class:`TurnError` comes
just before it. Tool calls are announced with :class:`ToolCallStarted` (the canonical command text, which is what
the user sees) and end with :class:`ToolCallFinished`, :class:`ToolCallRejected` (invalid arguments: answered to
the model as a tool error, never run) or :class:`ToolCallCancelled`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from core.results import OperationResult

#: complete: the model finished; incomplete: cut off (broken stream, step limit, length, an error after some
#: work); cancelled: stopped by the user; failed: nothing came back (bad key, unknown model, not configured ...).
TurnStatus = Literal["complete", "incomplete", "cancelled", "failed"]


@dataclass(frozen=True)
class ReplyDelta:
    """The next piece of the model's reply text; ``step`` counts model replies within the turn, from 1."""

    text: str
    step: int


@dataclass(frozen=True)
class ToolCallStarted:
    """A valid tool call is about to go through the pipeline as ``command_text``."""

    call_id: str
    tool: str
    command_text: str


@dataclass(frozen=True)
class ToolCallFinished:
    """The pipeline's result of a tool call (denied and blocked included)."""

    call_id: str
    result: OperationResult


@dataclass(frozen=True)
class ToolCallRejected:
    """A tool call with an unknown tool or unusable arguments; the model was told ``problem``."""

    call_id: str
    tool: str
    arguments: str
    problem: str


@dataclass(frozen=True)
class ToolCallCancelled:
    """A tool call stopped (or never started) because the turn was cancelled."""

    call_id: str
    tool: str
    command_text: str


@dataclass(frozen=True)
class RetryCountdown:
    """Waiting before trying the model again (rate limit, busy server); sent once a second while it counts down."""

    reason: str
    seconds_left: int
    attempt: int  # the retry about to be made, from 1
    max_attempts: int


@dataclass(frozen=True)
class TurnError:
    """Something the user can act on; ``retryable`` turns can be repeated with ``Assistant.retry()``."""

    kind: str
    message: str
    hint: str
    retryable: bool


@dataclass(frozen=True)
class ReplyFinished:
    """The turn is over: all reply text of the turn, how it ended and how many model replies it took."""

    reply: str
    status: TurnStatus
    steps: int


AssistantEvent = (
    ReplyDelta
    | ToolCallStarted
    | ToolCallFinished
    | ToolCallRejected
    | ToolCallCancelled
    | RetryCountdown
    | TurnError
    | ReplyFinished
)
AssistantListener = Callable[[AssistantEvent], None]
