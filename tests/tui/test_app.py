"""The app driven with Pilot over a real sandbox in a temp dir: commands, log, files, notifications."""

from __future__ import annotations

from textual.message import Message

from core.backends.local import LocalSandbox
from core.operations import SecureOperations
from tests.tui.helpers import chat_text, settle, submit, tree_labels
from tui.app import SandchatApp
from tui.messages import PipelineEvents
from tui.widgets.chat_items import ToolCallCard
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.file_browser import FileBrowser
from tui.widgets.prompt import PromptArea


async def test_a_typed_write_shows_in_chat_log_and_file_browser(ops: SecureOperations) -> None:
    seen: list[Message] = []
    app = SandchatApp(ops, sandbox_name="test")
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await settle(pilot)
        await submit(pilot, "write file:src/hello.py content:print('hi')")
        assert app.results[-1].status == "ok"
        assert "wrote 11 bytes to /workspace/src/hello.py" in chat_text(app)
        assert "src/" in tree_labels(app)
        log = app.main.query_one(ExecutionLog)
        assert any(e.command.startswith("write file:src/hello.py") and e.status == "ok" for e in log.entries)
        await submit(pilot, "run code:exec(open('src/hello.py').read())")
        assert app.results[-1].exec is not None and app.results[-1].exec.stdout == "hi\n"
        assert "hi" in chat_text(app)
        card = list(app.main.query(ToolCallCard))[-1]
        assert card.status == "ok" and card.actor == "you" and card.duration is not None
        finished = [e for e in log.entries if e.actor == "user" and e.status != "running"]
        assert [e.tool for e in finished] == ["write_file", "execute_code"]
    assert any(isinstance(m, PipelineEvents) for m in seen)  # the pipeline's events came as messages


async def test_a_blocked_traversal_is_shown_and_notified(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, "read file:../../etc/passwd")
        assert app.results[-1].status == "blocked"
        assert "[blocked]" in chat_text(app) and "root:x:" not in chat_text(app)
        assert any(e.status == "blocked" for e in app.main.query_one(ExecutionLog).entries)
        assert any("Blocked" in (n.title or "") for n in app._notifications)
        app.main.notify_gap = 0  # the next one at once, not in the next burst window
        await submit(pilot, "read file:[bold red]x[/]/../../..\x1b[2J")
        last = list(app._notifications)[-1]
        assert not last.markup and "[bold red]x[/]" in last.message and "\x1b" not in last.message


async def test_markup_and_escapes_from_the_sandbox_are_inert(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, 'write file:"[red]x.txt" content:\x1b]52;c;ZXZpbA==\x07[link=x]y[/link]')
        assert app.results[-1].status == "ok", app.results[-1].message
        await submit(pilot, 'read file:"[red]x.txt"')
        assert app.results[-1].content == b"\x1b]52;c;ZXZpbA==\x07[link=x]y[/link]"
        text = chat_text(app)
        assert "[link=x]y[/link]" in text and "\x1b" not in text
        assert "[red]x.txt" in tree_labels(app)


async def test_directories_load_lazily_when_expanded(ops: SecureOperations, sandbox: LocalSandbox) -> None:
    (sandbox.workspace / "a" / "b").mkdir(parents=True)
    (sandbox.workspace / "a" / "b" / "deep.txt").write_text("x")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert tree_labels(app) == ["a/"]
        tree = app.main.query_one(FileBrowser)
        tree.root.children[0].expand()
        await settle(pilot)
        assert tree_labels(app) == ["a/", "b/"]


async def test_function_keys_move_focus_between_panes(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        focused: list[object] = []
        for key in ("f3", "f4", "f2"):
            await pilot.press(key)
            focused.append(app.focused)
        main = app.main
        assert focused == [main.query_one(FileBrowser), main.query_one(ExecutionLog), main.query_one(PromptArea)]


async def test_bindings_are_remapped_from_the_config_keymap(ops: SecureOperations) -> None:
    app = SandchatApp(ops, keymap={"app.focus_files": "f12"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        assert app.focused is not app.main.query_one(FileBrowser)
        await pilot.press("f12")
        assert app.focused is app.main.query_one(FileBrowser)


async def test_a_broken_config_is_shown_when_the_app_starts(ops: SecureOperations) -> None:
    problem = "config.toml, line 2: local.timeout must be a number of seconds > 0, got 'soon'"
    app = SandchatApp(ops, config_error=problem)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = [n for n in app._notifications if n.severity == "error"]
        assert shown and shown[0].message == problem and "defaults" in (shown[0].title or "")
        assert app.is_running  # the app carries on with the defaults
