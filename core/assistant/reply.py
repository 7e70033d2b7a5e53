"""Assembling one streamed model reply: its text and its tool calls, whose arguments arrive in pieces."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from core.assistant.client import StreamChunk, ToolCallDelta
from core.assistant.messages import ToolCallRequest


@dataclass
class _PartialCall:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)


@dataclass
class ReplyBuilder:
    """Collects chunks; ``text`` so far is what a broken or cancelled reply keeps."""

    parts: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    started: float = field(default_factory=time.time)  # when the reply was asked for: the message's time
    _calls: list[_PartialCall] = field(default_factory=list)
    _by_index: dict[int, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The reply text so far."""
        return "".join(self.parts)

    @property
    def has_tool_calls(self) -> bool:
        """True once any tool call has begun to arrive."""
        return bool(self._calls)

    def add(self, chunk: StreamChunk) -> str:
        """Take one chunk; returns its text (may be empty)."""
        if chunk.text:
            self.parts.append(chunk.text)
        for delta in chunk.tool_calls:
            self._add_call(delta)
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        return chunk.text

    def _add_call(self, delta: ToolCallDelta) -> None:
        index = delta.index if delta.index is not None else len(self._calls) - (0 if delta.id else 1)
        slot = self._by_index.get(index)
        current = self._calls[slot] if slot is not None else None
        # Some servers number every call 0 and tell them apart only by id: a new id is a new call.
        if current is None or (delta.id and current.id and delta.id != current.id):
            current = _PartialCall(delta.id, delta.name)
            self._calls.append(current)
            self._by_index[index] = len(self._calls) - 1
        current.id = current.id or delta.id
        current.name = current.name or delta.name
        if delta.arguments:
            current.arguments.append(delta.arguments)

    def tool_calls(self) -> tuple[ToolCallRequest, ...]:
        """The finished calls, in the order the model made them; missing ids are made up (and unique)."""
        return tuple(
            ToolCallRequest(call.id or f"call_{n}", call.name, "".join(call.arguments))
            for n, call in enumerate(self._calls)
        )
