"""Core events carried into Textual's message queue, and the coalescing that keeps the queue short.

A model streams hundreds of pieces a second, and an agent can run thousands of operations. One message per
event would queue them all in front of the person's key presses (and cost Textual's per-message overhead each):
instead the events that arrive while a message waits are added to it, and its handler takes them all at once.
Pipeline events go at most PERIOD apart, in batches of bounded size (see PipelineBatcher).
For the assistant, any event other than reply text closes the open message first, so the order of text and
tool calls is kept.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.constants import MAX_FPS
from textual.message import Message

if TYPE_CHECKING:  # the app imports this module on its way to the first frame: core's events load later
    from core.assistant.events import AssistantEvent
    from core.events import Event

# Seconds between batches of pipeline events: each batch redraws the execution log, a few ms for a full page, so
# at most 30 a second (every other frame at Textual's 60 fps) while operations pour in. Nobody reads rows that
# fast, and the first event after a quiet spell still goes at once.
PERIOD = max(1 / 30, 1 / MAX_FPS)
TAKE_MOST = 4_000  # pipeline events handled per message (a few ms of work); the rest follow at the next turn


class PipelineEvents(Message):
    """Pipeline events wait in the batcher that posted this message; the handler takes them, oldest first."""

    def __init__(self, batcher: PipelineBatcher) -> None:
        super().__init__()
        self._batcher = batcher

    def take(self) -> list[Event]:
        """The next events in order (at most the batcher's ``most``); empty if this message was taken already."""
        return self._batcher.take(self)


class PipelineBatcher:
    """The pipeline's listener: at most one message per ``period``, however fast operations run or print.

    Events wait here in order, with at most one message for them in the app's queue. After the handler takes a
    batch the next message is posted ``period`` later (the events of that span go with it), or at the next turn
    of the event loop while a backlog is left: a batch holds at most ``most`` events, so a key press waits for one
    batch, not for a burst of a hundred thousand operations.
    """

    def __init__(self, post: Callable[[Message], object], *, period: float = PERIOD, most: int = TAKE_MOST,
                 later: Callable[[float, Callable[[], None]], object] | None = None) -> None:
        self._post = post
        self.period = period
        self.most = most
        self._later = later or _call_later
        self._events: deque[Event] = deque()
        self._waiting: PipelineEvents | None = None  # the message in the app's queue
        self._held = False  # a batch was taken and the next message is not due yet
        self._lock = threading.Lock()  # a backend may report output from its own thread

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            if self._waiting is None and not self._held:
                self._post_locked()

    def take(self, message: PipelineEvents) -> list[Event]:
        with self._lock:
            if message is not self._waiting:
                return []
            self._waiting = None
            self._held = True
            events = self._events
            batch = [events.popleft() for _ in range(min(self.most, len(events)))]
            backlog = bool(events)
        self._later(0.0 if backlog else self.period, self._release)
        return batch

    def _release(self) -> None:
        with self._lock:
            self._held = False
            if self._events and self._waiting is None:
                self._post_locked()

    def _post_locked(self) -> None:
        self._waiting = PipelineEvents(self)
        self._post(self._waiting)


def _call_later(delay: float, callback: Callable[[], None]) -> None:
    # A loop callback, not a Textual timer: the batcher is no message pump, and a timer would be a task a frame.
    # take() runs in the app's handler, so the running loop is the app's.
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # taken outside an event loop: there are no frames to wait for
        callback()
        return
    loop.call_later(delay, callback)


class AssistantUpdate(Message):
    """An assistant event other than reply text (a tool call, an error, the end of the turn)."""

    def __init__(self, event: AssistantEvent) -> None:
        super().__init__()
        self.event = event


class ReplyText(Message):
    """Pieces of the model's reply that arrived since the last one was shown."""

    def __init__(self, coalescer: ReplyCoalescer) -> None:
        super().__init__()
        self._coalescer = coalescer
        self.parts: list[str] = []

    def take(self) -> str:
        """All text gathered in this message; nothing more is added to it after this."""
        return self._coalescer.take(self)


class ReplyCoalescer:
    """Turns the assistant's events into messages, gathering reply text while a message waits."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        from core.assistant.events import ReplyDelta

        self._delta = ReplyDelta
        self._post = post
        self._open: ReplyText | None = None
        self._lock = threading.Lock()  # events may come from another thread; post_message is thread-safe

    def __call__(self, event: AssistantEvent) -> None:
        with self._lock:
            if isinstance(event, self._delta):
                if self._open is None:
                    self._open = ReplyText(self)
                    self._open.parts.append(event.text)
                    self._post(self._open)
                else:
                    self._open.parts.append(event.text)
                return
            self._open = None  # text after this event goes into a new message, after it
        self._post(AssistantUpdate(event))

    def take(self, message: ReplyText) -> str:
        with self._lock:
            if self._open is message:
                self._open = None
            text = "".join(message.parts)
            message.parts.clear()
        return text
