"""What the test server answers, one scripted response per chat-completion request, in order."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reply:
    """Streamed text, ``chunk`` characters per SSE event (or exactly ``chunks`` when given)."""

    text: str = ""
    chunk: int = 3
    chunks: tuple[str, ...] = ()
    delay: float = 0.0  # seconds between events (slow answers, cancel tests)
    first_delay: float = 0.0  # seconds before the response headers (timeouts)
    finish_reason: str | None = "stop"  # None: the stream ends without saying why

    def pieces(self) -> list[str]:
        if self.chunks:
            return list(self.chunks)
        size = max(1, self.chunk)
        return [self.text[i : i + size] for i in range(0, len(self.text), size)]


@dataclass(frozen=True)
class Call:
    """One tool call; ``arguments`` is raw text and need not be valid JSON."""

    name: str
    arguments: str
    id: str = ""


@dataclass(frozen=True)
class ToolCalls:
    """Streamed tool calls (several make a parallel call), arguments split ``split`` characters a chunk."""

    calls: tuple[Call, ...]
    text: str = ""  # streamed before the calls
    split: int = 4
    delay: float = 0.0
    finish_reason: str = "tool_calls"


@dataclass(frozen=True)
class Error:
    """An HTTP error with an OpenAI-style JSON body (``raw_body`` replaces it verbatim)."""

    status: int
    message: str = "error"
    type: str = "invalid_request_error"
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Html:
    """A web page instead of an API answer (a wrong base URL, a proxy's login page)."""

    status: int = 200
    body: str = "<!DOCTYPE html><html><head><title>Welcome</title></head><body><h1>It works!</h1></body></html>"


@dataclass(frozen=True)
class Broken:
    """Streams ``text`` and then drops the connection in the middle of the chunked body."""

    text: str
    chunk: int = 3


@dataclass(frozen=True)
class Garbage:
    """An event stream whose data lines are not JSON."""

    lines: tuple[str, ...] = ("data: this is not json", "data: {{{")


@dataclass(frozen=True)
class Raw:
    """A 200 event stream whose body is ``pieces`` as given, each its own HTTP chunk (split where a test likes).

    ``hold`` seconds after the last piece before the body ends (or the server shuts down).
    """

    pieces: tuple[bytes, ...]
    hold: float = 0.0


Response = Reply | ToolCalls | Error | Html | Broken | Garbage | Raw
