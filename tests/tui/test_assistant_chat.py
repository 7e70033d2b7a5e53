"""The chat with a model: streamed Markdown replies, tool-call cards, suggested commands, cancel."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets._footer import FooterKey
from textual.worker import Worker, WorkerState

from core.backends.local import LocalSandbox
from core.history import ConversationStore
from core.operations import SecureOperations
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.openai_server.harness import make_assistant
from tests.tui.helpers import assistant_app, chat_text, footer_rebuilds, send, settle, submit, wait_until
from tui.widgets.chat_items import ToolCallCard
from tui.widgets.reply import AssistantReply

REPLY = "Here is **the plan**:\n\n```python\nprint(1)\n```\n\nThen run `read file:notes.txt` to check.\n"


async def test_a_reply_streams_in_as_markdown_and_offers_its_commands(
    server: OpenAIServer, ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    (sandbox.workspace / "notes.txt").write_text("my notes")
    server.script(Reply(REPLY, chunk=4))
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, "what should I do?")
        reply = app.main.query_one(AssistantReply)
        assert reply.text == REPLY
        assert "the plan" in reply.lines.source
        drawn = "\n".join(reply.lines.render_line(y).text for y in range(reply.lines.size.height))
        assert "the plan" in drawn and "print(1)" in drawn and "**" not in drawn
        assert [s.text for s in app.main.chat.suggestions] == ["read file:notes.txt"]
        await pilot.press("alt+1")
        await settle(pilot)
        assert app.results[-1].tool == "read_file" and app.results[-1].output == "my notes"
        assert app.main.chat.suggestions == ()
    assert server.chat_requests[0].messages[-1]["content"] == "what should I do?"


async def test_tool_calls_appear_as_cards_with_their_results(
    server: OpenAIServer, ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    (sandbox.workspace / "a.txt").write_text("alpha")
    server.script(
        ToolCalls((Call("read_file", '{"file_path": "a.txt"}', "c1"), Call("read_file", '{"file_path": "../x"}', "c2"),
                   Call("read_file", "{not json", "c3"))),
        Reply("Read it."),
    )
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, "read a.txt")
        cards = list(app.main.query(ToolCallCard))
        assert [(c.actor, c.status) for c in cards] == [("assistant", "ok"), ("assistant", "blocked"),
                                                        ("assistant", "rejected")]
        assert cards[0].command_text == "read file:a.txt" and cards[0].output == "alpha"
        assert cards[0].duration is not None
        assert "Read it." in chat_text(app)
        replies = list(app.main.query(AssistantReply))
        assert replies[-1].text == "Read it."


async def test_esc_stops_a_streaming_reply(server: OpenAIServer, ops: SecureOperations) -> None:
    words = " ".join(f"word{i}" for i in range(400))
    server.script(Reply(words, chunk=5, delay=0.01))
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        send(app, "talk")
        await wait_until(pilot, lambda: len(app.main.query(AssistantReply)) == 1
                         and len(app.main.query_one(AssistantReply).text) > 20, "the reply to start")
        await pilot.press("escape")
        await settle(pilot)
        reply = app.main.query_one(AssistantReply)
        assert reply.has_class("-cancelled") and words.startswith(reply.text) and len(reply.text) < len(words)
        assert app.assistant is not None and not app.assistant.busy
        assert "(cancelled)" in chat_text(app)


async def test_esc_stops_the_persons_running_code(ops: SecureOperations) -> None:
    from tui.app import SandchatApp

    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        send(app, "run code:import time\nprint('started', flush=True)\ntime.sleep(30)")
        await wait_until(pilot, lambda: "started" in [getattr(r, "text", "") for r in app.main.log_rows()],
                         "the code to start")
        await pilot.press("escape")
        await settle(pilot)
        card = app.main.query_one(ToolCallCard)
        assert card.status == "cancelled"
        entry = app.main.log_entries()[-1]
        assert entry.status == "failed" and "cancelled" in entry.message


async def test_without_a_model_requests_get_suggestions_and_how_to_configure(
    ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    from tui.app import SandchatApp

    (sandbox.workspace / "notes.txt").write_text("n")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, "show me notes.txt")
        assert "No AI model is configured" in chat_text(app)
        assert "read file:notes.txt" in [s.text for s in app.main.chat.suggestions]
        await pilot.press("alt+1")
        await settle(pilot)
        assert app.results[-1].tool == "read_file" and app.results[-1].output == "n"


async def test_a_saved_conversation_is_shown_again_and_continued(
    server: OpenAIServer, ops: SecureOperations, tmp_path: Path
) -> None:
    store = ConversationStore.open(tmp_path / "history")
    first = make_assistant(server.base_url, ops, history=store)
    server.script(Reply("The answer is 42."), Reply("Still 42."))
    await first.send("what is the answer?")
    conversation = first.conversation_id
    assert conversation is not None
    app = assistant_app(server.base_url, ops, history=store)
    async with app.run_test(size=(120, 40)) as pilot:
        app.resume_conversation(conversation)
        await settle(pilot)
        assert "> what is the answer?" in chat_text(app) and "The answer is 42." in chat_text(app)
        await submit(pilot, "are you sure?")
        assert "Still 42." in chat_text(app)
    assert [m.role for m in store.load_messages(conversation)] == ["user", "assistant", "user", "assistant"]
    await first.close()
    store.close()


@pytest.mark.parametrize(("with_model", "freeze"), [(True, False), (True, True), (False, True)])
async def test_the_warm_up_freezes_long_lived_objects_only_when_asked(
    server: OpenAIServer, ops: SecureOperations, with_model: bool, freeze: bool
) -> None:
    """Without a model there is nothing to warm up, but the sandchat command still freezes the app's objects."""
    from tui.app import SandchatApp

    seen: list[Message] = []
    app = (assistant_app(server.base_url, ops, freeze_after_warm_up=freeze) if with_model
           else SandchatApp(ops, freeze_after_warm_up=freeze))
    frozen_before = gc.get_freeze_count()
    try:
        async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
            await wait_until(pilot, lambda: any(
                isinstance(m, Worker.StateChanged) and m.worker.group == "warm-up" and m.state == WorkerState.SUCCESS
                for m in seen), "the warm-up")
            assert (gc.get_freeze_count() > frozen_before) is freeze
    finally:
        gc.unfreeze()  # this test process runs many apps: frozen objects would never be collected


async def test_the_footer_offers_stop_while_a_reply_streams_and_is_rebuilt_only_when_that_changes(
    server: OpenAIServer, ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    words = " ".join(f"word{i}" for i in range(150))
    server.script(Reply(words, chunk=5, delay=0.01), Reply("Then run `list files:` to look.\n", delay=0.02))
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rebuilt = footer_rebuilds(app)

        def keys() -> set[str]:
            return {key.description for key in app.main.query(FooterKey)}

        send(app, "talk")
        await wait_until(pilot, lambda: "Stop" in keys(), "Stop in the footer")
        await settle(pilot)
        assert "Stop" not in keys() and "Run suggestion" not in keys()
        assert len(rebuilt) == 2  # busy, then idle: not once per status text or empty offer
        send(app, "and now?")
        await wait_until(pilot, lambda: "Stop" in keys(), "Stop in the footer again")
        await settle(pilot)
        assert "Run suggestion" in keys() and "Stop" not in keys()
        assert len(rebuilt) == 4

