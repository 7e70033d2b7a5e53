"""Helpers for assistant tests: an Assistant pointed at the test server, event recording, simple gates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.assistant.client import ApiMessages, ChatClient, ClientSettings, StreamChunk, ToolCallDelta
from core.assistant.context import ContextBudget
from core.assistant.events import AssistantEvent
from core.assistant.loop import Assistant
from core.config_model import AssistantConfig
from core.history import ConversationStore
from core.operations import Decision, OperationRequest, SecureOperations

T = TypeVar("T")


def make_assistant(
    base_url: str,
    ops: SecureOperations,
    *,
    model: str = "test-model",
    api_key: str = "sk-test-key-for-the-local-server",
    history: ConversationStore | None = None,
    max_steps: int = 10,
    system_prompt: str = "",
    **kwargs: Any,
) -> Assistant:
    """An Assistant using the real openai client against ``base_url``, with short timeouts for tests."""
    config = AssistantConfig(base_url=base_url, model=model, api_key=api_key, max_steps=max_steps,
                             system_prompt=system_prompt)
    kwargs.setdefault("timeout", 10.0)
    kwargs.setdefault("budget", ContextBudget())
    return Assistant(ops, config, history=history, **kwargs)


@dataclass
class Events:
    """Records every event; ``of(Type)`` filters them."""

    seen: list[AssistantEvent] = field(default_factory=list)
    hooks: list[Callable[[AssistantEvent], None]] = field(default_factory=list)

    def __call__(self, event: AssistantEvent) -> None:
        self.seen.append(event)
        for hook in self.hooks:
            hook(event)

    def of(self, kind: type[T]) -> list[T]:
        return [e for e in self.seen if isinstance(e, kind)]

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.seen]


def recorded(assistant: Assistant) -> Events:
    events = Events()
    assistant.subscribe(events)
    return events


class DenyAll:
    """A gate that refuses every validated operation (nothing reaches the sandbox)."""

    def __init__(self) -> None:
        self.requests: list[OperationRequest] = []

    async def decide(self, request: OperationRequest) -> Decision:
        self.requests.append(request)
        return Decision(False, "denied by the test gate")


class HeldGate:
    """A gate the test releases: ``entered`` is set when an operation waits at it."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def decide(self, request: OperationRequest) -> Decision:
        self.entered.set()
        await self.release.wait()
        return Decision(True, "released by the test")


class ScriptedClient:
    """A ChatClient without HTTP, for property tests: each request streams the next list of chunks."""

    def __init__(self, replies: list[list[StreamChunk]]) -> None:
        self.replies = list(replies)
        self.requests: list[ApiMessages] = []

    def stream(self, messages: ApiMessages, tools: ApiMessages) -> AsyncGenerator[StreamChunk, None]:
        self.requests.append([dict(m) for m in messages])
        chunks = self.replies.pop(0) if self.replies else [StreamChunk("(no script left)", finish_reason="stop")]
        return _generate(chunks)

    async def close(self) -> None:
        pass

    def factory(self, settings: ClientSettings) -> ChatClient:
        return self


async def _generate(chunks: list[StreamChunk]) -> AsyncGenerator[StreamChunk, None]:
    for chunk in chunks:
        yield chunk


def call_chunks(name: str, arguments: str, call_id: str = "call_1") -> list[StreamChunk]:
    """One tool call as chunks: the head, the arguments in two pieces, the finish."""
    half = len(arguments) // 2
    return [
        StreamChunk(tool_calls=(ToolCallDelta(0, call_id, name, ""),)),
        StreamChunk(tool_calls=(ToolCallDelta(0, "", "", arguments[:half]),)),
        StreamChunk(tool_calls=(ToolCallDelta(0, "", "", arguments[half:]),)),
        StreamChunk(finish_reason="tool_calls"),
    ]


def text_chunks(text: str) -> list[StreamChunk]:
    return [StreamChunk(text), StreamChunk(finish_reason="stop")]
