"""The prompt: enter sends, ctrl+j adds a line, up/down walk the history, tab completes verbs and paths."""

from __future__ import annotations

from textual.widgets import Static

from core.backends.base import DirEntry
from core.backends.local import LocalSandbox
from core.operations import SecureOperations
from tests.tui.helpers import settle
from tui.app import SandchatApp
from tui.widgets.prompt import Completion, PromptArea, listing_dir, path_candidates, path_prefix, verb_completion


def test_verbs_complete_from_what_was_typed() -> None:
    assert verb_completion("re") == Completion(0, ("read file:",))
    assert verb_completion("  WRITE  f") == Completion(2, ("write file:",))
    assert verb_completion("r") == Completion(0, ("read file:", "run code:"))
    assert verb_completion("read file:x") is None and verb_completion("hello there") is None


def test_paths_complete_in_commands_that_take_one() -> None:
    assert path_prefix("read file:src/ma") == (10, "src/ma")
    assert path_prefix("write file:a") == (11, "a")
    assert path_prefix("write file:a content:x") is None
    assert path_prefix("run code:pri") is None
    entries = [DirEntry("main.py", "/workspace/src/main.py", "file", 1, 0.0),
               DirEntry("maps", "/workspace/src/maps", "dir", 0, 0.0),
               DirEntry("other.py", "/workspace/src/other.py", "file", 1, 0.0)]
    assert path_candidates("src/ma", entries) == ("src/main.py", "src/maps/")
    assert listing_dir("src/ma") == "src" and listing_dir("/workspace/src/x") == "src" and listing_dir("a") == ""
    assert Completion(0, ("src/main.py", "src/maps/")).common() == "src/ma"


async def test_enter_sends_and_ctrl_j_adds_a_line(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.query_one(PromptArea)
        prompt.insert("run code:x = 1")
        await pilot.press("ctrl+j")
        prompt.insert("print(x)")
        assert prompt.text == "run code:x = 1\nprint(x)"
        await pilot.press("enter")
        await settle(pilot)
        assert prompt.text == "" and app.results[-1].exec is not None and app.results[-1].exec.stdout == "1\n"


async def test_up_and_down_walk_the_history_and_keep_the_draft(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.query_one(PromptArea)
        for text in ("list files:", "info file:x"):
            prompt.load_text(text)
            await pilot.press("enter")
        await settle(pilot)
        prompt.insert("draft")
        await pilot.press("up")
        assert prompt.text == "info file:x"
        await pilot.press("up")
        assert prompt.text == "list files:"
        await pilot.press("up")
        assert prompt.text == "list files:"
        await pilot.press("down", "down")
        assert prompt.text == "draft"


async def test_tab_completes_a_verb_then_a_sandbox_path(ops: SecureOperations, sandbox: LocalSandbox) -> None:
    (sandbox.workspace / "src").mkdir()
    (sandbox.workspace / "src" / "main.py").write_text("")
    (sandbox.workspace / "src" / "maps.py").write_text("")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.query_one(PromptArea)
        prompt.insert("rea")
        await pilot.press("tab")
        await settle(pilot)
        assert prompt.text == "read file:"
        prompt.insert("sr")
        await pilot.press("tab")
        await settle(pilot)
        assert prompt.text == "read file:src/"
        await pilot.press("m", "tab")
        await settle(pilot)
        assert prompt.text == "read file:src/ma"
        shown = str(app.main.query_one("#completions", Static).visual)
        assert "src/main.py" in shown and "src/maps.py" in shown
        await pilot.press("i", "tab")
        await settle(pilot)
        assert prompt.text == "read file:src/main.py"
        listings = [e for e in app.main.log_entries() if e.actor == "app" and e.tool == "list_files"]
        assert listings  # the paths came through the pipeline


async def test_tab_moves_focus_when_there_is_nothing_to_complete(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(PromptArea).insert("hello")
        await pilot.press("tab")
        assert app.focused is not app.query_one(PromptArea)
