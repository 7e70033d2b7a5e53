"""Reading a chat-completion event stream (server-sent events) without building an SDK object per event.

The SDK turns every event into a pydantic ``ChatCompletionChunk``, which costs more than everything else the
assistant does with a fast reply (about 1.6 s of the event loop for 5,000 tokens). Here the raw bytes are split
into events and each event's ``data`` is read with :func:`json.loads`.

:class:`EventStreamDecoder` takes the body in the pieces the network delivers and returns, per piece, one
:class:`StreamChunk` that merges every event that piece completed (a piece is usually one event, but a server
that batches its writes sends many at once, and they are then handled as one). Lines are split on bytes,
so a UTF-8 character cut between two reads is decoded whole, and only CR, LF and CRLF end a line (a JSON
string may hold U+2028, which :meth:`str.splitlines` would split). As the SSE rules say, an event is dispatched
by the blank line after it: one cut off by the end of the body is dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DONE = "[DONE]"


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call: the first piece has id and name, later ones add argument text."""

    index: int | None
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class StreamChunk:
    """One streamed event (or several merged), reduced to what the assistant uses."""

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None


class StreamError(Exception):
    """An event reported an error (``body`` is the event's ``error`` object, ``message`` its text)."""

    def __init__(self, message: str, body: object) -> None:
        super().__init__(message)
        self.message = message
        self.body = body


class MalformedEvent(ValueError):
    """An event whose data is not JSON."""


@dataclass
class EventStreamDecoder:
    """Feed it the body's bytes as they arrive; each call returns what the events it completed said."""

    done: bool = False  # ``data: [DONE]`` was seen; later events are ignored
    recognised: bool = False  # at least one chat-completion event was seen
    _partial: list[bytes] = field(default_factory=list)  # the start of a line whose end has not arrived
    _skip_lf: bool = False  # the last piece ended in CR: an LF starting the next one ends the same line
    _data: list[str] = field(default_factory=list)  # data lines of the event being read

    def feed(self, data: bytes) -> StreamChunk | None:
        """The events ``data`` completes, merged into one chunk; None when they hold no chat-completion event."""
        if self._skip_lf and data.startswith(b"\n"):
            data = data[1:]
        self._skip_lf = False
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if end < 0:
            if data:
                self._partial.append(data)
            return None
        complete = b"".join([*self._partial, data[: end + 1]])
        rest = data[end + 1 :]
        self._partial = [rest] if rest else []
        self._skip_lf = not rest and data.endswith(b"\r")
        text = complete.decode("utf-8", errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return self._events(text.split("\n")[:-1])

    def _events(self, lines: list[str]) -> StreamChunk | None:
        payloads: list[str] = []
        for line in lines:
            if not line:
                if self._data:
                    payloads.append("\n".join(self._data))
                    self._data = []
            elif line.startswith("data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(" ") else value)
            # other fields (event, id, retry) and comments (":") carry nothing the assistant uses
        return self._chunk(payloads)

    def _chunk(self, payloads: list[str]) -> StreamChunk | None:
        merged: MergedChunk | None = None
        for payload in payloads:
            if self.done:
                break
            if payload.startswith(DONE):
                self.done = True
                break
            chunk = chunk_from_event(_json(payload))
            if chunk is not None:
                self.recognised = True
                merged = merged or MergedChunk()
                merged.add(chunk)
        return merged.chunk() if merged is not None else None


@dataclass
class MergedChunk:
    """Several chunks as one: texts joined, tool-call pieces in order, the last finish reason."""

    texts: list[str] = field(default_factory=list)
    calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None

    def add(self, chunk: StreamChunk) -> None:
        if chunk.text:
            self.texts.append(chunk.text)
        self.calls.extend(chunk.tool_calls)
        self.finish_reason = chunk.finish_reason or self.finish_reason

    def chunk(self) -> StreamChunk:
        return StreamChunk("".join(self.texts), tuple(self.calls), self.finish_reason)


def _json(payload: str) -> object:
    try:
        return json.loads(payload)
    except ValueError as exc:
        shown = payload if len(payload) <= 60 else payload[:59] + "…"
        raise MalformedEvent(f"an event's data is not JSON: {shown!r}") from exc


def chunk_from_event(data: object) -> StreamChunk | None:
    """Our chunk from one event's JSON, read defensively (servers differ); None when it is not a chat chunk.

    An event carrying an ``error`` object (how OpenAI reports a failure after the stream has begun) raises
    :class:`StreamError`.
    """
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else None
        raise StreamError(message if isinstance(message, str) and message else "an error occurred during streaming",
                          error)
    choices = data.get("choices")
    if not isinstance(choices, list):
        return None
    if not choices or not isinstance(choices[0], dict):  # e.g. a usage-only chunk
        return StreamChunk()
    choice: dict[str, Any] = choices[0]
    delta = choice.get("delta")
    delta = delta if isinstance(delta, dict) else {}
    text, finish, calls = delta.get("content"), choice.get("finish_reason"), delta.get("tool_calls")
    return StreamChunk(
        text=text if isinstance(text, str) else "",
        tool_calls=tuple(_call_delta(c) for c in calls if isinstance(c, dict)) if isinstance(calls, list) else (),
        finish_reason=finish if isinstance(finish, str) else None,
    )


def _call_delta(call: dict[str, Any]) -> ToolCallDelta:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    index, call_id = call.get("index"), call.get("id")
    name, arguments = function.get("name"), function.get("arguments")
    return ToolCallDelta(
        index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        id=call_id if isinstance(call_id, str) else "",
        name=name if isinstance(name, str) else "",
        arguments=arguments if isinstance(arguments, str) else "",
    )
