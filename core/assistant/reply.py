"""Assembling one streamed model reply: its text and its tool calls, whose arguments arrive in pieces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from core.assistant.client import Chunks, StreamChunk, ToolCallDelta
from core.assistant.messages import ToolCallRequest

#: Seconds of chunk handling after which the event loop gets a turn. A fast server's reply is already buffered,
#: so reading the next chunk may complete without suspending: without this the loop could run through a whole
#: reply while the screen neither draws nor answers a key.
SLICE = 0.004
#: Seconds reply text may be held before it is saved and shown (see HeldText).
HOLD = 0.05


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


class HeldText:
    """Reply text held for at most ``hold`` seconds, then handed to ``deliver`` in one piece.

    A fast model sends hundreds of tokens a second, and each piece handed on is a history commit and an event:
    held together they cost a few commits a second instead. The hold is checked as pieces arrive and, when the
    stream pauses, by a timer on the event loop, so no text waits longer than ``hold`` to be shown.
    """

    def __init__(self, deliver: Callable[[str], None], hold: float) -> None:
        self._deliver = deliver
        self.hold = hold
        self._parts: list[str] = []
        self._since = 0.0  # when the oldest held piece arrived
        self._timer: asyncio.TimerHandle | None = None
        self._failure: BaseException | None = None  # raised by deliver in the timer, re-raised to the reader

    def add(self, text: str) -> None:
        """Hold one more piece (hands on everything held once the oldest piece has waited ``hold``)."""
        self._raise_failure()
        now = time.monotonic()
        if not self._parts:
            self._since = now
            self._timer = asyncio.get_running_loop().call_later(self.hold, self._on_timer)
        self._parts.append(text)
        if now - self._since >= self.hold:
            self.flush()

    def flush(self) -> None:
        """Hand on everything held now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._parts:
            text = "".join(self._parts)
            self._parts.clear()
            self._deliver(text)
        self._raise_failure()

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self.flush()
        except Exception as exc:  # kept for the reader: a timer has no caller to raise to
            self._failure = exc

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure


async def one_turn() -> None:
    """Give the event loop one turn."""
    await asyncio.sleep(0)


async def read_reply(
    chunks: Chunks, builder: ReplyBuilder, deliver: Callable[[str], None], hold: float = HOLD,
    give_way: Callable[[], Awaitable[None]] = one_turn,
) -> None:
    """Feed ``chunks`` into ``builder`` and its text, held up to ``hold`` seconds, to ``deliver``.

    Whatever is held is delivered before this returns or raises (the stream ended, broke or was cancelled).
    At least every ``SLICE`` seconds ``give_way`` is awaited: one turn of the event loop, or longer when the
    caller has something more urgent on it (a screen answering a key).
    """
    held = HeldText(deliver, hold)
    async with aclosing(chunks):
        try:
            turn = time.perf_counter()
            async for chunk in chunks:
                text = builder.add(chunk)
                if text:
                    held.add(text)
                if time.perf_counter() - turn > SLICE:
                    await give_way()
                    turn = time.perf_counter()
        finally:
            held.flush()
