"""Keys first: a key press is noted as the driver reads it, and work that can wait holds off until it is shown."""

from __future__ import annotations

import time

import pytest
from textual import events
from textual.drivers.headless_driver import HeadlessDriver

import tui.app as app_module
from core.operations import SecureOperations
from tests.openai_server import OpenAIServer, Reply
from tests.tui.helpers import assistant_app, footer_rebuilds, send, settle, wait_until
from tui.app import INPUT_HOLD, SandchatApp, _noting_input
from tui.widgets.prompt import PromptArea


async def test_a_key_is_noted_when_the_driver_reads_it_and_still_reaches_the_prompt(
    server: OpenAIServer, ops: SecureOperations
) -> None:
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.input_hold() == 0
        driver = _noting_input(HeadlessDriver)(app, size=(120, 40))
        driver.process_message(events.Key("x", "x"))  # what the driver's input thread does with a key it read
        assert 0 < app.input_hold() <= INPUT_HOLD  # noted before the key waited in any queue
        await wait_until(pilot, lambda: app.query_one(PromptArea).text == "x", "the key in the prompt")
        driver.process_message(events.AppFocus())  # other events are passed on, not noted
        noted = app.input_at
        await pilot.pause()
        assert app.input_at == noted


async def test_the_assistant_gives_way_to_a_key_press(server: OpenAIServer, ops: SecureOperations) -> None:
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.assistant is not None and app.assistant.give_way == app.give_way
        _noting_input(HeadlessDriver)(app, size=(120, 40)).process_message(events.Key("y", "y"))
        assert app.input_hold() > 0
        await app.give_way()  # waits out the key's hold
        assert app.input_hold() == 0
        started = time.monotonic()
        await app.give_way()  # no key: one turn of the event loop
        assert app.input_hold() == 0 and time.monotonic() - started < INPUT_HOLD


async def test_the_footer_is_rebuilt_after_a_key_press_is_shown(
    server: OpenAIServer, ops: SecureOperations, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "INPUT_HOLD", 0.3)  # a hold the turn's start cannot outlast
    app = assistant_app(server.base_url, ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        rebuilt = footer_rebuilds(app)
        server.script(Reply(" ".join(f"w{i}" for i in range(200)), chunk=1, delay=0.01))  # a turn of 2 s
        _noting_input(HeadlessDriver)(app, size=(120, 40)).process_message(events.Key("z", "z"))
        send(app, "talk")
        await wait_until(pilot, lambda: len(rebuilt) >= 1, "the footer to be rebuilt")
        assert rebuilt[0] == 0  # not while the key press was held for


async def test_a_reply_still_streaming_when_the_app_quits_is_let_go(
    server: OpenAIServer, ops: SecureOperations
) -> None:
    """Pieces and events of a reply that arrive while the app shuts down have no screen to go to: dropped (the
    conversation's history keeps the reply), not an error at exit."""
    server.script(*(Reply(" ".join(f"w{i}" for i in range(400)), chunk=2, delay=0.002) for _ in range(3)))
    for _ in range(3):
        await quit_while_streaming(assistant_app(server.base_url, ops))


async def quit_while_streaming(app: SandchatApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        send(app, "talk")
        await wait_until(pilot, lambda: "w10" in app.main.chat.transcript(), "the reply to stream")
    assert app._exception is None
