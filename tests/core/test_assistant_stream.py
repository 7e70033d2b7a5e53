"""The reply stream read raw through the real openai client: bodies cut anywhere, errors mid-stream, [DONE],
tool calls in one read, held text saved before it is shown, and the event loop kept free while a reply arrives."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.assistant import reply as reply_module
from core.assistant.client import ApiMessages, ChatClient, ClientSettings, StreamChunk
from core.assistant.events import ReplyDelta, ToolCallStarted
from core.assistant.loop import Assistant
from core.assistant.reply import HeldText
from core.config_model import AssistantConfig
from core.history import ConversationStore
from core.operations import SecureOperations
from tests.openai_server import Broken, OpenAIServer, Raw, Reply
from tests.openai_server.harness import ScriptedClient, make_assistant, recorded, text_chunks


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()


DONE = b"data: [DONE]\n\n"
ERROR = b'data: {"error": {"message": "the model is overloaded", "type": "server_error"}}\n\n'


async def test_a_body_cut_in_the_middle_of_events_and_characters(server: OpenAIServer, ops: SecureOperations) -> None:
    data = event({"content": "Grüße "}) + event({"content": "aus 東京"}) + event({}, "stop") + DONE
    cuts = [3, data.index("ü".encode()) + 1, data.index("東".encode()) + 2, len(data) - 5]
    edges = [0, *cuts, len(data)]
    server.script(Raw(tuple(data[a:b] for a, b in zip(edges, edges[1:], strict=False))))
    assistant = make_assistant(server.base_url, ops)
    result = await assistant.send("hi")
    assert result.status == "complete" and result.reply == "Grüße aus 東京"
    await assistant.close()


async def test_a_server_error_mid_stream_keeps_the_partial_reply(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    server.script(Raw((event({"content": "Half of "}), event({"content": "the answer"}), ERROR)))
    store = ConversationStore.open(tmp_path / "data")
    assistant = make_assistant(server.base_url, ops, history=store)
    events = recorded(assistant)
    result = await assistant.send("hi")
    assert result.status == "incomplete" and result.reply == "Half of the answer"
    assert result.error is not None and result.error.kind == "server"
    assert "the model is overloaded" in result.error.message
    assert len(server.chat_requests) == 1  # text had arrived: not retried behind the person's back
    assert "".join(d.text for d in events.of(ReplyDelta)) == "Half of the answer"
    saved = store.load_messages(result.conversation_id or 0)
    assert (saved[-1].content, saved[-1].status) == ("Half of the answer", "incomplete")
    await assistant.close()
    store.close()


async def test_malformed_json_after_good_events_is_a_broken_stream(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Raw((event({"content": "So far "}), b'data: {"choices": [{"delta": \n\n')))
    assistant = make_assistant(server.base_url, ops)
    result = await assistant.send("hi")
    assert result.status == "incomplete" and result.reply == "So far "
    assert result.error is not None and result.error.kind == "broken_stream" and result.error.retryable
    assert "an event's data is not JSON" in result.error.message
    await assistant.close()


async def test_the_reply_ends_at_done_even_if_the_body_does_not(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Raw((event({"content": "quick"}), event({}, "stop"), DONE), hold=10))
    assistant = make_assistant(server.base_url, ops)
    started = time.monotonic()
    result = await assistant.send("hi")
    assert result.status == "complete" and result.reply == "quick"
    assert time.monotonic() - started < 5  # not the 10 s the server keeps the body open
    await assistant.close()


async def test_a_server_that_stops_sending_mid_reply_times_out(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Raw((event({"content": "I was saying"}),), hold=5))
    assistant = make_assistant(server.base_url, ops, timeout=0.5)
    result = await assistant.send("hi")
    assert result.status == "incomplete" and result.reply == "I was saying"
    assert result.error is not None and result.error.kind == "timeout"
    assert "stopped sending the reply within 0.5 s" in result.error.message
    await assistant.close()


async def test_text_and_a_tool_call_in_one_read(server: OpenAIServer, ops: SecureOperations) -> None:
    arguments = json.dumps({"directory": ""})
    head = {"index": 0, "id": "call_x", "type": "function", "function": {"name": "list_files", "arguments": ""}}
    one_read = (event({"content": "Looking. "}) + event({"tool_calls": [head]})
                + event({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:5]}}]})
                + event({"tool_calls": [{"index": 0, "function": {"arguments": arguments[5:]}}]})
                + event({}, "tool_calls") + DONE)
    server.script(Raw((one_read,)), Reply("Empty."))
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("what is there?")
    assert result.status == "complete" and result.reply == "Looking. \n\nEmpty."
    assert [e.command_text for e in events.of(ToolCallStarted)] == ["list files:"]
    assert [c.status for c in result.tool_calls] == ["ok"]
    await assistant.close()


async def test_a_broken_connection_keeps_every_piece_shown_in_the_history(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    server.script(Broken("The answer is forty", chunk=2))
    store = ConversationStore.open(tmp_path / "data")
    assistant = make_assistant(server.base_url, ops, history=store)
    events = recorded(assistant)
    result = await assistant.send("what is the answer?")
    shown = "".join(d.text for d in events.of(ReplyDelta))
    assert result.error is not None and result.error.kind == "broken_stream"
    assert shown == result.reply == "The answer is forty"
    saved = store.load_messages(result.conversation_id or 0)
    assert (saved[-1].content, saved[-1].status) == (shown, "incomplete")
    await assistant.close()
    store.close()


# -- held text -----------------------------------------------------------------------------------------


async def test_held_text_is_handed_on_when_the_stream_pauses() -> None:
    delivered: list[str] = []
    held = HeldText(delivered.append, hold=0.05)
    held.add("a")
    held.add("b")
    assert delivered == []  # held: more may come at once
    await asyncio.sleep(0.15)  # nothing more came: the timer hands it on
    assert delivered == ["ab"]
    held.add("c")
    held.flush()
    assert delivered == ["ab", "c"]


async def test_held_text_is_handed_on_once_it_has_waited_long_enough() -> None:
    delivered: list[str] = []
    held = HeldText(delivered.append, hold=0.0)
    held.add("a")
    held.add("b")
    assert delivered == ["a", "b"]
    held.flush()
    assert delivered == ["a", "b"]


async def test_a_failure_handing_on_in_the_timer_reaches_the_reader() -> None:
    def deliver(text: str) -> None:
        raise OSError("disk full")

    held = HeldText(deliver, hold=0.01)
    held.add("a")
    await asyncio.sleep(0.05)
    with pytest.raises(OSError, match="disk full"):
        held.add("b")


class GatedClient:
    """A ChatClient that streams ``chunks``, then waits at a gate the test controls (``reached`` is set there)."""

    def __init__(self, *chunks: StreamChunk) -> None:
        self.chunks = chunks
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def stream(self, messages: ApiMessages, tools: ApiMessages) -> AsyncGenerator[StreamChunk, None]:
        return self._chunks()

    async def _chunks(self) -> AsyncGenerator[StreamChunk, None]:
        for chunk in self.chunks:
            yield chunk
        self.reached.set()
        await self.release.wait()
        yield StreamChunk(finish_reason="stop")

    async def close(self) -> None:
        pass


def gated_assistant(ops: SecureOperations, client: GatedClient, store: ConversationStore | None = None) -> Assistant:
    return Assistant(ops, AssistantConfig(model="m", base_url="http://unused/v1"), history=store,
                     client_factory=lambda settings: client)


async def test_cancel_hands_on_held_text_and_saves_it(
    ops: SecureOperations, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reply_module, "HOLD", 30.0)  # nothing is handed on before the reply stops
    client = GatedClient(StreamChunk("one "), StreamChunk("two "), StreamChunk("three"))
    store = ConversationStore.open(tmp_path / "data")
    assistant = gated_assistant(ops, client, store)
    events = recorded(assistant)
    task = asyncio.create_task(assistant.send("count"))
    await client.reached.wait()
    assert events.of(ReplyDelta) == []  # all three pieces held
    assert assistant.cancel()
    result = await task
    assert [d.text for d in events.of(ReplyDelta)] == ["one two three"]
    assert events.kinds()[-1] == "ReplyFinished" and result.status == "cancelled"
    saved = store.load_messages(result.conversation_id or 0)
    assert (saved[-1].content, saved[-1].status) == ("one two three", "cancelled")
    store.close()


async def test_held_text_is_handed_on_before_the_turn_ends(ops: SecureOperations) -> None:
    client = GatedClient(StreamChunk("done"))
    assistant = gated_assistant(ops, client)
    events = recorded(assistant)
    task = asyncio.create_task(assistant.send("hi"))
    await client.reached.wait()
    client.release.set()
    result = await task
    assert events.kinds() == ["ReplyDelta", "ReplyFinished"] and result.reply == "done"


# -- the event loop while a reply arrives ---------------------------------------------------------


async def test_a_reply_that_never_waits_still_lets_the_event_loop_run(
    ops: SecureOperations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reply_module, "SLICE", 0.0)  # a turn for the loop after every chunk
    pieces = [StreamChunk(f"w{i} ") for i in range(200)]
    client = ScriptedClient([[*pieces, StreamChunk(finish_reason="stop")]])  # a generator that never suspends
    assistant = Assistant(ops, AssistantConfig(model="m", base_url="http://unused/v1"), client_factory=client.factory)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    result = await assistant.send("hi")
    ticker.cancel()
    assert result.reply == "".join(p.text for p in pieces)
    assert ticks >= 150


async def test_a_fast_reply_gives_way_as_its_caller_asks(
    ops: SecureOperations, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between slices of a reply that never waits, the assistant awaits its ``give_way``: a screen that is
    answering a key makes the reading wait; the reply is complete all the same."""
    monkeypatch.setattr(reply_module, "SLICE", 0.0)  # a slice per chunk
    pieces = [StreamChunk(f"w{i} ") for i in range(50)]
    client = ScriptedClient([[*pieces, StreamChunk(finish_reason="stop")]])
    waits = 0

    async def give_way() -> None:  # a key press for every tenth slice: the reading waits for other tasks then
        nonlocal waits
        waits += 1
        await asyncio.sleep(0.001 if waits % 10 == 0 else 0)

    assistant = Assistant(ops, AssistantConfig(model="m", base_url="http://unused/v1"), client_factory=client.factory,
                          give_way=give_way)
    result = await assistant.send("hi")
    assert result.reply == "".join(p.text for p in pieces)
    assert waits >= len(pieces)  # one per chunk (the finishing chunk may add one)


