"""The conversation as the assistant keeps it: plain frozen messages, turned into the chat API's dicts on send."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
#: complete: as the model meant it; incomplete: cut off (broken stream, length limit); cancelled: stopped by the user.
MessageStatus = Literal["complete", "incomplete", "cancelled"]

_CUT_NOTES: dict[str, str] = {
    "incomplete": "[this reply was cut off before it was finished]",
    "cancelled": "[the user stopped this reply here]",
}


@dataclass(frozen=True)
class ToolCallRequest:
    """One tool call as the model made it; ``arguments`` is the raw JSON text, valid or not."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation; tool messages also say which command ran and how it ended."""

    role: Role
    content: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_call_id: str = ""  # tool messages: the call they answer
    tool_name: str = ""  # tool messages: the tool that was called
    command: str = ""  # tool messages: the canonical command that ran ("" when the arguments were invalid)
    tool_status: str = ""  # tool messages: ok, error, failed, blocked, denied, invalid or cancelled
    status: MessageStatus = "complete"
    model: str = ""
    created: float = field(default_factory=time.time)

    def to_api(self) -> dict[str, Any]:
        """The message as the chat-completions API takes it."""
        if self.role == "tool":
            return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.content}
        content = self.content
        if self.role == "assistant" and self.status in _CUT_NOTES:
            # the model should know that its own earlier words stop mid-way, or it may build on half a sentence
            content = f"{content}\n{_CUT_NOTES[self.status]}" if content else _CUT_NOTES[self.status]
        message: dict[str, Any] = {"role": self.role, "content": content}
        if self.tool_calls:
            message["content"] = content or None
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": api_arguments(c.arguments)}}
                for c in self.tool_calls
            ]
        return message


def api_arguments(arguments: str) -> str:
    """A call's arguments as sent back to the model with the conversation.

    A JSON object goes as it came; anything else goes as ``{}``: some servers parse the arguments of earlier
    calls to render their prompt and refuse the whole request over one that is not JSON. The model still learns
    what was wrong from that call's tool result.
    """
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return "{}"
    return arguments if isinstance(value, dict) else "{}"
