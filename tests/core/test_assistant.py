"""The assistant's tool loop against the local OpenAI-compatible server, over a real local sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.assistant.events import ReplyDelta, ReplyFinished, ToolCallFinished, ToolCallStarted, TurnError
from core.assistant.loop import DEFAULT_SYSTEM_PROMPT
from core.assistant.reply import HOLD
from core.assistant.tools import TOOLS
from core.backends.local import LocalSandbox
from core.operations import SecureOperations
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.openai_server.harness import DenyAll, make_assistant, recorded


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def args(**values: str) -> str:
    return json.dumps(values)


async def test_reply_streams_token_by_token(server: OpenAIServer, ops: SecureOperations) -> None:
    # tokens further apart than the hold time are handed on one by one
    server.script(Reply("Hello there, how can I help?", chunk=2, delay=HOLD + 0.03))
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("hi")
    assert result.status == "complete" and result.reply == "Hello there, how can I help?"
    deltas = events.of(ReplyDelta)
    assert len(deltas) == 14 and all(len(d.text) <= 2 for d in deltas)
    assert events.kinds()[-1] == "ReplyFinished" and events.of(ReplyFinished)[0].status == "complete"
    sent = server.chat_requests[0]
    assert sent.body["model"] == "test-model" and sent.body["stream"] is True
    assert sent.headers["authorization"] == "Bearer sk-test-key-for-the-local-server"
    assert sent.messages == [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, {"role": "user", "content": "hi"}]
    await assistant.close()


async def test_a_burst_of_tokens_is_handed_on_in_a_few_pieces(server: OpenAIServer, ops: SecureOperations) -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    server.script(Reply(text, chunk=3))  # about 3,000 events, as fast as the server can write them
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("hi")
    deltas = events.of(ReplyDelta)
    assert result.reply == text and "".join(d.text for d in deltas) == text
    assert len(deltas) < 300  # held for up to HOLD seconds: not one event (and one commit) per token
    await assistant.close()


async def test_the_seven_tools_are_offered_under_the_seeds_names(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Reply("ok"))
    assistant = make_assistant(server.base_url, ops, system_prompt="Be brief.")
    await assistant.send("hi")
    sent = server.chat_requests[0]
    assert sent.tool_names == ["read_file", "write_file", "delete_file", "list_files", "get_file_info",
                               "execute_code", "search_web"]
    params = {t["function"]["name"]: t["function"]["parameters"] for t in sent.body["tools"]}
    assert params["write_file"]["required"] == ["file_path", "content"]
    assert params["execute_code"]["properties"].keys() == {"code", "language"}
    assert params["list_files"]["properties"].keys() == {"directory"}
    assert all(p["additionalProperties"] is False for p in params.values())
    assert sent.messages[0] == {"role": "system", "content": "Be brief."}
    assert set(TOOLS) == set(params)
    await assistant.close()


async def test_write_then_read_then_run_in_a_real_sandbox(
    server: OpenAIServer, ops: SecureOperations, sandbox: LocalSandbox, tmp_path: Path
) -> None:
    server.script(
        ToolCalls((Call("write_file", args(file_path="calc.py", content="print(6 * 7)\n")),), split=3),
        ToolCalls((Call("read_file", args(file_path="calc.py")),)),
        ToolCalls((Call("execute_code", args(code="exec(open('calc.py').read())", language="python")),)),
        Reply("The program prints 42."),
    )
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("write a program that prints 6*7, check it and run it")
    assert result.status == "complete" and result.steps == 4
    assert (tmp_path / "workspace" / "calc.py").read_text() == "print(6 * 7)\n"
    assert [c.status for c in result.tool_calls] == ["ok", "ok", "ok"]
    assert [e.command_text for e in events.of(ToolCallStarted)] == [
        "write file:calc.py content:print(6 * 7)\n", "read file:calc.py", "run code:exec(open('calc.py').read())",
    ]
    tool_replies = [m for m in server.chat_requests[-1].messages if m["role"] == "tool"]
    assert tool_replies[1]["content"].endswith("print(6 * 7)\n")
    assert tool_replies[2]["content"] == "[ok] " + result.tool_calls[2].message + "\n42"
    assert [m["tool_call_id"] for m in tool_replies] == [c.call_id for c in result.tool_calls]
    await assistant.close()


async def test_arguments_split_over_many_chunks_are_put_together(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    content = "line one\nline \"two\" with ünïcödé and a tab\t\n" * 20
    server.script(ToolCalls((Call("write_file", args(file_path="notes/a.txt", content=content)),), split=1),
                  Reply("done"))
    assistant = make_assistant(server.base_url, ops)
    result = await assistant.send("save it")
    assert result.status == "complete"
    assert (tmp_path / "workspace" / "notes" / "a.txt").read_text() == content
    await assistant.close()


async def test_parallel_tool_calls_run_in_order_and_each_is_answered(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    server.script(
        ToolCalls((Call("write_file", args(file_path="a.txt", content="A")),
                   Call("write_file", args(file_path="b.txt", content="B")),
                   Call("list_files", args(directory=""))), split=5),
        Reply("Two files."),
    )
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("make two files and list them")
    assert [c.tool for c in result.tool_calls] == ["write_file", "write_file", "list_files"]
    listing = events.of(ToolCallFinished)[2].result
    assert {e.name for e in listing.entries} == {"a.txt", "b.txt"}
    second = server.chat_requests[1].messages
    assert [m["role"] for m in second[-4:]] == ["assistant", "tool", "tool", "tool"]
    assert len(second[-4]["tool_calls"]) == 3
    await assistant.close()


async def test_text_before_tool_calls_and_after_is_all_in_the_reply(
    server: OpenAIServer, ops: SecureOperations
) -> None:
    server.script(ToolCalls((Call("list_files", "{}"),), text="Let me look."), Reply("The workspace is empty."))
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("what is there?")
    assert result.reply == "Let me look.\n\nThe workspace is empty."
    assert {d.step for d in events.of(ReplyDelta)} == {1, 2}
    await assistant.close()


async def test_denials_and_blocks_are_told_to_the_model(server: OpenAIServer, sandbox: LocalSandbox) -> None:
    ops = SecureOperations(sandbox, gate=DenyAll())
    server.script(
        ToolCalls((Call("delete_file", args(file_path="notes.txt")),
                   Call("read_file", args(file_path="../../etc/passwd")))),
        Reply("I was not allowed."),
    )
    assistant = make_assistant(server.base_url, ops)
    result = await assistant.send("delete notes and read passwd")
    assert [c.status for c in result.tool_calls] == ["denied", "blocked"]
    answers = [m["content"] for m in server.chat_requests[1].messages if m["role"] == "tool"]
    assert answers[0] == "[denied] denied by the test gate"
    assert answers[1].startswith("[blocked] path '../../etc/passwd' rejected")
    await assistant.close()


async def test_step_limit_stops_the_loop(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(*(ToolCalls((Call("list_files", "{}"),)) for _ in range(3)))
    assistant = make_assistant(server.base_url, ops, max_steps=3)
    events = recorded(assistant)
    result = await assistant.send("loop forever")
    assert result.status == "incomplete" and result.steps == 3 and len(result.tool_calls) == 3
    assert result.error is not None and result.error.kind == "step_limit"
    assert "assistant.max_steps" in events.of(TurnError)[0].message
    assert len(server.chat_requests) == 3 and server.pending == 0
    # the last step's calls ran and were answered, so "continue" picks up from there
    server.script(Reply("Done now."))
    again = await assistant.send("continue")
    assert again.status == "complete"
    assert [m["role"] for m in server.chat_requests[-1].messages[-3:]] == ["assistant", "tool", "user"]
    await assistant.close()


async def test_conversation_continues_across_turns(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Reply("Paris."), Reply("About 2 million."))
    assistant = make_assistant(server.base_url, ops)
    await assistant.send("capital of France?")
    await assistant.send("population?")
    roles = [(m["role"], m["content"]) for m in server.chat_requests[1].messages[1:]]
    assert roles == [("user", "capital of France?"), ("assistant", "Paris."), ("user", "population?")]
    assistant.new_conversation()
    server.script(Reply("Hi."))
    await assistant.send("hello")
    assert len(server.chat_requests[2].messages) == 2
    await assistant.close()
