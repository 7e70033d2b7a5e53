"""Keeping what is sent to the model within its context budget.

Token counts are estimated, not measured: one token per 4 characters (:data:`CHARS_PER_TOKEN`), plus
:data:`MESSAGE_OVERHEAD` tokens per message for its role and framing. That is close for English and code with
the common tokenizers, and needs no tokenizer for every model a base URL can name; the default budget leaves
room for the estimate to be off.

Two rules, applied in order, every time a request is built (the conversation itself is never changed, so a
later, larger budget or a resumed conversation sees everything again):

1. **Each tool result is truncated when it is made** to ``tool_result_chars`` characters (head and tail kept,
   a marker in between saying how much was left out). File contents reach the model as read_file results, so
   they are cut the same way. This happens in the loop, before anything is sent or saved.
2. **When the estimate of the whole request is over ``max_tokens``**, the oldest *turns* are dropped: a turn is
   a user message and everything after it up to the next user message, so a tool call is never separated from
   its result. The system prompt and the current turn always stay, and the system prompt says how many messages
   were left out. If the current turn alone is still over, its tool results are replaced by a short marker,
   oldest first, keeping the latest one. What is left is sent as it is; a server that still refuses it is
   reported as "conversation too long".

Before both, every tool call is made to have a result (see :func:`answer_every_call`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.assistant.messages import ChatMessage

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
OMITTED_TOOL_OUTPUT = "[tool output omitted to fit the context budget]"
UNANSWERED_CALL = "[not run: sandchat stopped before this call finished]"


@dataclass(frozen=True)
class ContextBudget:
    """How much the assistant sends: ``max_tokens`` for a whole request (estimated), per tool result a limit."""

    max_tokens: int = 24_000
    tool_result_chars: int = 12_000


def estimate_tokens(text: str) -> int:
    """The estimate for ``text``: characters / 4, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def message_tokens(message: dict[str, Any]) -> int:
    """The estimate for one API message, its tool calls included."""
    total = MESSAGE_OVERHEAD + estimate_tokens(str(message.get("content") or ""))
    for call in message.get("tool_calls") or ():
        function = call.get("function", {})
        total += estimate_tokens(str(function.get("name", "")) + str(function.get("arguments", "")))
    return total


@dataclass(frozen=True)
class FittedRequest:
    """The messages to send, and what was left out to get there."""

    messages: list[dict[str, Any]]
    dropped_messages: int
    omitted_tool_results: int
    estimated_tokens: int


def fit_messages(system_prompt: str, history: list[ChatMessage], budget: ContextBudget,
                 fixed_tokens: int = 0) -> FittedRequest:
    """The request's messages under ``budget`` by the rules above; ``fixed_tokens``: tool schemas and such."""
    turns = _turns([m.to_api() for m in answer_every_call(history)])
    system_tokens = message_tokens({"content": system_prompt}) + fixed_tokens + 20  # room for the note
    sizes = [sum(message_tokens(m) for m in turn) for turn in turns]
    dropped = 0
    while len(turns) > 1 and system_tokens + sum(sizes) > budget.max_tokens:
        dropped += len(turns.pop(0))
        sizes.pop(0)
    kept = [m for turn in turns for m in turn]
    omitted = _omit_tool_outputs(kept, budget.max_tokens - system_tokens)
    prompt = system_prompt
    if dropped:
        prompt += f"\n\n[{dropped} earlier messages of this conversation were left out to fit the context budget]"
    messages = [{"role": "system", "content": prompt}, *kept] if prompt else kept
    estimate = fixed_tokens + sum(message_tokens(m) for m in messages)
    return FittedRequest(messages, dropped, omitted, estimate)


def _turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if message["role"] == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


def _omit_tool_outputs(messages: list[dict[str, Any]], room: int) -> int:
    """Replace tool results (oldest first, never the latest) until the messages fit ``room``; how many."""
    total = sum(message_tokens(m) for m in messages)
    tool_indexes = [i for i, m in enumerate(messages) if m["role"] == "tool"][:-1]
    omitted = 0
    for i in tool_indexes:
        if total <= room:
            break
        before = message_tokens(messages[i])
        messages[i] = {**messages[i], "content": OMITTED_TOOL_OUTPUT}
        total -= before - message_tokens(messages[i])
        omitted += 1
    return omitted


def answer_every_call(history: list[ChatMessage]) -> list[ChatMessage]:
    """The conversation with every tool call followed by a result and no result without its call.

    Chat APIs refuse a request otherwise, and a saved conversation can hold an unanswered call when sandchat was
    killed while the call ran; such calls are answered here, in the request only, as not run.
    """
    out: list[ChatMessage] = []
    open_calls: dict[str, ChatMessage] = {}
    for message in history:
        if message.role == "tool":
            if open_calls.pop(message.tool_call_id, None) is not None:
                out.append(message)
            continue
        out.extend(_unanswered(open_calls))
        open_calls = {c.id: message for c in message.tool_calls} if message.role == "assistant" else {}
        out.append(message)
    out.extend(_unanswered(open_calls))
    return out


def _unanswered(open_calls: dict[str, ChatMessage]) -> list[ChatMessage]:
    return [
        ChatMessage("tool", UNANSWERED_CALL, tool_call_id=call_id, tool_status="cancelled", model=message.model)
        for call_id, message in open_calls.items()
    ]
