"""The main screen: chat, the sandbox's files and the execution log, with the status bar under them.

What the person types goes one of two ways: text in the command language (``read file:...``) runs at once
through the pipeline as their own command; anything else goes to the assistant, or, with no model configured,
is answered with suggested commands. Pipeline and assistant events arrive through the app
(:meth:`show_pipeline_event`, :meth:`show_assistant_event`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer
from textual.worker import Worker, get_current_worker

from core.assistant.events import (
    AssistantEvent,
    ReplyDelta,
    ReplyFinished,
    RetryCountdown,
    ToolCallCancelled,
    ToolCallFinished,
    ToolCallRejected,
    ToolCallStarted,
    TurnError,
)
from core.backends.base import DirEntry
from core.commands import Command, CommandSyntaxError, RunCode, format_command, parse
from core.events import Event, OperationBlocked, OperationFinished
from core.results import OperationResult
from core.security.sanitize import strip_terminal_escapes
from tui.screens.file_actions import FileActions
from tui.widgets.chat import ChatPane
from tui.widgets.exec_log import ExecLogPane, ExecutionLog, LogEntry, Row
from tui.widgets.file_browser import FileBrowser
from tui.widgets.prompt import PromptArea
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from core.assistant.suggest import Suggestion

NOTIFY_GAP = 2.0  # seconds between notifications of blocked operations during a burst
REFRESH_GAP = 0.5  # seconds: the file tree is listed at most about twice a second while files change
_COMMAND = re.compile(
    r"\s*(?:(?:read|write|delete|info)[ \t]+file:|list[ \t]+files:|run[ \t]+code[:\[]|search[ \t]+web:)",
    re.IGNORECASE,
)


def is_command(text: str) -> bool:
    """Text in the command language runs directly; anything else is for the assistant."""
    return _COMMAND.match(text) is not None


class MainScreen(FileActions):
    """Chat on the left; files over the execution log on the right."""

    CSS_PATH = "main.tcss"
    FOCUS_TARGETS: ClassVar[dict[str, str]] = {"chat": "PromptArea", "files": "FileBrowser", "log": "ExecutionLog"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Stop", id="main.cancel"),
        Binding("ctrl+f", "filter_log", "Filter log", id="log.filter", show=False),
        Binding("alt+1", "run_suggestion(1)", "Run suggestion", id="chat.suggestion_1", key_display="alt+1…9"),
        *(Binding(f"alt+{n}", f"run_suggestion({n})", f"Run suggestion {n}", id=f"chat.suggestion_{n}",
                  show=False) for n in range(2, 10)),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._code_workers: set[Worker[object]] = set()
        self._refresh_pending = False
        self._last_refresh = 0.0
        # refusals not yet notified: the first (shown alone when it is the only one) and how many in all; a burst of
        # thousands is one summary, and keeping every result until then would be garbage-collector work
        self._refused: OperationResult | None = None
        self._refused_count = 0
        self._notify_pending = False
        self._last_notify = 0.0
        self.notify_gap = NOTIFY_GAP
        self._told_how_to_configure = False
        self._footer_shows = (False, False)  # (something to stop, suggestions to run) as the footer shows them
        self._footer_check_pending = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Shown in the footer only while there is something to stop or to run.
        if action == "cancel":
            return self.busy
        if action == "run_suggestion":
            return bool(self.chat.suggestions)
        return True

    @property
    def busy(self) -> bool:
        """A reply is streaming or the person's code is running."""
        assistant = self.sandchat.assistant
        return bool(self._code_workers) or (assistant is not None and assistant.busy)


    def compose(self) -> ComposeResult:
        app = self.sandchat
        with Horizontal(id="main"):
            yield ChatPane(self._list_for_completion, id="chat")
            with Vertical(id="side"):
                yield FileBrowser(self._list_for_browser, id="files")
                yield ExecLogPane(id="log-pane", time_format=app.time_format)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FileBrowser).border_title = "Sandbox files"
        self.status.show_info(self.sandchat.status_info())
        self.call_after_refresh(self.sandchat.check_audit)  # a verify thread competes for the GIL: after the frame
        self.chat.prompt.focus()
        if self.sandchat.assistant is None:
            self.chat.add_note("No AI model is configured: type a command, or say what you want and pick a "
                               "suggested command (ctrl+p: command palette, f1: help).")

    @property
    def chat(self) -> ChatPane:
        return self.query_one(ChatPane)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    # -- listing through the pipeline ------------------------------------------------------------------
    async def _list_for_browser(self, path: str) -> OperationResult:
        return await self.sandchat.ops.list_files(path, actor="app")

    async def _list_for_completion(self, directory: str) -> list[DirEntry] | None:
        result = await self.sandchat.ops.list_files(directory, actor="app")
        return list(result.entries) if result.ok else None

    # -- what the person typed -------------------------------------------------------------------------
    @on(PromptArea.Submitted)
    def _submitted(self, message: PromptArea.Submitted) -> None:
        message.stop()
        text = message.text
        self.chat.add_user(text)
        self._offer([])
        if is_command(text):
            self.run_command(text)
        elif self.sandchat.assistant is not None:
            self._ask(text)
        else:
            self._suggest_offline(text)

    def _ask(self, text: str) -> None:
        assistant = self.sandchat.assistant
        assert assistant is not None
        if assistant.busy:
            self.notify("The assistant is still replying: press Esc to stop it first.", severity="warning")
            return
        self.ask_assistant(text)

    def _suggest_offline(self, text: str) -> None:
        from core.assistant.suggest import HOW_TO_CONFIGURE, suggest

        found = suggest(text)
        if not self._told_how_to_configure:
            self._told_how_to_configure = True
            self.chat.add_note(HOW_TO_CONFIGURE)
        if found:
            self.chat.add_note("Commands that may do what you asked (alt+1 runs the first):")
            self._offer(found)
        else:
            self.chat.add_note("No command matches that. Try e.g. 'show notes.txt', 'list files', 'run 2+2', "
                               "or type a command such as read file:notes.txt.")

    def action_run_suggestion(self, number: int) -> None:
        offered: tuple[Suggestion, ...] = self.chat.suggestions
        if not 1 <= number <= len(offered):
            return
        chosen = offered[number - 1]
        self._offer([])
        self.chat.add_user(chosen.text)
        self.run_command(chosen.text, chosen.command)

    @work(group="ops", exit_on_error=False)
    async def run_command(self, text: str, command: Command | None = None) -> OperationResult:
        """Run the person's command through the pipeline; Esc stops it while it runs code."""
        if command is None:
            command = _parsed(text)
        shown = format_command(command) if command is not None else strip_terminal_escapes(text)
        card = self.chat.add_card(shown, actor="you", expanded=True)
        worker = get_current_worker()
        if isinstance(command, RunCode):
            self._code_workers.add(worker)
            self._activity("running code… (esc to stop)")
        try:
            ops = self.sandchat.ops
            result = await (ops.execute(command, actor="user") if command else ops.run(text, actor="user"))
        except asyncio.CancelledError:
            card.end_without_result("cancelled", "stopped before it finished (esc)")
            raise
        finally:
            self._code_workers.discard(worker)
            if not self._code_workers:
                self._activity("")
        card.finish(result)
        self.sandchat.results.append(result)
        return result

    @work(group="chat", exit_on_error=False)
    async def ask_assistant(self, text: str) -> None:
        assistant = self.sandchat.assistant
        assert assistant is not None
        self._activity("assistant is replying… (esc to stop)")
        try:
            await assistant.send(text)
        finally:
            self._activity("")

    def _activity(self, text: str) -> None:
        self.status.show_activity(text)
        self._update_footer_soon()

    def _offer(self, suggestions: Sequence[Suggestion]) -> None:
        self.chat.offer(suggestions)
        self._update_footer_soon()

    def _update_footer_soon(self) -> None:
        """Show the keys that apply now (see check_action), once after a burst of changes.

        Refreshing the bindings rebuilds the footer, which lays the screen out again (20-80 ms on a busy
        machine, while a long reply may still be drawing): so it is done only when what the keys depend on,
        something to stop and suggestions to run, is different from what the footer shows.
        """
        if not self._footer_check_pending:
            self._footer_check_pending = True
            self.call_after_refresh(self._update_footer)

    def _update_footer(self) -> None:
        hold = self.sandchat.input_hold()
        if hold:  # a key was just pressed: its frame first, then the footer's layout
            self.set_timer(hold, self._update_footer)
            return
        self._footer_check_pending = False
        shown = (self.busy, bool(self.chat.suggestions))
        if shown != self._footer_shows:
            self._footer_shows = shown
            self.refresh_bindings()

    def action_cancel(self) -> None:
        """Stop the assistant's reply, or the person's running code."""
        assistant = self.sandchat.assistant
        if assistant is not None and assistant.cancel():
            self.notify("Stopped the assistant.", severity="warning")
            return
        if self._code_workers:
            for worker in list(self._code_workers):
                worker.cancel()
            self.notify("Stopped the running code.", severity="warning")

    # -- events from the pipeline and the assistant ------------------------------------------------------
    def show_pipeline_events(self, events: Sequence[Event]) -> None:
        """Log a burst of pipeline events; security events of the person and the assistant are also notified."""
        log = self.query_one(ExecutionLog)
        refused = 0
        changed = False
        for event in events:
            log.show(event)
            if isinstance(event, OperationFinished):
                changed = changed or event.result.changed_workspace
                if isinstance(event, OperationBlocked) and event.result.actor != "app":
                    refused += 1
                    if self._refused is None:
                        self._refused = event.result
        if refused:
            self._refused_count += refused
            self._notify_refused_soon()
        if changed:
            self.workspace_changed()

    def _notify_refused_soon(self) -> None:
        """A notification at once after a quiet spell; during a burst, one summary every NOTIFY_GAP seconds."""
        if self._notify_pending:
            return
        self._notify_pending = True
        wait = self._last_notify + self.notify_gap - time.monotonic()
        if wait <= 0:
            self._notify_refused()
        else:
            self.set_timer(wait, self._notify_refused)

    def _notify_refused(self) -> None:
        self._notify_pending = False
        self._last_notify = time.monotonic()
        first, count = self._refused, self._refused_count
        self._refused, self._refused_count = None, 0
        if count == 1 and first is not None:
            self.notify(strip_terminal_escapes(first.message), title=f"{first.status.capitalize()}: {first.tool}",
                        severity="warning", markup=False)
        elif count:
            self.notify(f"{count:,} operations were blocked or denied; filter the log with status:blocked "
                        "or status:denied", title="Blocked", severity="warning", markup=False)

    def workspace_changed(self) -> None:
        """Reload the file tree: at once after a quiet spell, else once at the end of REFRESH_GAP (a burst of
        writes by the assistant lists the workspace a few times, not once per write)."""
        if self.chat.prompt.paths is not None:
            self.chat.prompt.paths.invalidate()
        if self._refresh_pending:
            return
        self._refresh_pending = True
        wait = self._last_refresh + REFRESH_GAP - time.monotonic()
        if wait <= 0:
            self.call_later(self._refresh_files)
        else:
            self.set_timer(wait, self._refresh_files)

    def _refresh_files(self) -> None:
        self._refresh_pending = False
        self._last_refresh = time.monotonic()
        self.query_one(FileBrowser).refresh_tree()

    async def show_assistant_event(self, event: AssistantEvent) -> None:
        chat = self.chat
        match event:
            case ReplyDelta(text):  # the app gathers these into ReplyText messages; one may still come alone
                await chat.reply_delta(text)
            case ToolCallStarted(call_id, _, command_text):
                await chat.end_reply_stream()
                chat.add_card(command_text, actor="assistant", call_id=call_id)
            case ToolCallFinished(call_id, result):
                chat.finish_card(call_id, result)
            case ToolCallRejected(call_id, tool, arguments, problem):
                chat.end_card(call_id, "rejected", problem, command_text=f"{tool} {arguments}")
            case ToolCallCancelled(call_id, tool, command_text):
                chat.end_card(call_id, "cancelled", "stopped by you", command_text=command_text or tool)
            case RetryCountdown(reason, seconds, attempt, most):
                self._activity(f"{reason[:60]}: retry {attempt}/{most} in {seconds} s")
            case TurnError(_, message, hint, _):
                chat.add_error(message, hint)
            case ReplyFinished():
                from core.assistant.suggest import find_commands

                await chat.reply_finished(event)
                self._offer(find_commands(event.reply))

    def approval_waiting(self, command_text: str, waiting: bool) -> None:
        self.chat.mark_waiting(command_text, waiting)

    def action_filter_log(self) -> None:
        self.show_pane("log")
        self.query_one(ExecLogPane).focus_filter()

    def log_entries(self) -> list[LogEntry]:
        """Every operation in the execution log, oldest first."""
        return self.query_one(ExecutionLog).entries

    def log_rows(self) -> list[Row]:
        """Every row of the execution log (operations and their output), oldest first."""
        return list(self.query_one(ExecutionLog).rows)



def _parsed(text: str) -> Command | None:
    try:
        return parse(text)
    except CommandSyntaxError:
        return None
