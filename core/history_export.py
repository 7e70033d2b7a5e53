"""A saved conversation as Markdown: who said what and when, the commands that ran and what they returned.

Text from the conversation goes into the document as it is, except inside fences, which are always longer than
any run of backticks in what they hold, so no message can close its fence early and turn into markup.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.history import ConversationInfo, StoredMessage

_TICKS = re.compile(r"`+")
_WHO = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool result"}
_NOTES = {"incomplete": "*(this reply is incomplete: it was cut off)*", "cancelled": "*(stopped by the user)*"}


def stamp(epoch: float) -> str:
    """Local time, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def fenced(text: str, info: str = "") -> str:
    """``text`` in a code fence that nothing inside it can close."""
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{info}\n{body}{fence}"


def conversation_markdown(info: ConversationInfo, messages: list[StoredMessage]) -> str:
    """The whole conversation as one Markdown document."""
    lines = [
        f"# {info.title.replace(chr(10), ' ')}",
        "",
        f"- conversation {info.id}, model {info.model or '(none)'}",
        f"- started {stamp(info.created)}, last message {stamp(info.updated)}",
        "",
    ]
    for stored in messages:
        lines.extend(_message(stored))
    return "\n".join(lines).rstrip("\n") + "\n"


def _message(stored: StoredMessage) -> list[str]:
    message = stored.message
    out = [f"## {_WHO.get(message.role, message.role)} · {stamp(message.created)}", ""]
    if message.role == "tool":
        out += [f"`{message.tool_name}` ({message.tool_status or 'unknown'})", ""]
        out += [fenced(message.command, "text"), ""] if message.command else []
        out += [fenced(message.content, "text"), ""]
        return out
    if message.content:
        out += [message.content, ""]
    for call in message.tool_calls:
        out += [f"Tool call `{call.name}`:", "", fenced(call.arguments, "json"), ""]
    if message.status in _NOTES:
        out += [_NOTES[message.status], ""]
    return out
