"""The model client: one streamed chat-completion request to any OpenAI-compatible server.

:class:`OpenAIChatClient` wraps the official ``openai`` SDK (imported when a client is built, never at module
import): the SDK makes the request, :mod:`core.assistant.event_stream` reads the streamed body into this project's
own :class:`StreamChunk` data, and the SDK's exceptions become :class:`~core.assistant.errors.AssistantError`.
Nothing from the SDK leaves this module.

The SDK's own retries are off (``max_retries=0``): the assistant retries rate limits itself, so that the user
sees a countdown instead of a silent wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from core.assistant.errors import AssistantError, broken_stream, from_openai, not_openai, shown_url
from core.assistant.event_stream import EventStreamDecoder, MalformedEvent, StreamChunk, StreamError, ToolCallDelta

if TYPE_CHECKING:
    from openai import AsyncAPIResponse, AsyncOpenAI

DRAIN_SECONDS = 0.1  # how long to wait for the body's end after [DONE] before dropping the connection
#: Sent when no key is configured: local servers (Ollama, llama.cpp) ignore the key, but the SDK wants one.
NO_KEY = "no-key"


@dataclass(frozen=True)
class ClientSettings:
    """Where the model is and how long to wait for it (``timeout``: seconds per request and per read)."""

    base_url: str
    api_key: str
    model: str
    timeout: float = 60.0


ApiMessages = list[dict[str, Any]]
Chunks = AsyncGenerator[StreamChunk, None]


class ChatClient(Protocol):
    """Streams one chat completion; raises AssistantError for every failure."""

    def stream(self, messages: ApiMessages, tools: ApiMessages) -> Chunks: ...

    async def close(self) -> None: ...


ClientFactory = Callable[[ClientSettings], ChatClient]


class OpenAIChatClient:
    """A ChatClient over the official SDK's AsyncOpenAI."""

    def __init__(self, settings: ClientSettings) -> None:
        from openai import AsyncOpenAI

        self.settings = settings
        # base_url is passed even when empty, so the SDK does not read OPENAI_BASE_URL behind config's back
        self._client: AsyncOpenAI = AsyncOpenAI(
            api_key=settings.api_key or NO_KEY,
            base_url=settings.base_url or None,
            timeout=settings.timeout,
            max_retries=0,
        )
        # The SDK imports its resources (and builds their pydantic models) on first use: do it here, where the
        # client is built (off the event loop), not on the first request, where it stalled the screen ~100 ms.
        _ = self._client.chat.completions.with_streaming_response

    async def stream(self, messages: ApiMessages, tools: ApiMessages) -> Chunks:
        """Yield the reply's chunks, one per piece of the body the network delivers (see event_stream).

        The request goes through the SDK (its HTTP stack, headers and status errors); the body is read raw, so
        no SDK object is built per event. A stream that yields nothing recognisable is not an OpenAI API.
        """
        import openai

        request = self._client.chat.completions.with_streaming_response.create(
            model=self.settings.model, messages=cast(Any, messages), tools=cast(Any, tools or openai.omit),
            stream=True,
        )
        decoder = EventStreamDecoder()
        try:
            async with request as response, aclosing(_chunks(response, decoder)) as chunks:
                async for chunk in chunks:
                    yield chunk
                kind = response.http_response.headers.get("content-type", "an unknown type")
        except MalformedEvent as exc:
            if decoder.recognised:  # a good stream went bad half-way: what arrived is kept
                raise broken_stream(f"the model server sent {exc}") from exc
            raise from_openai(exc, self.settings) from exc
        except openai.OpenAIError as exc:
            raise from_openai(exc, self.settings, streaming=decoder.recognised) from exc
        if not decoder.recognised:
            url = shown_url(self.settings.base_url)
            raise not_openai(url, f"it answered with {kind}, not a chat-completion stream")

    async def close(self) -> None:
        """Close the SDK client and its connections."""
        await self._client.close()


def open_openai_client(settings: ClientSettings) -> ChatClient:
    """The default client factory."""
    return OpenAIChatClient(settings)


async def _chunks(response: AsyncAPIResponse[Any], decoder: EventStreamDecoder) -> Chunks:
    """The decoder's chunks from the raw body; failures become the SDK's exceptions, as its own stream raises."""
    import openai

    timeouts, failures = _transport_errors(response)
    request = response.http_response.request
    body_pieces = cast(AsyncGenerator[bytes, None], response.iter_bytes())  # typed as an iterator; a generator
    async with aclosing(body_pieces) as body:
        try:
            async for data in body:
                chunk = decoder.feed(data)
                if chunk is not None:
                    yield chunk
                if decoder.done:
                    break
        except timeouts as exc:
            raise openai.APITimeoutError(request=request) from exc
        except failures as exc:
            raise openai.APIConnectionError(request=request) from exc
        except StreamError as exc:
            raise openai.APIError(exc.message, request, body=exc.body) from exc
        if decoder.done:
            # what follows [DONE] is normally just the body's end: read it, so the connection can be used again
            with contextlib.suppress(TimeoutError, *timeouts, *failures):
                async with asyncio.timeout(DRAIN_SECONDS):
                    async for _ in body:
                        pass


def _transport_errors(response: AsyncAPIResponse[Any]) -> tuple[tuple[type[BaseException], ...], ...]:
    """(timeouts, other failures) of the HTTP library under the SDK: httpx or httpx2, by SDK version."""
    import anyio

    http: Any = sys.modules[type(response.http_response).__module__.partition(".")[0]]
    # anyio's EndOfStream and ssl's errors are TLS failures the HTTP library may let through (the SDK maps them too)
    return (http.TimeoutException,), (http.RequestError, ssl.SSLError, anyio.EndOfStream)


__all__ = [
    "AssistantError",
    "ChatClient",
    "ClientFactory",
    "ClientSettings",
    "OpenAIChatClient",
    "StreamChunk",
    "ToolCallDelta",
    "broken_stream",
    "open_openai_client",
]
