"""The approval modal: alone in a tiny host app, then through the real policy with the assistant asking."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Static, TextArea

from core.backends.local import LocalSandbox
from core.commands import RunCode, WriteFile, format_command
from core.operations import OperationRequest, SecureOperations
from core.security.policy import ApprovalAnswer, ApprovalPolicy, ApprovalRequest, make_diff
from core.security.risk import classify
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls
from tests.tui.helpers import assistant_app, send, settle, top_screen, wait_until
from tui.screens.approval import ApprovalScreen, ModalApprover
from tui.widgets.chat_items import ToolCallCard

RISKY = 'import os\nos.system("rm -rf /")'


def write_request(path: str = "notes.txt", content: str = "new\n", old: bytes | None = b"old\n") -> ApprovalRequest:
    command = WriteFile(path, content)
    request = OperationRequest(1, "assistant", command, format_command(command), f"/workspace/{path}", ())
    return ApprovalRequest(request, "mode ask: writes, deletes and code need approval", (),
                           make_diff(f"/workspace/{path}", old, content), request.text)


def code_request(code: str = RISKY) -> ApprovalRequest:
    command = RunCode(code)
    findings = tuple(classify(code))
    request = OperationRequest(2, "assistant", command, format_command(command), "", findings)
    return ApprovalRequest(request, "risk: critical recursive-delete", findings, None, request.text)


class Host(App[None]):
    """A tiny app that asks one question and keeps the answer."""

    def __init__(self, request: ApprovalRequest, arm_delay: float = 0) -> None:
        super().__init__()
        self.request = request
        self.arm_delay = arm_delay
        self.answers: list[ApprovalAnswer | None] = []

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        self.push_screen(ApprovalScreen(self.request, arm_delay=self.arm_delay), callback=self.answers.append)


async def answer_with(keys: list[str], request: ApprovalRequest | None = None) -> ApprovalAnswer | None:
    app = Host(request or write_request())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.pause()
    return app.answers[0] if app.answers else None


async def test_each_key_gives_its_answer() -> None:
    assert (await answer_with(["y"])) == ApprovalAnswer("yes", note="answered in the app")
    assert (await answer_with(["n"])) == ApprovalAnswer("no", note="answered in the app")
    assert (await answer_with(["escape"])) == ApprovalAnswer("no", note="answered in the app")
    assert (await answer_with(["a"])) == ApprovalAnswer("always", note="answered in the app")


async def test_edit_parses_the_edited_command_and_shows_a_syntax_error_inline() -> None:
    app = Host(write_request())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, ApprovalScreen) and screen.editing
        area = screen.query_one("#edit", TextArea)
        area.load_text("wrte file:x.txt content:hi")
        await pilot.press("ctrl+s")
        error = str(screen.query_one("#edit-error", Static).visual)
        assert "did you mean `write file:`" in error and not app.answers
        area.load_text("write file:other.txt content:edited")
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.answers == [ApprovalAnswer("edit", command=WriteFile("other.txt", "edited"), note="edited in the app")]


async def test_keys_do_nothing_until_the_modal_is_armed_except_no() -> None:
    app = Host(write_request(), arm_delay=60)
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("y", "a", "e"):
            await pilot.press(key)
        await pilot.pause()
        assert not app.answers and isinstance(app.screen, ApprovalScreen) and not app.screen.editing
        await pilot.press("n")
        await pilot.pause()
    assert app.answers == [ApprovalAnswer("no", note="answered in the app")]


async def test_the_modal_shows_the_diff_and_highlights_risky_code() -> None:
    app = Host(code_request())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = app.screen.query_one("#command", Static).visual
        text = getattr(shown, "plain", str(shown))
        assert 'os.system("rm -rf /")' in text
        head = len("run code[python]:\n")
        marked = {(s.start - head, s.end - head) for s in getattr(shown, "spans", []) if "on ansi_red" in str(s.style)}
        assert marked == {(10, 20), (21, 29)}  # os.system and rm -rf /, where classify found them
        findings = str(app.screen.query_one("#findings", Static).visual)
        assert "CRITICAL" in findings and "recursive-delete" in findings
    app = Host(write_request())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        diff = str(app.screen.query_one("#diff", Static).visual)
        assert "-old" in diff and "+new" in diff


async def test_the_approver_also_asks_outside_a_worker() -> None:
    app = Host(write_request())
    approver = ModalApprover(app, arm_delay=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("y")  # the host's own question
        asking = asyncio.ensure_future(approver.approve(write_request("second.txt")))
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the second question")
        await pilot.press("a")
        assert (await asking).answer == "always"


# -- through the pipeline ---------------------------------------------------------------------------------


def write_call(path: str, content: str, call_id: str) -> ToolCalls:
    return ToolCalls((Call("write_file", f'{{"file_path": "{path}", "content": "{content}"}}', call_id),))


async def ask_and_answer(server: OpenAIServer, ops: SecureOperations, approver: ModalApprover,
                         keys: list[str]) -> tuple[list[ToolCallCard], object]:
    server.script(write_call("a.txt", "from the model", "c1"), Reply("ok"))
    app = assistant_app(server.base_url, ops, approver)
    async with app.run_test(size=(120, 40)) as pilot:
        send(app, "write a.txt")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval question")
        # The modal and the card's "waiting" state come from two messages: wait for both.
        await wait_until(pilot, lambda: app.main.query_one(ToolCallCard).status == "waiting", "the card waiting")
        for key in keys:
            await pilot.press(key)
        await settle(pilot)
        return list(app.main.query(ToolCallCard)), app


async def test_yes_runs_the_assistants_write(
    server: OpenAIServer, guarded_ops: SecureOperations, approver: ModalApprover, sandbox: LocalSandbox
) -> None:
    cards, _ = await ask_and_answer(server, guarded_ops, approver, ["y"])
    assert [c.status for c in cards] == ["ok"]
    assert (sandbox.workspace / "a.txt").read_text() == "from the model"


async def test_no_denies_it_and_the_card_says_so(
    server: OpenAIServer, guarded_ops: SecureOperations, approver: ModalApprover, sandbox: LocalSandbox
) -> None:
    cards, _ = await ask_and_answer(server, guarded_ops, approver, ["n"])
    assert [c.status for c in cards] == ["denied"] and "the person said no" in cards[0].message
    assert not (sandbox.workspace / "a.txt").exists()


async def test_always_stops_asking_for_that_tool(
    server: OpenAIServer, guarded_ops: SecureOperations, approver: ModalApprover, policy: ApprovalPolicy,
    sandbox: LocalSandbox,
) -> None:
    await ask_and_answer(server, guarded_ops, approver, ["a"])
    assert policy.grants == {"write_file"}
    result = await guarded_ops.write_file("b.txt", "no question", actor="assistant")
    assert result.ok and (sandbox.workspace / "b.txt").read_text() == "no question"


async def test_edit_runs_the_edited_command_instead(
    server: OpenAIServer, guarded_ops: SecureOperations, approver: ModalApprover, sandbox: LocalSandbox
) -> None:
    server.script(write_call("a.txt", "from the model", "c1"), Reply("ok"))
    app = assistant_app(server.base_url, guarded_ops, approver)
    async with app.run_test(size=(120, 40)) as pilot:
        send(app, "write a.txt")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval question")
        await pilot.press("e")
        app.screen.query_one("#edit", TextArea).load_text("write file:edited.txt content:from the person")
        await pilot.press("ctrl+s")
        await settle(pilot)
        card = app.main.query_one(ToolCallCard)
        assert card.status == "ok" and "edited.txt" in card.message
    assert not (sandbox.workspace / "a.txt").exists()
    assert (sandbox.workspace / "edited.txt").read_text() == "from the person"


async def test_stopping_the_turn_takes_the_question_away(
    server: OpenAIServer, guarded_ops: SecureOperations, approver: ModalApprover, sandbox: LocalSandbox
) -> None:
    server.script(write_call("a.txt", "x", "c1"), Reply("never asked for"))
    app = assistant_app(server.base_url, guarded_ops, approver)
    async with app.run_test(size=(120, 40)) as pilot:
        send(app, "write a.txt")
        await wait_until(pilot, lambda: isinstance(app.screen, ApprovalScreen), "the approval question")
        app.main.action_cancel()  # the palette's Stop, or a key bound to it
        await settle(pilot)
        assert top_screen(app) is app.main
        assert app.main.query_one(ToolCallCard).status == "cancelled"
    assert not (sandbox.workspace / "a.txt").exists()
