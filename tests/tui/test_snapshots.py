"""Pictures of the layout at 120x40 with fixed data (behaviour is tested with Pilot elsewhere).

Update them after a deliberate change of the layout with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the new SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Static

from core.assistant.events import ReplyFinished
from core.assistant.loop import Assistant
from core.audit import AuditLog
from core.commands import WriteFile
from core.config_model import AssistantConfig
from core.events import OperationBlocked, OperationFinished, OperationStarted
from core.operations import OperationRequest, SecureOperations
from core.results import OperationResult
from core.security.policy import ApprovalRequest, make_diff
from tests.tui.fakes import FixedAudit, FixedBackend
from tui.app import SandchatApp, Started, StartingApp
from tui.screens.approval import ApprovalScreen
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.prompt import PromptArea

SnapCompare = Callable[..., bool]
REPLY = ("I'll write the script and run it.\n\n```python\nprint('hello')\n```\n\n"
         "You can check it with `read file:src/app.py`.\n")


def fixed_app(**kwargs: Any) -> SandchatApp:
    ops = SecureOperations(FixedBackend())
    assistant = Assistant(ops, AssistantConfig(model="demo-model", base_url="http://127.0.0.1:9/v1"))
    return SandchatApp(ops, None, cast(AuditLog, FixedAudit()), assistant, sandbox_name="demo",
                       time_format=lambda at: "12:00:00", **kwargs)


def result(op_id: int, actor: str, text: str, tool: str, status: str, message: str, output: str = "",
           duration: float = 0.004) -> OperationResult:
    return OperationResult(op_id, actor, text, tool, status, message, output=output,  # type: ignore[arg-type]
                           duration=duration, started_at=0.0)


async def fill_main(pilot: Pilot[Any]) -> None:
    app = cast(SandchatApp, pilot.app)
    await app.workers.wait_for_complete()
    await pilot.pause()
    main = app.main
    log = main.query_one(ExecutionLog)
    log.clear()
    chat = main.chat
    chat.add_user("write a hello script and run it")
    await chat.reply_delta(REPLY)
    await chat.reply_finished(ReplyFinished(REPLY, "complete", 1))
    write = result(7, "assistant", "write file:src/app.py content: print('hello')", "write_file", "ok",
                   "wrote 15 bytes to /workspace/src/app.py")
    chat.add_card(write.text, actor="assistant", call_id="c1")
    chat.finish_card("c1", write)
    blocked = result(8, "assistant", "read file:../../etc/passwd", "read_file", "blocked",
                     "path '../../etc/passwd' rejected: goes above the workspace root with '..'")
    chat.add_card(blocked.text, actor="assistant", call_id="c2")
    chat.finish_card("c2", blocked)
    for r in (write, blocked, result(9, "user", "list files:", "list_files", "ok", "3 entries in /workspace")):
        log.show(OperationStarted(r.op_id, r.actor, r.text, r.tool, 0.0))
        log.show(OperationBlocked(r) if r.status == "blocked" else OperationFinished(r))
    chat.prompt.cursor_blink = False
    app.query_one(PromptArea).load_text("read file:src/app.py")
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_main_screen(snap_compare: SnapCompare) -> None:
    assert snap_compare(fixed_app(), terminal_size=(120, 40), run_before=fill_main)


class ModalHost(App[None]):
    """A plain screen with one modal screen over it."""

    def __init__(self, modal: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.modal = modal

    def compose(self) -> ComposeResult:
        yield Static("the main screen would be here")

    def on_mount(self) -> None:
        self.push_screen(self.modal())


def test_approval_modal_for_a_write(snap_compare: SnapCompare) -> None:
    command = WriteFile("notes.txt", "buy milk\nbuy eggs\n")
    request = OperationRequest(3, "assistant", command, "write file:notes.txt content:buy milk\nbuy eggs\n",
                               "/workspace/notes.txt", ())
    question = ApprovalRequest(request, "mode ask: writes, deletes and code need approval", (),
                               make_diff("/workspace/notes.txt", b"buy milk\n", command.content), request.text)
    assert snap_compare(ModalHost(lambda: ApprovalScreen(question, arm_delay=0)), terminal_size=(120, 40))


def test_approval_modal_for_risky_code(snap_compare: SnapCompare) -> None:
    from core.commands import RunCode
    from core.security.risk import classify

    code = 'import os\nos.system("rm -rf /")\nprint("done")'
    command = RunCode(code)
    findings = tuple(classify(code))
    request = OperationRequest(4, "assistant", command, f"run code:{code}", "", findings)
    question = ApprovalRequest(request, "risk: critical recursive-delete", findings, None, request.text)
    assert snap_compare(ModalHost(lambda: ApprovalScreen(question, arm_delay=0)), terminal_size=(120, 40))


async def open_help(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.press("f1")
    await pilot.pause()


def test_help_screen(snap_compare: SnapCompare) -> None:
    """Every binding with its current key (one remapped from the config) and its id."""
    app = fixed_app(keymap={"app.audit": "ctrl+y"})
    assert snap_compare(app, terminal_size=(120, 40), run_before=open_help)


def test_file_view_screen(snap_compare: SnapCompare) -> None:
    """A file opened from the browser: highlighted, line numbers, what the read said."""
    from tui.screens.file_view import FileViewScreen

    text = 'import sys\n\n\ndef main() -> int:\n    """Say hello."""\n    print("hello", sys.argv[1:])\n    return 0\n'
    screen = lambda: FileViewScreen("/workspace/src/app.py", text, note="read 101 bytes")  # noqa: E731
    assert snap_compare(ModalHost(screen), terminal_size=(120, 40))


def test_delete_confirmation(snap_compare: SnapCompare) -> None:
    from rich.text import Text

    from tui.screens.dialogs import ConfirmScreen

    question = Text("Delete ").append("/workspace/notes.txt", style="bold").append("? This cannot be undone.")
    assert snap_compare(ModalHost(lambda: ConfirmScreen(question, yes_label="Delete")), terminal_size=(120, 40))


def test_new_file_dialog(snap_compare: SnapCompare) -> None:
    from tui.screens.dialogs import NewFileScreen

    assert snap_compare(ModalHost(lambda: NewFileScreen("src")), terminal_size=(120, 40))


def test_audit_export_dialog(snap_compare: SnapCompare) -> None:
    from tui.screens.audit_dialogs import ExportScreen

    assert snap_compare(ModalHost(lambda: ExportScreen(1234)), terminal_size=(120, 40))




def _never_loads(app: SandchatApp) -> Started:
    raise AssertionError("the start screen's picture is taken before the loader runs")


async def type_while_starting(pilot: Pilot[Any]) -> None:
    await pilot.press(*"read file:notes.txt")
    await pilot.pause()


def test_start_screen(snap_compare: SnapCompare) -> None:
    """The frame painted before the services exist, with what the person typed meanwhile."""
    app = StartingApp(_never_loads)
    app._start_loading = lambda: None  # type: ignore[method-assign]  # the picture of the frame alone
    assert snap_compare(app, terminal_size=(120, 40), run_before=type_while_starting)
