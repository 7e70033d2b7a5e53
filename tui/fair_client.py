"""A model client that shares the event loop with the screen.

When a fast server's reply is already buffered, reading the next chunk completes without ever suspending,
so the assistant's loop can run through thousands of chunks (each parsed by the SDK) without letting the app
draw or answer a key. This wrapper gives the loop a turn whenever it has held it for ``SLICE`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from core.assistant.client import ApiMessages, ChatClient, ClientFactory, ClientSettings, StreamChunk

SLICE = 0.004  # seconds of chunk handling before the screen gets a turn


class FairChatClient:
    """A ChatClient around another one, yielding to the event loop at least every SLICE seconds."""

    def __init__(self, inner: ChatClient) -> None:
        self.inner = inner

    def stream(self, messages: ApiMessages, tools: ApiMessages) -> AsyncGenerator[StreamChunk, None]:
        return _fair(self.inner.stream(messages, tools))

    async def close(self) -> None:
        await self.inner.close()


async def _fair(chunks: AsyncGenerator[StreamChunk, None]) -> AsyncGenerator[StreamChunk, None]:
    async with aclosing(chunks):
        turn = time.perf_counter()
        async for chunk in chunks:
            yield chunk
            now = time.perf_counter()
            if now - turn > SLICE:
                await asyncio.sleep(0)
                turn = time.perf_counter()


def fair_factory(inner: ClientFactory) -> ClientFactory:
    """A client factory whose clients are wrapped in FairChatClient."""

    def make(settings: ClientSettings) -> ChatClient:
        return FairChatClient(inner(settings))

    return make
