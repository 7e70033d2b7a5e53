"""The file browser: open (with highlighting), new file, delete with confirmation, refresh, large directories."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.widgets import Input

from core.backends.local import LocalSandbox
from core.operations import SecureOperations
from tests.tui.helpers import settle, tree_labels, wait_until
from tui.app import SandchatApp
from tui.screens.dialogs import ConfirmScreen, NewFileScreen
from tui.screens.file_view import FileViewScreen
from tui.widgets.file_browser import BATCH, FileBrowser, MoreEntries


def select(tree: FileBrowser, label: str) -> None:
    node = next(n for n in tree.root.children if str(n.label) == label)
    tree.move_cursor(node)


async def test_opening_a_file_reads_it_through_the_pipeline_and_shows_it(
    ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    (sandbox.workspace / "app.py").write_text("def main():\n    print('[bold red]hi')\x1b[2J\n")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.main.query_one(FileBrowser)
        tree.focus()
        select(tree, "app.py")
        await pilot.press("enter")
        await settle(pilot)
        assert app.results[-1].tool == "read_file" and app.results[-1].actor == "user"
        screen = app.screen
        assert isinstance(screen, FileViewScreen) and screen.path == "/workspace/app.py"
        shown = screen.renderable
        assert isinstance(shown, Syntax) and shown.lexer is not None and shown.lexer.name == "Python"
        assert "\x1b" not in shown.code and "print('[bold red]hi')" in shown.code
        await pilot.press("escape")
        assert app.screen is app.main


async def test_new_file_asks_for_a_name_and_writes_an_empty_file(
    ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    (sandbox.workspace / "src").mkdir()
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.main.query_one(FileBrowser)
        tree.focus()
        select(tree, "src/")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, NewFileScreen), "the new-file question")
        assert app.screen.query_one("#path", Input).value == "src/"
        app.screen.query_one("#path", Input).value = "src/new.py"
        await pilot.press("enter")
        await settle(pilot)
        assert (sandbox.workspace / "src" / "new.py").read_text() == ""
        assert app.results[-1].tool == "write_file" and app.results[-1].actor == "user"
        assert "src/" in tree_labels(app)
        # an existing file is never overwritten by "new file"
        (sandbox.workspace / "keep.txt").write_text("precious")
        app.main.create_file("keep.txt")
        await settle(pilot)
        assert (sandbox.workspace / "keep.txt").read_text() == "precious"
        assert "already exists" in list(app._notifications)[-1].message


async def test_delete_asks_first_and_no_keeps_the_file(ops: SecureOperations, sandbox: LocalSandbox) -> None:
    (sandbox.workspace / "old.txt").write_text("x")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.main.query_one(FileBrowser)
        tree.focus()
        select(tree, "old.txt")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("n")
        await settle(pilot)
        assert (sandbox.workspace / "old.txt").exists()
        select(tree, "old.txt")
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await settle(pilot)
        assert not (sandbox.workspace / "old.txt").exists()
        assert app.results[-1].tool == "delete_file" and app.results[-1].ok
        assert "old.txt" not in tree_labels(app)


async def test_refresh_shows_files_made_outside_the_app(ops: SecureOperations, sandbox: LocalSandbox) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert tree_labels(app) == []
        (sandbox.workspace / "late.txt").write_text("x")
        app.main.query_one(FileBrowser).focus()
        await pilot.press("r")
        await settle(pilot)
        assert tree_labels(app) == ["late.txt"]


async def test_a_large_directory_shows_a_batch_and_a_more_node(ops: SecureOperations, sandbox: LocalSandbox) -> None:
    big = sandbox.workspace / "big"
    big.mkdir()
    for n in range(BATCH + 50):
        (big / f"f{n:04}.txt").write_text("")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        tree = app.main.query_one(FileBrowser)
        tree.root.children[0].expand()
        await settle(pilot)
        children = tree.root.children[0].children
        assert len(children) == BATCH + 1 and isinstance(children[-1].data, MoreEntries)
        assert "50 more" in str(children[-1].label)
        tree.move_cursor(children[-1])
        tree.focus()
        await pilot.press("enter")
        await pilot.pause()
        children = tree.root.children[0].children
        assert len(children) == BATCH + 50 and not isinstance(children[-1].data, MoreEntries)