async def test_the_model_client_is_built_off_the_event_loop(ops: SecureOperations) -> None:
    built_in: list[threading.Thread] = []
    client = ScriptedClient([text_chunks("hello")])

    def factory(settings: ClientSettings) -> ChatClient:
        built_in.append(threading.current_thread())
        return client

    assistant = Assistant(ops, AssistantConfig(model="m", base_url="http://unused/v1"), client_factory=factory)
    assert (await assistant.send("hi")).reply == "hello"
    assert (await assistant.send("again")).status == "complete"  # built once
    assert len(built_in) == 1 and built_in[0] is not threading.main_thread()


def test_the_first_request_imports_nothing_more_of_the_sdk(server: OpenAIServer) -> None:
    """The SDK loads its resources on first use; the client does that where it is built (off the event loop),
    so the first request does not stall the screen importing ~30 modules. A fresh interpreter, as the app has."""
    import subprocess
    import sys

    server.script(Reply("hello there"))
    code = (
        "import asyncio, sys\n"
        "from core.assistant.client import OpenAIChatClient, ClientSettings\n"
        f"client = OpenAIChatClient(ClientSettings({server.base_url!r}, 'sk-test', 'demo-model'))\n"
        "before = set(sys.modules)\n"
        "async def ask():\n"
        "    text = ''.join([c.text async for c in client.stream([{'role': 'user', 'content': 'hi'}], [])])\n"
        "    await client.close()\n"
        "    return text\n"
        "print(asyncio.run(ask()))\n"
        "print(','.join(sorted(m for m in set(sys.modules) - before if m.startswith(('openai', 'pydantic')))))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60,
                          check=True)
    replied, imported = done.stdout.splitlines()
    assert replied == "hello there"
    assert imported == "", f"imported on the first request: {imported}"
