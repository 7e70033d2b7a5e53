"""The approval modal, and the Approver that asks the person through it.

The question shows the command (control characters made visible), why it is asked, the risk findings
highlighted where they are in the code, and for a write the diff against the file as it is. The answers:
yes, no, always (this tool, for the rest of the session), or edit (the command, parsed again on the way out).

Keys are ignored for a moment after the modal opens (``arm_delay``), so a key meant for the prompt that
happens to be "y" does not approve anything; focus starts on No.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea
from textual.worker import NoActiveWorker, get_current_worker

from core.commands import CommandSyntaxError, RunCode, parse
from core.security.policy import Answer, ApprovalAnswer, ApprovalRequest
from tui.approval_messages import ApprovalAsked, ApprovalSettled
from tui.safe_text import typed, with_findings

ARM_DELAY = 0.4  # seconds during which keys do not answer
_KEY_ANSWERS: dict[str, Answer] = {"yes": "yes", "no": "no", "always": "always"}
_WHO = {"assistant": "The assistant asks to run", "user": "Your command needs confirmation",
        "app": "The app asks to run"}


def diff_text(diff: str) -> Text:
    """A unified diff (control characters already visible) coloured by line kind."""
    out = Text()
    for n, line in enumerate(diff.split("\n")):
        if n:
            out.append("\n")
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        out.append(line, style=style)
    return out


def command_text(request: ApprovalRequest) -> Text:
    """The command as it will run; for code, the code with its risky parts highlighted."""
    command = request.request.command
    if isinstance(command, RunCode):
        head = Text()
        head.append(f"run code[{command.language}]:\n", style="bold")
        return head.append_text(with_findings(command.code, request.findings))
    return typed(request.command_text)


class ApprovalScreen(ModalScreen[ApprovalAnswer]):
    """Asks yes / no / always / edit about one operation; dismissed with the ApprovalAnswer."""

    CSS_PATH = "approval.tcss"
    AUTO_FOCUS = "#no"  # an Enter meant for something else answers no
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('yes')", "Yes", id="approval.yes"),
        Binding("n,escape", "answer('no')", "No", id="approval.no"),
        Binding("a", "answer('always')", "Always", id="approval.always"),
        Binding("e", "edit", "Edit", id="approval.edit"),
        Binding("ctrl+s", "run_edited", "Run edited", id="approval.run_edited", priority=True),
    ]

    def __init__(self, request: ApprovalRequest, *, arm_delay: float = ARM_DELAY) -> None:
        super().__init__()
        self.request = request
        self.arm_delay = arm_delay
        self.armed = arm_delay <= 0
        self.editing = False

    def compose(self) -> ComposeResult:
        request = self.request
        who = _WHO.get(request.request.actor, "Approval needed for")
        with Vertical(id="dialog"):
            yield Static(Text(f"{who}: {request.request.command.tool}", style="bold"), id="title")
            yield Static(typed(f"why: {request.reason}"), id="reason")
            with VerticalScroll(id="details"):
                yield Static(command_text(request), id="command")
                if request.findings:
                    yield Static(self._findings(), id="findings")
                if request.diff:
                    yield Static(diff_text(request.diff), id="diff")
            yield TextArea(request.command_text, id="edit", soft_wrap=True, show_line_numbers=False)
            yield Static(id="edit-error")
            with Horizontal(id="buttons"):
                yield Button("Yes (y)", id="yes", variant="success")
                yield Button("Always this session (a)", id="always", variant="warning")
                yield Button("Edit (e)", id="edit-button")
                yield Button("No (n / esc)", id="no", variant="error")

    def _findings(self) -> Text:
        out = Text()
        for n, f in enumerate(self.request.findings):
            if n:
                out.append("\n")
            out.append(f" {f.severity.upper()} ", style="bold white on red" if f.severity in ("high", "critical")
                       else "bold black on yellow")
            out.append(" ")
            out.append_text(typed(f"{f.rule}: {f.message}"))
        return out

    def on_mount(self) -> None:
        if not self.armed:
            self.set_timer(self.arm_delay, self._arm)

    def _arm(self) -> None:
        self.armed = True

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        match event.button.id:
            case "yes":
                self.dismiss(ApprovalAnswer("yes", note="answered in the app"))
            case "always":
                self.dismiss(ApprovalAnswer("always", note="answered in the app"))
            case "no":
                self.dismiss(ApprovalAnswer("no", note="answered in the app"))
            case "edit-button" if self.editing:
                self.action_run_edited()
            case "edit-button":
                self.action_edit()

    def action_answer(self, answer: str) -> None:
        if self.editing and answer == "no":
            self._stop_editing()
            return
        if answer not in _KEY_ANSWERS or (answer != "no" and not self.armed):
            return
        self.dismiss(ApprovalAnswer(_KEY_ANSWERS[answer], note="answered in the app"))

    def action_edit(self) -> None:
        if not self.armed or self.editing:
            return
        self.editing = True
        self.add_class("-editing")
        self.query_one("#edit-button", Button).label = "Run edited (ctrl+s)"
        self.query_one("#edit", TextArea).focus()

    def _stop_editing(self) -> None:
        self.editing = False
        self.remove_class("-editing")
        self.query_one("#edit-button", Button).label = "Edit (e)"
        self.query_one("#edit-error", Static).update("")
        self.query_one("#no", Button).focus()

    def action_run_edited(self) -> None:
        if not self.editing:
            return
        text = self.query_one("#edit", TextArea).text
        try:
            command = parse(text)
        except CommandSyntaxError as err:
            self.query_one("#edit-error", Static).update(typed(err.pretty(), style="bold red"))
            return
        self.dismiss(ApprovalAnswer("edit", command=command, note="edited in the app"))


class ModalApprover:
    """core.security.policy.Approver that asks through :class:`ApprovalScreen`.

    The pipeline runs inside workers, so the usual path is ``push_screen_wait`` (toad's pattern). Outside a
    worker the screen is pushed with a callback that resolves a future; from another thread, through
    ``call_from_thread``. The app may be attached after construction (the services are built before it).
    """

    def __init__(self, app: App[Any] | None = None, *, arm_delay: float = ARM_DELAY) -> None:
        self.app = app
        self.arm_delay = arm_delay

    def attach(self, app: App[Any]) -> None:
        self.app = app

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        app = self.app
        if app is None or not app.is_running:
            return ApprovalAnswer("no", note="there is no app to ask in")
        app.post_message(ApprovalAsked(request))
        answer: ApprovalAnswer | None = None
        try:
            answer = await self._ask(app, ApprovalScreen(request, arm_delay=self.arm_delay))
            return answer
        finally:
            app.post_message(ApprovalSettled(request, answer))

    async def _ask(self, app: App[Any], screen: ApprovalScreen) -> ApprovalAnswer:
        if threading.get_ident() != app._thread_id:
            return await self._ask_from_thread(app, screen)
        try:
            get_current_worker()
        except NoActiveWorker:
            future: asyncio.Future[ApprovalAnswer] = asyncio.get_running_loop().create_future()
            app.push_screen(screen, callback=lambda answer: _resolve(future, answer))
            return await self._guarded(app, screen, future)
        return await self._guarded(app, screen, app.push_screen_wait(screen))

    async def _guarded(self, app: App[Any], screen: ApprovalScreen, waiting: Any) -> ApprovalAnswer:
        try:
            answer: ApprovalAnswer = await waiting
        except asyncio.CancelledError:  # the turn was stopped while the question was open: take it away
            if app.screen is screen:
                screen.dismiss(ApprovalAnswer("no", note="the operation was cancelled"))
            raise
        return answer

    async def _ask_from_thread(self, app: App[Any], screen: ApprovalScreen) -> ApprovalAnswer:
        done: concurrent.futures.Future[ApprovalAnswer] = concurrent.futures.Future()

        def push() -> None:
            app.push_screen(screen, callback=lambda answer: done.set_result(_answer_or_no(answer)))

        app.call_from_thread(push)
        return await asyncio.wrap_future(done)


def _answer_or_no(answer: ApprovalAnswer | None) -> ApprovalAnswer:
    return answer if answer is not None else ApprovalAnswer("no", note="the question was closed")


def _resolve(future: asyncio.Future[ApprovalAnswer], answer: ApprovalAnswer | None) -> None:
    if not future.done():
        future.set_result(_answer_or_no(answer))
