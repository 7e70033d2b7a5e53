"""The first app, driven with Pilot over a real sandbox in a temp dir."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message
from textual.widgets import Input, Tree

from core.backends.local import LocalSandbox
from core.events import OperationBlocked, OperationFinished
from core.operations import SecureOperations
from tui.app import PipelineEvent, SandchatApp
from tui.widgets.chat import ChatEntry, ChatPane
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.file_browser import FileBrowser


async def type_command(pilot: object, app: SandchatApp, text: str) -> None:
    prompt = app.query_one("#prompt", Input)
    prompt.value = text
    await prompt.action_submit()
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


def chat_text(app: SandchatApp) -> str:
    return "\n".join(str(e.render()) for e in app.query_one(ChatPane).query(ChatEntry))


def tree_labels(app: SandchatApp) -> list[str]:
    tree = app.query_one(FileBrowser)
    out: list[str] = []

    def walk(node: object) -> None:
        for child in node.children:  # type: ignore[attr-defined]
            out.append(str(child.label))
            walk(child)

    walk(tree.root)
    return out


async def test_a_typed_write_shows_in_chat_log_and_file_browser(ops: SecureOperations) -> None:
    seen: list[Message] = []
    app = SandchatApp(ops, sandbox_name="test")
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await app.workers.wait_for_complete()
        await type_command(pilot, app, "write file:src/hello.py content:print('hi')")
        assert app.results[-1].status == "ok"
        assert "wrote 11 bytes to /workspace/src/hello.py" in chat_text(app)
        assert "src/" in tree_labels(app)
        log = app.query_one(ExecutionLog)
        assert any(f.result.text.startswith("write file:src/hello.py") for f in log.finished)
        await type_command(pilot, app, "run code:exec(open('src/hello.py').read())")
        assert app.results[-1].exec is not None and app.results[-1].exec.stdout == "hi\n"
        assert "hi" in chat_text(app)
    events = [m.event for m in seen if isinstance(m, PipelineEvent)]
    assert sum(isinstance(e, OperationFinished) and e.result.actor == "user" for e in events) == 2


async def test_a_blocked_traversal_is_shown_and_notified(ops: SecureOperations, tmp_path: Path) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, app, "read file:../../etc/passwd")
        assert app.results[-1].status == "blocked"
        assert "BLOCKED" in chat_text(app) and "root:x:" not in chat_text(app)
        assert any(isinstance(f, OperationBlocked) for f in app.query_one(ExecutionLog).finished)
        assert any("Blocked" in (n.title or "") for n in app._notifications)
        await type_command(pilot, app, "read file:[bold red]x[/]/../../..\x1b[2J")
        last = list(app._notifications)[-1]
        assert not last.markup and "[bold red]x[/]" in last.message and "\x1b" not in last.message


async def test_markup_and_escapes_from_the_sandbox_are_inert(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_command(pilot, app, 'write file:"[red]x.txt" content:\x1b]52;c;ZXZpbA==\x07[link=x]y[/link]')
        assert app.results[-1].status == "ok", app.results[-1].message
        await type_command(pilot, app, 'read file:"[red]x.txt"')
        assert app.results[-1].content == b"\x1b]52;c;ZXZpbA==\x07[link=x]y[/link]"
        text = chat_text(app)
        assert "[link=x]y[/link]" in text and "\x1b" not in text
        assert "[red]x.txt" in tree_labels(app)


async def test_opening_a_file_in_the_browser_reads_it_through_the_pipeline(
    ops: SecureOperations, sandbox: LocalSandbox
) -> None:
    (sandbox.workspace / "readme.md").write_text("# notes")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        tree = app.query_one(FileBrowser)
        node = next(n for n in tree.root.children if str(n.label) == "readme.md")
        tree.select_node(node)
        tree.action_select_cursor()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.results[-1].tool == "read_file" and app.results[-1].output == "# notes"


async def test_directories_load_lazily_when_expanded(ops: SecureOperations, sandbox: LocalSandbox) -> None:
    (sandbox.workspace / "a" / "b").mkdir(parents=True)
    (sandbox.workspace / "a" / "b" / "deep.txt").write_text("x")
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert tree_labels(app) == ["a/"]
        tree = app.query_one(FileBrowser)
        tree.root.children[0].expand()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert tree_labels(app) == ["a/", "b/"]
        assert isinstance(tree, Tree)


async def test_function_keys_move_focus_between_panes(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        focused: list[object] = []
        for key in ("f3", "f4", "f2"):
            await pilot.press(key)
            focused.append(app.focused)
        assert focused == [app.query_one(FileBrowser), app.query_one(ExecutionLog), app.query_one("#prompt")]


async def test_bindings_are_remapped_from_the_config_keymap(ops: SecureOperations) -> None:
    app = SandchatApp(ops, keymap={"app.focus_files": "f6"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f3")
        assert app.focused is not app.query_one(FileBrowser)
        await pilot.press("f6")
        assert app.focused is app.query_one(FileBrowser)


async def test_a_broken_config_is_shown_when_the_app_starts(ops: SecureOperations) -> None:
    problem = "config.toml, line 2: local.timeout must be a number of seconds > 0, got 'soon'"
    app = SandchatApp(ops, config_error=problem)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = [n for n in app._notifications if n.severity == "error"]
        assert shown and shown[0].message == problem and "defaults" in (shown[0].title or "")
        assert app.is_running  # the app carries on with the defaults
