"""Conversation history: saved as it happens, listed, resumed, renamed, deleted, searched, exported; no secrets."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.assistant.messages import ChatMessage, ToolCallRequest
from core.history import ConversationStore, HistoryError
from core.operations import SecureOperations
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.openai_server.harness import make_assistant

KEY = "sk-test-key-for-the-local-server"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    opened = ConversationStore.open(tmp_path / "data", known_secrets=[KEY])
    yield opened
    opened.close()


async def test_a_turn_is_saved_with_its_tool_calls_and_results(
    server: OpenAIServer, ops: SecureOperations, store: ConversationStore
) -> None:
    server.script(ToolCalls((Call("write_file", '{"file_path": "a.txt", "content": "hi"}'),), text="Writing."),
                  Reply("Done."))
    assistant = make_assistant(server.base_url, ops, history=store)
    result = await assistant.send("write hi to a.txt")
    conversation = store.conversation(result.conversation_id or 0)
    assert conversation.title == "write hi to a.txt" and conversation.model == "test-model"
    assert conversation.message_count == 4
    saved = store.messages(conversation.id)
    assert [(s.message.role, s.message.status) for s in saved] == [
        ("user", "complete"), ("assistant", "complete"), ("tool", "complete"), ("assistant", "complete")]
    call = saved[1].message.tool_calls[0]
    assert call.name == "write_file" and json.loads(call.arguments) == {"file_path": "a.txt", "content": "hi"}
    tool = saved[2].message
    assert (tool.tool_call_id, tool.tool_name, tool.command, tool.tool_status) == (
        call.id, "write_file", "write file:a.txt content:hi", "ok")
    assert tool.content == "[ok] wrote 2 bytes to /workspace/a.txt"
    assert saved[1].message.content == "Writing." and all(s.message.model == "test-model" for s in saved)
    assert not any(s.streaming for s in saved)
    await assistant.close()


async def test_resume_loads_the_conversation_back_into_the_context(
    server: OpenAIServer, ops: SecureOperations, store: ConversationStore
) -> None:
    server.script(ToolCalls((Call("list_files", "{}"),)), Reply("Empty."), Reply("Still empty."))
    first = make_assistant(server.base_url, ops, history=store)
    result = await first.send("what files are there?")
    await first.close()
    second = make_assistant(server.base_url, ops, history=store)
    second.resume(result.conversation_id or 0)
    assert second.messages == first.messages
    await second.send("and now?")
    assert server.chat_requests[2].messages[1:-1] == server.chat_requests[1].messages[1:] + [
        {"role": "assistant", "content": "Empty."}]
    assert store.conversation(result.conversation_id or 0).message_count == 6
    assert len(store.list_conversations()) == 1
    await second.close()


def test_list_rename_delete(store: ConversationStore) -> None:
    first = store.create_conversation("first", "m1")
    second = store.create_conversation("second", "m2")
    store.add_message(first, ChatMessage("user", "newer message"))
    assert [c.id for c in store.list_conversations()] == [first, second]
    store.rename(second, "  a better title ")
    assert store.conversation(second).title == "a better title"
    store.delete(first)
    assert [c.title for c in store.list_conversations()] == ["a better title"]
    with pytest.raises(HistoryError, match="no conversation"):
        store.messages(first)
    with pytest.raises(HistoryError):
        store.rename(first, "x")
    with pytest.raises(HistoryError):
        store.delete(first)


def test_full_text_search_finds_messages_and_titles(store: ConversationStore) -> None:
    a = store.create_conversation("Fibonacci numbers", "m")
    store.add_message(a, ChatMessage("user", "write a fibonacci function in python"))
    store.add_message(a, ChatMessage("assistant", "Here is a recursive version."))
    b = store.create_conversation("Sorting", "m")
    store.add_message(b, ChatMessage("user", "sort a list of numbers in python"))
    assert store.full_text
    hits = store.search("python fibonacci")
    assert [(h.conversation_id, h.role) for h in hits] == [(a, "user")]
    assert "[fibonacci]" in hits[0].snippet and "[python]" in hits[0].snippet
    titles = store.search("fibonacci numbers")
    assert [(h.conversation_id, h.role, h.message_id) for h in titles] == [(a, "title", None)]
    assert {h.conversation_id for h in store.search("python")} == {a, b}
    assert store.search('"unbalanced AND ( OR') == []  # FTS syntax is never interpreted
    assert store.search("   ") == []
    store.delete(a)
    assert {h.conversation_id for h in store.search("python")} == {b}  # deleted messages leave the index


def test_export_as_markdown(store: ConversationStore) -> None:
    conv = store.create_conversation("Code", "gpt-test")
    store.add_message(conv, ChatMessage("user", "show me ```fences```"))
    call = ToolCallRequest("c1", "execute_code", '{"code": "print(1)"}')
    store.add_message(conv, ChatMessage("assistant", "Running it.", (call,)))
    store.add_message(conv, ChatMessage("tool", "[ok] python: exit code 0\n1", tool_call_id="c1",
                                        tool_name="execute_code", command="run code:print(1)", tool_status="ok"))
    store.add_message(conv, ChatMessage("assistant", "It printed", status="cancelled"))
    text = store.export_markdown(conv)
    assert text.startswith("# Code\n") and "model gpt-test" in text
    assert "## You · " in text and "show me ```fences```" in text
    assert '````json\n{"code": "print(1)"}\n````' not in text and '```json\n{"code": "print(1)"}\n```' in text
    assert "```text\nrun code:print(1)\n```" in text and "*(stopped by the user)*" in text


def test_fences_are_longer_than_any_backticks_inside(store: ConversationStore) -> None:
    conv = store.create_conversation("t", "m")
    store.add_message(conv, ChatMessage("tool", "a ```` b", tool_call_id="x", tool_name="read_file", tool_status="ok"))
    assert "`````text\na ```` b\n`````" in store.export_markdown(conv)


def test_api_keys_are_never_stored(store: ConversationStore, tmp_path: Path) -> None:
    conv = store.create_conversation(f"key {KEY}", "m")
    store.add_message(conv, ChatMessage("user", f"my key is {KEY} and ghp_{'a' * 36}"))
    row = store.begin_message(conv, "assistant", "m")
    store.append_delta(row, f"you said {KEY}")
    store.finish_message(row, ChatMessage("assistant", f"you said {KEY[:10]}{KEY[10:]}"))
    store.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data").iterdir())
    assert KEY.encode() not in raw and b"ghp_aaaa" not in raw
    reopened = ConversationStore.open(tmp_path / "data")
    assert "[REDACTED]" in reopened.load_messages(conv)[0].content
    reopened.close()


def test_files_are_private(store: ConversationStore, tmp_path: Path) -> None:
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE(store.db_path.stat().st_mode) == 0o600


def test_a_streaming_reply_is_readable_while_it_streams_and_recovered_after(tmp_path: Path) -> None:
    writer = ConversationStore.open(tmp_path / "data")
    conv = writer.create_conversation("t", "m")
    row = writer.begin_message(conv, "assistant", "m")
    for piece in ("Hel", "lo ", "wor"):
        writer.append_delta(row, piece)
    reader = ConversationStore.open(tmp_path / "data")  # another process opening it meanwhile
    assert reader.load_messages(conv)[0].content == "Hello wor"
    assert reader.recovered == 1 and reader.load_messages(conv)[0].status == "incomplete"
    writer.finish_message(row, ChatMessage("assistant", "Hello world"))
    assert reader.load_messages(conv)[0].content == "Hello world"
    writer.close()
    reader.close()
