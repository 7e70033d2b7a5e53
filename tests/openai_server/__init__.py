"""A local OpenAI-compatible server for tests; see :mod:`tests.openai_server.server`."""

from __future__ import annotations

from tests.openai_server.script import Broken, Call, Error, Garbage, Html, Raw, Reply, Response, ToolCalls
from tests.openai_server.server import OpenAIServer, RecordedRequest

__all__ = [
    "Broken",
    "Call",
    "Error",
    "Garbage",
    "Html",
    "OpenAIServer",
    "Raw",
    "RecordedRequest",
    "Reply",
    "Response",
    "ToolCalls",
]
