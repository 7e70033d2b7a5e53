"""Core events carried into Textual's message queue, and the coalescing that keeps the queue short.

A model streams hundreds of pieces a second, and an agent can run thousands of operations. One message per
event would queue them all in front of the person's key presses (and cost Textual's per-message overhead each):
instead the events that arrive while a message waits are added to it, and its handler takes them all at once.
For the assistant, any event other than reply text closes the open message first, so the order of text and
tool calls is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the app imports this module on its way to the first frame: core's events load later
    from core.assistant.events import AssistantEvent
    from core.events import Event


class PipelineEvents(Message):
    """Core events of the pipeline, in order: those that arrived while the message waited are added to it."""

    def __init__(self, batcher: PipelineBatcher) -> None:
        super().__init__()
        self._batcher = batcher
        self.events: list[Event] = []

    def take(self) -> list[Event]:
        """The events gathered in this message; nothing more is added to it after this."""
        return self._batcher.take(self)


class PipelineBatcher:
    """The pipeline's listener: one message per burst of events, however many operations run or print."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._open: PipelineEvents | None = None
        self._lock = threading.Lock()  # a backend may report output from its own thread

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._open is None:
                self._open = PipelineEvents(self)
                self._open.events.append(event)
                self._post(self._open)
            else:
                self._open.events.append(event)

    def take(self, message: PipelineEvents) -> list[Event]:
        with self._lock:
            if self._open is message:
                self._open = None
            events, message.events = message.events, []
        return events


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
