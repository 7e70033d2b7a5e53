"""The sandchat app: chat, the sandbox's files and a live execution log over one pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header

from core.commands import ReadFile, format_command
from core.events import Event, OperationBlocked
from core.operations import SecureOperations
from core.results import OperationResult
from core.security.sanitize import strip_terminal_escapes
from tui.widgets.chat import ChatPane
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.file_browser import FileBrowser


class PipelineEvent(Message):
    """A core event, carried into Textual's message queue."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class SandchatApp(App[int]):
    """The app gets its services through the constructor so tests can build it over a temp dir."""

    CSS_PATH = "app.tcss"
    TITLE = "sandchat"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        Binding("f2", "focus('prompt')", "Chat", id="app.focus_chat"),
        Binding("f3", "focus('files')", "Files", id="app.focus_files"),
        Binding("f4", "focus('log')", "Log", id="app.focus_log"),
    ]

    def __init__(
        self,
        ops: SecureOperations,
        *,
        sandbox_name: str = "default",
        backend_reason: str = "",
        config_error: str = "",
        keymap: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._keymap = dict(keymap or {})
        self.ops = ops
        self.sandbox_name = sandbox_name
        self.backend_reason = backend_reason
        self.config_error = config_error
        self.results: list[OperationResult] = []
        self._unsubscribe = ops.subscribe(self._on_core_event)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield ChatPane(id="chat")
            with Vertical(id="side"):
                yield FileBrowser(self._list_for_browser, id="files")
                yield ExecutionLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        if self._keymap:
            self.set_keymap(self._keymap)  # [keys] bindings in the config: binding id -> key
        iso = self.ops.backend.isolation()
        self.sub_title = f"{self.ops.backend.name} sandbox '{self.sandbox_name}' · isolation: {iso.level}"
        self.query_one("#prompt").focus()
        if self.config_error:
            self.notify(self.config_error, title="Config file ignored: using the defaults", severity="error",
                        timeout=30, markup=False)

    def _on_core_event(self, event: Event) -> None:
        # Called by core, possibly from another thread: post_message is thread-safe.
        self.post_message(PipelineEvent(event))

    @on(PipelineEvent)
    def _show_event(self, message: PipelineEvent) -> None:
        self.query_one(ExecutionLog).show(message.event)
        if isinstance(message.event, OperationBlocked) and message.event.result.actor != "app":
            r = message.event.result
            self.notify(strip_terminal_escapes(r.message), title=f"Blocked: {r.tool}", severity="warning",
                        markup=False)

    async def _list_for_browser(self, path: str) -> OperationResult:
        return await self.ops.list_files(path, actor="app")

    @on(ChatPane.Submitted)
    def _command_typed(self, message: ChatPane.Submitted) -> None:
        self.run_command(message.text)

    @on(FileBrowser.FileOpened)
    def _file_opened(self, message: FileBrowser.FileOpened) -> None:
        self.run_command(format_command(ReadFile(message.path)))

    @work(group="ops", exit_on_error=False)
    async def run_command(self, text: str) -> OperationResult:
        """Run typed command text through the pipeline and show the outcome."""
        result = await self.ops.run(text, actor="user")
        self.results.append(result)
        self.query_one(ChatPane).add_result(result)
        if result.changed_workspace:
            self.query_one(FileBrowser).refresh_tree()
        return result

    async def on_unmount(self) -> None:
        self._unsubscribe()
