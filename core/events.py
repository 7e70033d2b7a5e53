"""What the pipeline tells its listeners, as frozen dataclasses: core knows nothing of who listens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from core.results import OperationResult

Actor = Literal["user", "assistant", "app"]


@dataclass(frozen=True)
class OperationStarted:
    """An operation passed parsing and is about to be validated and run."""

    op_id: int
    actor: Actor
    command: str  # canonical command text, or the raw input when it did not parse
    tool: str
    at: float  # time.time()


@dataclass(frozen=True)
class OutputChunk:
    """Output of a running program, already cleaned of terminal escape sequences."""

    op_id: int
    stream: Literal["stdout", "stderr"]
    text: str


@dataclass(frozen=True)
class OperationFinished:
    """Every operation ends with exactly one of these (or one of its subclasses below)."""

    result: OperationResult


@dataclass(frozen=True)
class OperationBlocked(OperationFinished):
    """Refused by validation (or, later, the policy) before reaching the sandbox: a security event."""


@dataclass(frozen=True)
class OperationFailed(OperationFinished):
    """The sandbox could not do it: not found, unavailable, I/O error."""


Event = OperationStarted | OutputChunk | OperationFinished
Listener = Callable[[Event], None]
