"""The conversations screen, pushed alone in a tiny host app over a real history database in a temp dir."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App
from textual.content import Content
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import Input, Static

from core.assistant.messages import ChatMessage
from core.history import ConversationStore
from tui.screens.conversations import ConversationsScreen, ConversationTable
from tui.screens.dialogs import ConfirmScreen

HOSTILE = "\x1b]52;c;aGVsbG8=\x07[bold red]pwn[/] \x1b[2J\x1b[31mred"


class Host(App[None]):
    """Pushes the conversations screen at start and records what it dismisses with."""

    def __init__(self, store: ConversationStore) -> None:
        super().__init__()
        self.store = store
        self.results: list[int | None] = []
        self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(ConversationsScreen(self.store), self.results.append)

    @property
    def conversations(self) -> ConversationsScreen:
        screen = self.screen
        assert isinstance(screen, ConversationsScreen)
        return screen

    @property
    def table(self) -> ConversationTable:
        return self.conversations.query_one(ConversationTable)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConversationStore]:
    opened = ConversationStore.open(tmp_path / "data")
    yield opened
    opened.close()


def add(store: ConversationStore, title: str, model: str, *texts: str) -> int:
    conversation = store.create_conversation(title, model)
    for text in texts:
        store.add_message(conversation, ChatMessage("user", text))
    return conversation


@pytest.fixture
def three(store: ConversationStore) -> tuple[int, int, int]:
    """Three conversations; the last one added is listed first."""
    fib = add(store, "Fibonacci numbers", "gpt-a", "write a fibonacci function in python", "thanks")
    sort = add(store, "Sorting", "gpt-b", "sort a list of numbers in python")
    empty = add(store, "Empty one", "gpt-c")
    return fib, sort, empty


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(2):  # a change's worker, then the reload it starts
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def titles(app: Host) -> list[str]:
    table = app.table
    return [str(table.get_cell_at(Coordinate(row, 0))) for row in range(table.row_count)]


async def select(pilot: Pilot[None], app: Host, conversation_id: int) -> None:
    app.table.focus()
    app.table.move_cursor(row=app.table.get_row_index(str(conversation_id)))
    await pilot.pause()


async def test_the_list_shows_title_updated_model_and_message_count(
    store: ConversationStore, three: tuple[int, int, int]
) -> None:
    fib, _, _ = three
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert titles(app) == ["Empty one", "Sorting", "Fibonacci numbers"]
        title, updated, model, count, match = (str(cell) for cell in app.table.get_row(str(fib)))
        assert (title, model, count, match) == ("Fibonacci numbers", "gpt-a", "2", "")
        assert updated == time.strftime("%Y-%m-%d %H:%M", time.localtime(store.conversation(fib).updated))
        assert "3 conversations" in str(app.conversations.query_one("#conversations-status", Static).render())


async def test_search_narrows_the_list_and_escape_clears_it(
    store: ConversationStore, three: tuple[int, int, int]
) -> None:
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"fibonacci")
        await settle(pilot)
        assert titles(app) == ["Fibonacci numbers"]
        assert "[fibonacci]" in str(app.table.get_cell_at(Coordinate(0, 4)))  # the matching text
        search = app.conversations.query_one("#search", Input)
        search.value = "python"
        await settle(pilot)
        assert sorted(titles(app)) == ["Fibonacci numbers", "Sorting"]
        search.value = "empty"
        await settle(pilot)
        assert titles(app) == ["Empty one"] and str(app.table.get_cell_at(Coordinate(0, 4))) == "(in the title)"
        search.value = "nothing-like-this"
        await settle(pilot)
        assert titles(app) == []
        assert "Nothing matches" in str(app.conversations.query_one("#conversations-status", Static).render())
        await pilot.press("escape")
        await settle(pilot)
        assert len(titles(app)) == 3 and app.results == []


async def test_rename_persists(store: ConversationStore, three: tuple[int, int, int]) -> None:
    _, sort, _ = three
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select(pilot, app, sort)
        await pilot.press("r")
        edit = app.conversations.query_one("#edit", Input)
        assert app.conversations.focused is edit and edit.value == "Sorting"
        await pilot.press("ctrl+u", *"Quicksort", "enter")
        await settle(pilot)
        assert store.conversation(sort).title == "Quicksort"
        assert "Quicksort" in titles(app)
        assert app.table.has_focus


async def test_delete_asks_first_and_can_be_cancelled(store: ConversationStore, three: tuple[int, int, int]) -> None:
    fib, _, _ = three
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select(pilot, app, fib)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "Fibonacci numbers" in app.screen.question.plain
        await pilot.press("n")
        await settle(pilot)
        assert "Fibonacci numbers" in titles(app) and store.conversation(fib).message_count == 2
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert titles(app) == ["Empty one", "Sorting"]
        assert [c.id for c in store.list_conversations()] == [three[2], three[1]]


async def test_export_writes_markdown_and_asks_before_replacing_a_file(
    store: ConversationStore, three: tuple[int, int, int], tmp_path: Path
) -> None:
    fib, _, _ = three
    target = tmp_path / "fib.md"
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select(pilot, app, fib)
        await pilot.press("e")
        edit = app.conversations.query_one("#edit", Input)
        assert edit.value == f"conversation-{fib}.md"
        edit.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        text = target.read_text()
        assert text.startswith("# Fibonacci numbers\n") and "write a fibonacci function in python" in text
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        target.write_text("mine")
        await pilot.press("e")
        edit.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert target.read_text() == "mine"
        await pilot.press("e")
        edit.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert target.read_text() == text


async def test_enter_resumes_the_selected_conversation(store: ConversationStore, three: tuple[int, int, int]) -> None:
    _, sort, _ = three
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [sort]


async def test_escape_closes_without_a_conversation(store: ConversationStore, three: tuple[int, int, int]) -> None:
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_hostile_titles_and_snippets_are_inert(store: ConversationStore) -> None:
    bad = add(store, HOSTILE, "\x1b[5mmodel", f"find me {HOSTILE}")
    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        cells = [app.table.get_row(str(bad))[0], app.table.get_row(str(bad))[2]]
        app.conversations.query_one("#search", Input).value = "find"
        await settle(pilot)
        cells.append(app.table.get_cell_at(Coordinate(0, 4)))
        await select(pilot, app, bad)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        question = app.screen.query(Static).first().render()
    assert isinstance(question, Content)
    for cell in [*cells, question]:
        assert isinstance(cell, Text | Content)
        assert "\x1b" not in cell.plain and "\x07" not in cell.plain
        assert not cell.spans and not (isinstance(cell, Text) and cell.style)  # no markup took effect
    assert cells[0].plain == "[bold red]pwn[/] red"
    assert cells[1].plain == "model"
    assert "[bold red]pwn[/]" in question.plain


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC for this test, so a snapshot shows the same times everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("utc")
def test_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snap_compare: Callable[..., bool]) -> None:
    store = ConversationStore.open(tmp_path / "data")
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: 1_717_171_717.0)  # fixed "updated" times, only while filling
        add(store, "Fibonacci numbers", "gpt-test", "write a fibonacci function in python", "thanks")
        add(store, "Sorting a list of numbers", "local-llama", "sort a list of numbers in python")
        add(store, HOSTILE, "gpt-test", "hello")

    async def loaded(pilot: Pilot[None]) -> None:
        await settle(pilot)

    try:
        assert snap_compare(Host(store), terminal_size=(120, 40), run_before=loaded)
    finally:
        store.close()


async def test_the_screens_actions_are_in_the_command_palette(store: ConversationStore,
                                                             three: tuple[int, int, int]) -> None:
    from tests.tui.helpers import run_from_palette

    app = Host(store)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await run_from_palette(pilot, "Conversations: rename")
        assert app.conversations.query_one("#edit-bar").has_class("-open")
