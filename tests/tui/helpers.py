"""Helpers for driving the app with Pilot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input
from textual.widgets.tree import TreeNode

from core.operations import SecureOperations
from tests.openai_server.harness import make_assistant
from tui.app import SandchatApp
from tui.screens.approval import ModalApprover
from tui.widgets.file_browser import FileBrowser, NodeData
from tui.widgets.prompt import PromptArea

WAIT_LIMIT = 10.0  # seconds before wait_until gives up


async def settle(pilot: Pilot[Any], rounds: int = 3) -> None:
    """Let workers finish and messages be handled, a few times over (one step often starts the next)."""
    for _ in range(rounds):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def submit(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the prompt and send it, then wait for what it started."""
    prompt = pilot.app.query_one(PromptArea)
    prompt.load_text(text)
    prompt.action_submit()
    await settle(pilot)


def focused(app: App[Any]) -> object:
    """The focused widget, typed loosely so comparisons after an isinstance check stay meaningful to mypy."""
    return app.focused


def top_screen(app: App[Any]) -> object:
    return app.screen_stack[-1]


def chat_text(app: SandchatApp) -> str:
    return app.main.chat.transcript()


def tree_labels(app: SandchatApp) -> list[str]:
    tree = app.main.query_one(FileBrowser)
    out: list[str] = []

    def walk(node: TreeNode[NodeData]) -> None:
        for child in node.children:
            out.append(str(child.label))
            walk(child)

    walk(tree.root)
    return out


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition`` holds (for steps that wait on a person, where settle would hang)."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


def footer_rebuilds(app: SandchatApp) -> list[float]:
    """The app's input hold (see SandchatApp.input_hold) at each rebuild of the main screen's footer, from now on."""
    rebuilt: list[float] = []
    refresh_bindings = app.main.refresh_bindings

    def counted() -> None:
        rebuilt.append(app.input_hold())
        refresh_bindings()

    app.main.refresh_bindings = counted  # type: ignore[method-assign]
    return rebuilt


def send(app: SandchatApp, text: str) -> None:
    """Type and send ``text`` without waiting for what it starts."""
    prompt = app.query_one(PromptArea)
    prompt.load_text(text)
    prompt.action_submit()


def assistant_app(server_url: str, ops: SecureOperations, approver: ModalApprover | None = None,
                  **kwargs: Any) -> SandchatApp:
    """The app with an assistant talking to the scripted server; the approver answers through its modal."""
    assistant = make_assistant(server_url, ops, history=kwargs.get("history"))
    app = SandchatApp(ops, None, None, assistant, **kwargs)
    if approver is not None:
        approver.attach(app)
    return app


async def run_from_palette(pilot: Pilot[Any], search: str) -> None:
    """Open the command palette, search for ``search`` and run the first hit."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    pilot.app.screen.query_one(Input).value = search
    await pilot.pause(0.3)  # the palette searches after a short delay
    await pilot.press("enter")
    await pilot.pause()
