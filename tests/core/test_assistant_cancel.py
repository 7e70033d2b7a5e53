"""Cancel: the stream stops, pending tool calls stop or never start, the partial reply is kept as cancelled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.assistant.events import ReplyDelta, ReplyFinished, ToolCallCancelled, ToolCallStarted
from core.backends.local import LocalSandbox
from core.history import ConversationStore
from core.operations import SecureOperations
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.openai_server.harness import HeldGate, make_assistant, recorded

SLOW_TEXT = " ".join(f"word{i}" for i in range(200))


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


async def test_cancel_mid_stream_keeps_the_partial_reply(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    server.script(Reply(SLOW_TEXT, chunk=6, delay=0.02), Reply("next"))
    store = ConversationStore.open(tmp_path / "data")
    assistant = make_assistant(server.base_url, ops, history=store)
    events = recorded(assistant)
    three = asyncio.Event()
    events.hooks.append(lambda e: three.set() if len(events.of(ReplyDelta)) == 3 else None)
    task = asyncio.create_task(assistant.send("talk slowly"))
    await three.wait()
    assert assistant.cancel()
    result = await task
    shown = "".join(d.text for d in events.of(ReplyDelta))
    assert result.status == "cancelled" and result.reply == shown and SLOW_TEXT.startswith(shown)
    assert len(shown) < len(SLOW_TEXT)
    assert events.of(ReplyFinished)[-1].status == "cancelled" and not assistant.busy
    assert assistant.messages[-1].status == "cancelled" and assistant.messages[-1].content == shown
    saved = store.load_messages(result.conversation_id or 0)
    assert [(m.role, m.status) for m in saved] == [("user", "complete"), ("assistant", "cancelled")]
    assert saved[-1].content == shown
    assert not assistant.cancel()  # nothing running any more
    # the conversation goes on, and the model hears that it was interrupted
    await assistant.send("go on")
    sent = server.chat_requests[-1].messages
    assert sent[-2]["content"].endswith("[the user stopped this reply here]")
    await assistant.close()
    store.close()


async def test_cancel_stops_a_running_tool_call_and_skips_the_rest(
    server: OpenAIServer, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    ops = SecureOperations(sandbox)
    sleeper = json.dumps({"code": "import time\ntime.sleep(30)", "language": "python"})
    server.script(ToolCalls((Call("execute_code", sleeper), Call("write_file", '{"file_path": "x", "content": "y"}'))))
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    started = asyncio.Event()
    events.hooks.append(lambda e: started.set() if isinstance(e, ToolCallStarted) else None)
    task = asyncio.create_task(assistant.send("sleep then write"))
    await started.wait()
    began = time.monotonic()
    assistant.cancel()
    result = await task
    assert time.monotonic() - began < 5
    assert result.status == "cancelled"
    assert [(c.tool, c.status) for c in result.tool_calls] == [
        ("execute_code", "cancelled"), ("write_file", "cancelled")
    ]
    assert [e.command_text for e in events.of(ToolCallCancelled)] == ["run code:import time\ntime.sleep(30)", ""]
    assert not (tmp_path / "workspace" / "x").exists()
    answered = [m for m in assistant.messages if m.role == "tool"]
    assert [m.tool_status for m in answered] == ["cancelled", "cancelled"]
    assert answered[1].content == "[cancelled] not run: the user stopped the turn"
    await assistant.close()


async def test_cancel_while_waiting_for_approval(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    gate = HeldGate()
    ops = SecureOperations(sandbox, gate=gate)
    server.script(ToolCalls((Call("delete_file", '{"file_path": "a"}'),)))
    assistant = make_assistant(server.base_url, ops)
    task = asyncio.create_task(assistant.send("delete a"))
    await gate.entered.wait()
    assistant.cancel()
    result = await task
    assert result.status == "cancelled" and result.tool_calls[0].status == "cancelled"
    await assistant.close()


async def test_cancelling_the_task_cleans_up_and_propagates(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    server.script(Reply(SLOW_TEXT, chunk=6, delay=0.02))
    store = ConversationStore.open(tmp_path / "data")
    assistant = make_assistant(server.base_url, ops, history=store)
    events = recorded(assistant)
    first = asyncio.Event()
    events.hooks.append(lambda e: first.set() if isinstance(e, ReplyDelta) else None)
    task = asyncio.create_task(assistant.send("talk"))
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events.of(ReplyFinished)[-1].status == "cancelled" and not assistant.busy
    assert store.load_messages(assistant.conversation_id or 0)[-1].status == "cancelled"
    await assistant.close()
    store.close()


async def test_cancel_during_a_slow_first_byte(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Reply("late", first_delay=5))
    assistant = make_assistant(server.base_url, ops)
    task = asyncio.create_task(assistant.send("hello"))
    await asyncio.get_running_loop().run_in_executor(None, server.requests_seen.wait, 5)
    assistant.cancel()
    result = await task
    assert result.status == "cancelled" and result.reply == ""
    assert [m.role for m in assistant.messages] == ["user"]
    await assistant.close()
