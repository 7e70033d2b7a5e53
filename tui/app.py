"""The sandchat app: chat, the sandbox's files and a live execution log over one pipeline.

Services come through the constructor (tests build them over a temp dir), or, as the ``sandchat`` command
starts it (:class:`StartingApp`), from a loader that runs in a thread after the first frame: the first frame
needs only textual and a few light modules, the config, the audit database, the backend and the model client
come after it (tui/screens/start.py). Core events, from the pipeline and the assistant, are carried into
Textual's message queue (``tui.messages``) and shown by the main screen.

Nothing from the pipeline is imported at module level here: this module is on the way to the first frame.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import events as textual_events
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.driver import Driver
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from tui.approval_messages import ApprovalAsked, ApprovalSettled
from tui.messages import AssistantUpdate, PipelineBatcher, PipelineEvents, ReplyCoalescer, ReplyText
from tui.screens.start import StartScreen
from tui.widgets.status_bar import StatusInfo

if TYPE_CHECKING:
    from core.assistant.loop import Assistant
    from core.audit import AuditLog
    from core.config import Config
    from core.history import ConversationStore
    from core.operations import SecureOperations
    from core.results import OperationResult
    from tui.screens.main import MainScreen


T = TypeVar("T")
AUTO_VERIFY_LIMIT = 200_000  # records verified at start-up without being asked


#: Seconds after a key press in which work that can wait (drawing a backlog, reading a fast stream) waits: enough
#: for the key to pass Textual's queues and for the frame that shows it.
INPUT_HOLD = 0.05
THEME_SAVE_DELAY = 0.5  # seconds a theme chosen in the app stays before it is saved


def _noting_input(driver: type[Driver]) -> type[Driver]:
    """``driver`` noting the time of each key press as its thread reads it, before the key waits in the event
    loop's queues (where other work may run ahead of it); the app's work that can wait holds off for it."""

    class InputNotingDriver(driver):  # type: ignore[misc,valid-type]
        def process_message(self, message: Message) -> None:
            if isinstance(message, textual_events.Key | textual_events.Paste):
                app = self._app
                if isinstance(app, SandchatApp):
                    app.input_at = time.monotonic()
            super().process_message(message)

    return InputNotingDriver


def local_clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def _main_screen() -> Screen[Any]:
    from tui.screens.main import MainScreen  # the panes, the pipeline's types: only once the services exist

    return MainScreen()


def _plain(text: str) -> str:
    from core.security.sanitize import strip_terminal_escapes

    return strip_terminal_escapes(text)


@dataclass(frozen=True)
class Started:
    """The services the app works with, as a loader builds them."""

    ops: SecureOperations
    config: Config
    audit: AuditLog | None = None
    assistant: Assistant | None = None
    history: ConversationStore | None = None
    sandbox_name: str = "default"
    backend_reason: str = ""
    config_error: str = ""


#: Builds the services in the app's start-up thread; raises SandchatError when they cannot be built.
Loader = Callable[["SandchatApp"], Started]


class SandchatApp(App[int]):
    """The app gets its services through the constructor so tests can build it over a temp dir."""

    CSS_PATH = "app.tcss"
    TITLE = "sandchat"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {"main": _main_screen}
    DEFAULT_MODE = "main"  # a mode, not get_default_screen(): only screens of modes get their CSS_PATH loaded
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+n", "new_conversation", "New chat", id="app.new_conversation", show=False),
        Binding("ctrl+o", "conversations", "Conversations", id="app.conversations"),
        Binding("ctrl+r", "audit", "Audit log", id="app.audit"),
        Binding("ctrl+t", "stats", "Statistics", id="app.stats", show=False),
        Binding("ctrl+s", "settings", "Settings", id="app.settings", show=False),
    ]

    ops: SecureOperations
    config: Config

    def __init__(
        self,
        ops: SecureOperations | None = None,
        config: Config | None = None,
        audit: AuditLog | None = None,
        assistant: Assistant | None = None,
        *,
        history: ConversationStore | None = None,
        sandbox_name: str = "default",
        backend_reason: str = "",
        config_error: str = "",
        config_path: Path | None = None,
        keymap: Mapping[str, str] | None = None,
        time_format: Callable[[float], str] = local_clock,
        load: Loader | None = None,
        freeze_after_warm_up: bool = False,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self._theme_problem = ""
        self._theme_timer: Timer | None = None
        self.freeze_after_warm_up = freeze_after_warm_up  # the sandchat command's own process only (see _warm_up)
        self.config_path = config_path
        self.time_format = time_format
        self._extra_keys = dict(keymap or {})
        self.keymap: dict[str, str] = dict(self._extra_keys)
        self.results: list[OperationResult] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._audit_count_pending = False
        self._audit_state = "checking"
        self.audit: AuditLog | None = None
        self.assistant: Assistant | None = None
        self.history: ConversationStore | None = None
        self.sandbox_name = sandbox_name
        self.backend_reason = backend_reason
        self.config_error = config_error
        #: When the person last pressed a key or pasted (monotonic seconds): work that can wait, like drawing a
        #: long reply's backlog, waits a moment so their key is on the screen first (see MarkdownLines).
        self.input_at = 0.0
        self.ready = False  # the services are in place (at once when given, after the loader otherwise)
        #: The loader's outcome; the entry point closes the services through it, however the app ended.
        self.started: concurrent.futures.Future[Started] = concurrent.futures.Future()
        self._load = load
        self.loading = False  # the loader thread was started
        if theme is not None and theme in self.available_themes:
            self.theme = theme  # ahead of the config, for the first frame (core.config_peek)
        if ops is not None:
            if config is None:
                from core.config import Config

                config = Config()
            self._use(Started(ops, config, audit, assistant, history, sandbox_name, backend_reason, config_error))
        elif load is None:
            raise TypeError("SandchatApp needs its services (ops, ...) or a loader that builds them")

    def _use(self, started: Started) -> None:
        self.ops = started.ops
        self.config = started.config
        self.audit = started.audit
        self.assistant = started.assistant
        if self.assistant is not None:
            self.assistant.give_way = self.give_way
        self.history = started.history
        self.sandbox_name = started.sandbox_name
        self.backend_reason = started.backend_reason
        self.config_error = started.config_error
        self.keymap = {**started.config.keys.bindings, **self._extra_keys}
        self._apply_theme(started.config.ui.theme)
        self.ready = True
        if not self.started.done():
            self.started.set_result(started)

    @property
    def main(self) -> MainScreen:
        from tui.screens.main import MainScreen

        # The bottom screen, or the one over the start screen when the app was started through a loader.
        screen = self.screen_stack[1 if isinstance(self.screen_stack[0], StartScreen) else 0]
        assert isinstance(screen, MainScreen)
        return screen

    def on_load(self) -> None:
        # Before any screen mounts: the file browser lists the workspace as soon as it is mounted.
        if self.ready:
            self._subscribe()

    def on_mount(self) -> None:
        if self.ready:
            self._begin()
        else:
            self.call_after_refresh(self._start_loading)  # after the first frame: loading competes for the GIL

    def _subscribe(self) -> None:
        self._unsubscribe.append(self.ops.subscribe(PipelineBatcher(self.post_message)))
        if self.assistant is not None:
            self._unsubscribe.append(self.assistant.subscribe(ReplyCoalescer(self.post_message)))

    def _begin(self) -> None:
        start = getattr(self.ops.backend, "start", None)
        if callable(start):  # a Daytona sandbox is found or created in the background while the person types
            self.run_worker(start(), name="backend-start", exit_on_error=False)
        if self.assistant is not None or self.freeze_after_warm_up:
            self.set_timer(1.0, self._warm_up)
        if self.keymap:
            self.set_keymap(self.keymap)  # [keys] bindings in the config: binding id -> key
        self.sub_title = f"sandbox '{self.sandbox_name}'"
        if self.config_error:
            self.notify(self.config_error, title="Config file ignored: using the defaults", severity="error",
                        timeout=30, markup=False)
        self._report_theme_problem()

    # -- the theme -----------------------------------------------------------------------------------
    def _apply_theme(self, name: str) -> None:
        """The config's ``[ui] theme``; one Textual does not know is reported once the main screen is up."""
        if name in self.available_themes:
            self._theme_problem = ""
            self.theme = name
            return
        known = ", ".join(sorted(self.available_themes))
        self._theme_problem = (f"There is no theme {name!r}; using {self.theme!r}. Themes: {known}. "
                               f"Choose one with ctrl+p, 'Change theme' (it is saved), or "
                               f"sandchat config set ui.theme {self.theme}")

    def _report_theme_problem(self) -> None:
        if self._theme_problem:
            self.notify(self._theme_problem, title="Theme", severity="warning", timeout=20, markup=False)

    def watch_theme(self, theme: str) -> None:
        """A theme chosen in the app (the command palette) is saved as ``[ui] theme``."""
        if not self.ready or self.config_path is None or theme == self.config.ui.theme:
            return
        from dataclasses import replace

        self.config = replace(self.config, ui=replace(self.config.ui, theme=theme))
        # the palette's theme list changes the theme as the person moves through it: save the one they stay on
        if self._theme_timer is not None:
            self._theme_timer.stop()
        self._theme_timer = self.set_timer(THEME_SAVE_DELAY, self._save_theme_soon)

    def _save_theme_soon(self) -> None:
        self._theme_timer = None
        self._save_theme(self.config.ui.theme)

    @work(thread=True, group="theme", exclusive=True, exit_on_error=False)
    def _save_theme(self, theme: str) -> None:
        error = self._write_theme(theme)
        if error is not None:  # a broken or unwritable file: the theme stays for this session
            self.call_from_thread(self.notify, f"The theme was not saved: {error}", title="Theme",
                                  severity="warning", markup=False)

    def _write_theme(self, theme: str) -> Exception | None:
        import json

        from core.config import update_config_file

        assert self.config_path is not None
        try:
            update_config_file(self.config_path, "ui.theme", json.dumps(theme))
        except Exception as error:
            return error
        return None

    # -- start-up through a loader ---------------------------------------------------------------------
    def _start_loading(self) -> None:
        self.loading = True
        threading.Thread(target=self._load_in_thread, name="sandchat-start", daemon=True).start()

    def _load_in_thread(self) -> None:
        assert self._load is not None
        try:
            started = self._load(self)
        except BaseException as error:  # the entry point reports it once the app has closed
            self.started.set_exception(error)
            self._if_running(self._load_failed)
            return
        self.started.set_result(started)
        self._if_running(self._loaded, started)

    def _if_running(self, callback: Callable[..., object], *args: object) -> None:
        try:
            self.call_from_thread(callback, *args)
        except RuntimeError:  # the person quit before the services were ready: the entry point closes them
            pass

    def _load_failed(self) -> None:
        self.exit(return_code=2)  # the entry point prints the reason once the terminal is restored

    async def _loaded(self, started: Started) -> None:
        if self._exit or not self.screen_stack:  # quitting already: the entry point closes the services
            return
        self._use(started)
        self._subscribe()
        typed, submitted = ("", False)
        if isinstance(self.screen, StartScreen):
            typed, submitted = self.screen.take_typed()
        await self.push_screen(_main_screen())  # over the start screen; a new mode would re-parse all the CSS
        self._begin()
        if typed:
            self.main.chat.prompt.insert(typed)
        if submitted:
            self.main.chat.prompt.action_submit()

    def status_info(self) -> StatusInfo:
        """What the status bar shows, from the services."""
        backend = self.ops.backend
        mode = getattr(self.ops.gate, "mode", None) or self.config.assistant.approval_mode
        model = self.assistant.config.model if self.assistant is not None else ""
        return StatusInfo(backend.name, backend.isolation().level, backend.sandbox_id, model, str(mode))

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up(self) -> None:
        """The first reply's one-time work, done in the background, then the long-lived objects frozen.

        Importing the model SDK, the Markdown renderer and compiling the lexer of Python code blocks would each
        stop the screen for a moment on the first reply. ``gc.freeze()`` then takes everything alive (the SDK's
        thousands of classes above all, which live as long as the process) out of the garbage collector's full
        passes, which otherwise stop the screen for 100-300 ms in the middle of a long reply. Whatever is frozen
        is never collected, so only the sandchat command asks for it, not a process that runs many apps (tests).
        Without a model there is nothing to warm up, but the freeze still spares every full pass the ~70,000
        objects of the app itself (~35 ms each), which a long execution log would otherwise wait on.
        """
        if self.assistant is not None:
            import openai  # noqa: F401

            from tui.widgets.reply import warm_up

            warm_up()
        if self.freeze_after_warm_up:
            gc.freeze()

    # -- keys first ---------------------------------------------------------------------------------
    def get_driver_class(self) -> type[Driver]:
        return _noting_input(super().get_driver_class())

    async def on_event(self, event: textual_events.Event) -> None:
        if isinstance(event, textual_events.Key | textual_events.Paste):
            self.input_at = max(self.input_at, time.monotonic())  # the driver noted it already (not in tests)
        await super().on_event(event)

    def input_hold(self) -> float:
        """Seconds for which work that can wait should still wait so the last key press is shown first (0: none).

        A key goes through a few queues before its screen update is drawn; a slice of drawing a reply's backlog
        or of reading a fast stream that runs between them delays the key by its length each time.
        """
        return max(0.0, self.input_at + INPUT_HOLD - time.monotonic())

    async def give_way(self) -> None:
        """One turn of the event loop for work that can wait; longer while a key press is being answered."""
        await asyncio.sleep(self.input_hold())

    # -- events ------------------------------------------------------------------------------------
    @on(PipelineEvents)
    def _pipeline_events(self, message: PipelineEvents) -> None:
        events = message.take()
        if not self._main_is_up():  # a late batch while the app shuts down (the audit log has every event)
            return
        self.main.show_pipeline_events(events)
        from core.events import OperationFinished

        if self.audit is not None and any(isinstance(e, OperationFinished) for e in events):
            self._count_audit_soon()

    @on(AssistantUpdate)
    async def _assistant_event(self, message: AssistantUpdate) -> None:
        if self._main_is_up():  # the turn's history has the reply: a late event at shutdown has nowhere to go
            await self.main.show_assistant_event(message.event)

    @on(ReplyText)
    async def _reply_text(self, message: ReplyText) -> None:
        text = message.take()
        if text and self._main_is_up():
            await self.main.chat.reply_delta(text)

    def _main_is_up(self) -> bool:
        # Answers can arrive while the app is shutting down, when there is no main screen left to update.
        from tui.screens.main import MainScreen

        up = self.is_running and not self._exit
        return up and any(isinstance(screen, MainScreen) for screen in self.screen_stack[:2])

    @on(ApprovalAsked)
    def _approval_asked(self, message: ApprovalAsked) -> None:
        if self._main_is_up():
            self.main.approval_waiting(message.request.command_text, True)

    @on(ApprovalSettled)
    def _approval_settled(self, message: ApprovalSettled) -> None:
        if not self._main_is_up():
            return
        self.main.approval_waiting(message.request.command_text, False)
        self.main.status.show_info(self.status_info())  # "always" may change what runs unasked

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(_plain(f"{type(error).__name__}: {error}"), title="Something went wrong",
                        severity="error", markup=False, timeout=15)

    # -- the audit log in the status bar ----------------------------------------------------------------
    @work(thread=True, group="audit", exclusive=True, exit_on_error=False)
    def check_audit(self, *, always: bool = False) -> None:
        """Verify the chain (in a thread: it reads every record) and show the outcome.

        At start-up a log of more than AUTO_VERIFY_LIMIT records is not verified unasked: that would keep a
        core busy for a long while; the palette's "Verify the audit log" (or the audit screen) does it.
        """
        if self.audit is None:
            self.call_from_thread(self._show_audit, "audit off", "off")
            return
        records = self.audit.last_seq
        if records > AUTO_VERIFY_LIMIT and not always:
            self._audit_state = "not verified"
            self.call_from_thread(self._show_audit_count, records)
            return
        self.call_from_thread(self._show_audit, "audit: checking…", "checking")

        def progress(checked: int, total: int) -> None:
            if checked and total:
                self.call_from_thread(self._show_audit, f"audit: checking… {checked * 100 // total}%", "checking")

        report = self.audit.verify(progress)
        self._audit_state = "verified" if report.ok else "BROKEN"
        if not report.ok:
            self.call_from_thread(self.notify, _plain(report.problem), title="Audit log BROKEN",
                                  severity="error", timeout=60, markup=False)
        self.call_from_thread(self._show_audit_count, self.audit.last_seq)

    def _count_audit_soon(self) -> None:
        if not self._audit_count_pending:
            self._audit_count_pending = True
            self.set_timer(0.5, self._count_audit)

    @work(thread=True, group="audit-count", exit_on_error=False)
    def _count_audit(self) -> None:
        self._audit_count_pending = False
        if self.audit is not None:
            self.call_from_thread(self._show_audit_count, self.audit.last_seq)

    def _show_audit_count(self, records: int) -> None:
        state = self._audit_state
        css = {"verified": "verified", "BROKEN": "broken"}.get(state, "checking")
        self._show_audit(f"audit {records:,} records {'✓ ' if state == 'verified' else ''}{state}", css)

    def _show_audit(self, text: str, state: str) -> None:
        self.main.status.show_audit(text, state)

    # -- other screens -------------------------------------------------------------------------------
    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self._open_screen("HelpScreen", self.keymap, HelpScreen, while_starting=True)

    def _still_starting(self) -> bool:
        """Before the services are ready there is no audit log, history or chat to open: say so."""
        if not self.ready:
            self.notify("sandchat is still starting: the sandbox and the audit log are being opened.",
                        severity="warning", timeout=3)
        return not self.ready

    def _open_screen(self, name: str, needs: T | None, make: Callable[[T], Screen[Any]], *, missing: str = "",
                     while_starting: bool = False, callback: Callable[[Any], None] | None = None) -> None:
        """Push ``make(needs)``, unless the app is still starting (and the screen needs its services), ``needs``
        is missing (then say ``missing``), or the screen is open already: its key stays bound while it is open,
        and pressing it again must not stack a second copy."""
        if not while_starting and self._still_starting():
            return
        if needs is None:
            self.notify(missing, severity="warning")
        elif type(self.screen).__name__ != name:
            self.push_screen(make(needs), callback=callback)

    def action_audit(self) -> None:
        from tui.screens.audit import AuditScreen

        self._open_screen("AuditScreen", self.audit, AuditScreen,
                          missing="The audit log is off (audit.enabled = false).")

    def action_stats(self) -> None:
        from tui.screens.stats import StatsScreen

        self._open_screen("StatsScreen", self.audit, StatsScreen,
                          missing="Statistics come from the audit log, which is off.")

    def action_settings(self) -> None:
        from tui.screens.settings import SettingsScreen

        self._open_screen("SettingsScreen", self.config_path, SettingsScreen, while_starting=True,
                          missing="There is no config file to edit in this session.", callback=self._settings_closed)

    def _settings_closed(self, saved: bool | None) -> None:
        if saved:
            self.notify("Saved. The model, sandbox and approval settings apply the next time sandchat starts.",
                        title="Settings")
            self._theme_from_file()

    def _theme_from_file(self) -> None:
        """The theme saved in the settings applies at once (the rest at the next start)."""
        from dataclasses import replace

        from core.config import load_config_or_defaults

        if self.config_path is None:
            return
        theme = load_config_or_defaults(self.config_path)[0].config.ui.theme
        self.config = replace(self.config, ui=replace(self.config.ui, theme=theme))  # already saved
        self._apply_theme(theme)
        self._report_theme_problem()

    def action_conversations(self) -> None:
        from tui.screens.conversations import ConversationsScreen

        self._open_screen("ConversationsScreen", self.history, ConversationsScreen,
                          missing="Conversations are not kept in this session.", callback=self._resume)

    def _resume(self, conversation_id: int | None) -> None:
        if conversation_id is not None:
            self.resume_conversation(conversation_id)

    @work(group="chat", exit_on_error=False)
    async def resume_conversation(self, conversation_id: int) -> None:
        """Continue a saved conversation: its messages are shown again and the next prompt goes on from it."""
        if self.assistant is None:
            self.notify("No model is configured, so a conversation cannot be continued.", severity="warning")
            return
        if self.assistant.busy:
            self.notify("Stop the current reply first (esc).", severity="warning")
            return
        self.assistant.resume(conversation_id)
        await self.main.chat.show_conversation(self.assistant.messages)

    def action_new_conversation(self) -> None:
        if self._still_starting():
            return
        if self.assistant is not None:
            if self.assistant.busy:
                self.notify("Stop the current reply first (esc).", severity="warning")
                return
            self.assistant.new_conversation()
        self.main.chat.action_clear()
        self.notify("New conversation.")

    def action_verify_audit(self) -> None:
        if self._still_starting():
            return
        self.check_audit(always=True)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self)

    def on_unmount(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._theme_timer is not None:  # a theme chosen just before quitting: saved now (no screen to say if not)
            self._theme_timer.stop()
            self._theme_timer = None
            self._write_theme(self.config.ui.theme)


class StartingApp(SandchatApp):
    """sandchat as the command starts it: the start screen first, the services from ``load`` after its frame.

    ``started`` holds what the loader built (or the error it raised) however the app ended, so the entry point
    can close the services, or report why they could not be built.
    """

    DEFAULT_MODE = "_default"  # textual's own: the start screen as the default screen costs one layout, a mode two

    def __init__(self, load: Loader, *, config_path: Path | None = None, freeze_after_warm_up: bool = False,
                 theme: str | None = None) -> None:
        super().__init__(load=load, config_path=config_path, freeze_after_warm_up=freeze_after_warm_up, theme=theme)

    def get_default_screen(self) -> Screen[Any]:
        return StartScreen()


def palette_commands(app: SandchatApp) -> Iterable[SystemCommand]:
    """The app's own actions in the command palette, each with the key that also runs it."""
    if not app.ready:
        return
    main = app.main

    def key(binding_id: str, default: str) -> str:
        return app.keymap.get(binding_id, default)

    entries: list[tuple[str, str, Callable[[], object]]] = [
        ("Audit log", f"Review the audit records ({key('app.audit', 'ctrl+r')})", app.action_audit),
        ("Statistics", f"Tool usage from the audit log ({key('app.stats', 'ctrl+t')})", app.action_stats),
        ("Settings", f"Edit the config ({key('app.settings', 'ctrl+s')})", app.action_settings),
        ("Conversations", f"List, search and resume ({key('app.conversations', 'ctrl+o')})",
         app.action_conversations),
        ("New conversation", f"Start afresh ({key('app.new_conversation', 'ctrl+n')})", app.action_new_conversation),
        ("Help: keys", f"Every binding ({key('app.help', 'f1')})", app.action_help),
        ("Toggle chat pane", f"Hide or show the chat ({key('panes.toggle_chat', 'f5')})",
         lambda: main.action_toggle_pane("chat")),
        ("Toggle files pane", f"Hide or show the files ({key('panes.toggle_files', 'f8')})",
         lambda: main.action_toggle_pane("files")),
        ("Toggle log pane", f"Hide or show the execution log ({key('panes.toggle_log', 'f9')})",
         lambda: main.action_toggle_pane("log")),
        ("Refresh files", "List the sandbox's files again", main.workspace_changed),
        ("Focus the chat", f"The prompt ({key('app.focus_chat', 'f2')})", lambda: main.action_focus_pane("chat")),
        ("Focus the files", f"The file tree ({key('app.focus_files', 'f3')})", lambda: main.action_focus_pane("files")),
        ("Focus the execution log", f"({key('app.focus_log', 'f4')})", lambda: main.action_focus_pane("log")),
        ("Chat wider", f"Move the divider right ({key('panes.chat_wider', 'alt+right')})",
         lambda: main.action_move_divider(1)),
        ("Chat narrower", f"Move the divider left ({key('panes.chat_narrower', 'alt+left')})",
         lambda: main.action_move_divider(-1)),
        ("Clear the chat", f"Only the screen; the conversation goes on ({key('chat.clear', 'ctrl+l')})",
         main.chat.action_clear),
        ("Filter the execution log", f"status:blocked actor:assistant … ({key('log.filter', 'ctrl+f')})",
         main.action_filter_log),
        ("Verify the audit log", "Check every record's MAC and the chain", app.action_verify_audit),
        ("Stop", f"Stop the reply or the running code ({key('main.cancel', 'escape')})", main.action_cancel),
    ]
    for title, help_text, callback in entries:
        yield SystemCommand(title, help_text, callback)
