"""The model client: one streamed chat-completion request to any OpenAI-compatible server.

:class:`OpenAIChatClient` wraps the official ``openai`` SDK (imported when a client is built, never at module
import) and turns its chunks into this project's own :class:`StreamChunk` data and its exceptions into
:class:`~core.assistant.errors.AssistantError`. Nothing from the SDK leaves this module.

The SDK's own retries are off (``max_retries=0``): the assistant retries rate limits itself, so that the user
sees a countdown instead of a silent wait.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from core.assistant.errors import AssistantError, broken_stream, from_openai, not_openai, shown_url

if TYPE_CHECKING:
    from openai import AsyncOpenAI

#: Sent when no key is configured: local servers (Ollama, llama.cpp) ignore the key, but the SDK wants one.
NO_KEY = "no-key"


@dataclass(frozen=True)
class ClientSettings:
    """Where the model is and how long to wait for it (``timeout``: seconds per request and per read)."""

    base_url: str
    api_key: str
    model: str
    timeout: float = 60.0


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call: the first piece has id and name, later ones add argument text."""

    index: int | None
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class StreamChunk:
    """One streamed event, reduced to what the assistant uses."""

    text: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None


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

    async def stream(self, messages: ApiMessages, tools: ApiMessages) -> Chunks:
        """Yield the reply's chunks; a stream that yields nothing recognisable is not an OpenAI API."""
        import openai

        try:
            response = await self._client.chat.completions.create(
                model=self.settings.model, messages=cast(Any, messages), tools=cast(Any, tools or openai.omit),
                stream=True,
            )
        except openai.OpenAIError as exc:
            raise from_openai(exc, self.settings) from exc
        recognised = False
        try:
            async for chunk in response:
                converted = to_chunk(chunk)
                recognised = recognised or converted is not None
                if converted is not None:
                    yield converted
        except (openai.OpenAIError, ValueError) as exc:
            raise from_openai(exc, self.settings, streaming=recognised) from exc
        finally:
            await response.close()
        if not recognised:
            kind = response.response.headers.get("content-type", "an unknown type")
            url = shown_url(self.settings.base_url)
            raise not_openai(url, f"it answered with {kind}, not a chat-completion stream")

    async def close(self) -> None:
        """Close the SDK client and its connections."""
        await self._client.close()


def open_openai_client(settings: ClientSettings) -> ChatClient:
    """The default client factory."""
    return OpenAIChatClient(settings)


def to_chunk(chunk: object) -> StreamChunk | None:
    """Our chunk from the SDK's, read defensively (servers differ); None when it is not a chat-completion chunk."""
    choices = getattr(chunk, "choices", None)
    if not isinstance(choices, list):
        return None
    if not choices:  # e.g. a usage-only chunk
        return StreamChunk()
    choice = choices[0]
    delta = getattr(choice, "delta", None)
    text = getattr(delta, "content", None)
    finish = getattr(choice, "finish_reason", None)
    return StreamChunk(
        text=text if isinstance(text, str) else "",
        tool_calls=tuple(_call_delta(c) for c in getattr(delta, "tool_calls", None) or ()),
        finish_reason=finish if isinstance(finish, str) else None,
    )


def _call_delta(call: object) -> ToolCallDelta:
    function = getattr(call, "function", None)
    index, call_id = getattr(call, "index", None), getattr(call, "id", None)
    name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
    return ToolCallDelta(
        index=index if isinstance(index, int) else None,
        id=call_id if isinstance(call_id, str) else "",
        name=name if isinstance(name, str) else "",
        arguments=arguments if isinstance(arguments, str) else "",
    )


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
    "to_chunk",
]
