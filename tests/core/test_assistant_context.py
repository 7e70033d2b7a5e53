"""The context budget: long tool results truncated with a marker, the oldest turns dropped by the documented rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.assistant.context import (
    OMITTED_TOOL_OUTPUT,
    UNANSWERED_CALL,
    ContextBudget,
    estimate_tokens,
    fit_messages,
    message_tokens,
)
from core.assistant.messages import ChatMessage, ToolCallRequest
from core.assistant.tools import truncate
from core.history import ConversationStore
from core.operations import SecureOperations
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.openai_server.harness import make_assistant


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def test_estimate_is_four_characters_a_token() -> None:
    assert estimate_tokens("") == 0 and estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    call = {"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "ab", "arguments": "cd"}}]}
    assert message_tokens(call) == 4 + 0 + 1


def test_truncate_keeps_head_and_tail_with_a_marker() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    cut = truncate(text, 400)
    assert cut.startswith("HEAD") and cut.endswith("TAIL") and len(cut) < 500
    assert "[... 9,608 of 10,008 characters omitted to fit the context budget ...]" in cut
    assert truncate("short", 400) == "short"


def turn(n: int, size: int) -> list[ChatMessage]:
    return [ChatMessage("user", f"question {n} " + "q" * size), ChatMessage("assistant", f"answer {n} " + "a" * size)]


def test_oldest_turns_are_dropped_whole_and_the_system_prompt_says_so() -> None:
    history = turn(1, 400) + turn(2, 400) + turn(3, 400)
    fitted = fit_messages("system", history, ContextBudget(max_tokens=300))
    contents = [m["content"][:10] for m in fitted.messages]
    assert contents == ["system\n\n[4", "question 3", "answer 3 a"]
    assert fitted.dropped_messages == 4
    assert "4 earlier messages of this conversation were left out" in fitted.messages[0]["content"]
    assert fitted.estimated_tokens <= 300


def test_nothing_is_dropped_within_budget() -> None:
    history = turn(1, 10) + turn(2, 10)
    fitted = fit_messages("system", history, ContextBudget(max_tokens=10_000))
    assert fitted.dropped_messages == 0 and len(fitted.messages) == 5 and fitted.messages[0]["content"] == "system"


def test_a_tool_call_is_never_separated_from_its_result() -> None:
    calls = (ToolCallRequest("c1", "read_file", '{"file_path": "a"}'),)
    history = [
        ChatMessage("user", "read a"), ChatMessage("assistant", "", calls),
        ChatMessage("tool", "x" * 4000, tool_call_id="c1"), ChatMessage("assistant", "done"),
        ChatMessage("user", "and now?"),
    ]
    fitted = fit_messages("s", history, ContextBudget(max_tokens=300))
    assert [m["role"] for m in fitted.messages] == ["system", "user"]


def test_the_current_turn_omits_older_tool_results_but_keeps_the_latest() -> None:
    calls = tuple(ToolCallRequest(f"c{i}", "read_file", "{}") for i in range(3))
    history = [ChatMessage("user", "read three"), ChatMessage("assistant", "", calls)]
    history += [ChatMessage("tool", f"result {i} " + "r" * 2000, tool_call_id=f"c{i}") for i in range(3)]
    fitted = fit_messages("s", history, ContextBudget(max_tokens=800))
    tools = [m["content"] for m in fitted.messages if m["role"] == "tool"]
    assert tools[:2] == [OMITTED_TOOL_OUTPUT, OMITTED_TOOL_OUTPUT] and tools[2].startswith("result 2")
    assert fitted.omitted_tool_results == 2


async def test_long_file_contents_reach_the_model_truncated(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    (tmp_path / "workspace").mkdir(exist_ok=True)
    (tmp_path / "workspace" / "big.txt").write_text("BEGIN" + "z" * 50_000 + "END")
    server.script(ToolCalls((Call("read_file", '{"file_path": "big.txt"}'),)), Reply("It is big."))
    assistant = make_assistant(server.base_url, ops, budget=ContextBudget(tool_result_chars=1000))
    result = await assistant.send("read big.txt")
    assert result.status == "complete"
    sent = server.chat_requests[1].messages[-1]["content"]
    assert sent.startswith("[ok] read 50,008 bytes") and "BEGIN" in sent and sent.endswith("END")
    assert "characters omitted to fit the context budget" in sent and len(sent) < 1200
    await assistant.close()


async def test_old_turns_are_left_out_of_requests_but_kept_in_the_conversation(
    server: OpenAIServer, ops: SecureOperations
) -> None:
    server.script(Reply("first answer " + "a" * 3000), Reply("second answer"), Reply("third answer"))
    assistant = make_assistant(server.base_url, ops, budget=ContextBudget(max_tokens=1500))
    for question in ("first", "second", "third"):
        await assistant.send(question)
    sent = server.chat_requests[2].messages
    assert [m["content"] for m in sent[1:]] == ["second", "second answer", "third"]
    assert "2 earlier messages" in sent[0]["content"]
    assert len(assistant.messages) == 6
    await assistant.close()


def test_unanswered_calls_are_answered_and_stray_results_dropped() -> None:
    calls = (ToolCallRequest("c1", "read_file", "{}"), ToolCallRequest("c2", "list_files", "{}"))
    history = [
        ChatMessage("tool", "stray", tool_call_id="zz"),
        ChatMessage("user", "go"), ChatMessage("assistant", "", calls),
        ChatMessage("tool", "one", tool_call_id="c1"),
        ChatMessage("user", "hello again"),
    ]
    sent = fit_messages("s", history, ContextBudget()).messages
    assert [(m["role"], m.get("tool_call_id"), m["content"]) for m in sent[1:]] == [
        ("user", None, "go"), ("assistant", None, None), ("tool", "c1", "one"), ("tool", "c2", UNANSWERED_CALL),
        ("user", None, "hello again"),
    ]


async def test_a_conversation_cut_by_a_crash_during_a_tool_call_can_be_resumed(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    store = ConversationStore.open(tmp_path / "data")
    conv = store.create_conversation("t", "test-model")
    store.add_message(conv, ChatMessage("user", "run it"))
    store.add_message(conv, ChatMessage("assistant", "", (ToolCallRequest("c1", "execute_code", '{"code": "1"}'),)))
    assistant = make_assistant(server.base_url, ops, history=store)
    assistant.resume(conv)
    server.script(Reply("It did not finish."))
    assert (await assistant.send("what happened?")).status == "complete"
    assert server.chat_requests[0].messages[-2] == {"role": "tool", "tool_call_id": "c1", "content": UNANSWERED_CALL}
    await assistant.close()
    store.close()
