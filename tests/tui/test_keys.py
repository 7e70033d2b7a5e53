"""Keyboard: panes hidden, shown, focused and resized; help; palette; every binding has an id."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Static

from core.audit import AuditLog
from core.audit_types import AuditContext
from core.history import ConversationStore
from core.operations import SecureOperations
from tests.tui.helpers import focused, run_from_palette, top_screen
from tui.app import SandchatApp, palette_commands
from tui.screens.help import HelpScreen, binding_sections
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.file_browser import FileBrowser
from tui.widgets.prompt import PromptArea


async def test_panes_hide_and_come_back_when_focused(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        await pilot.press("f8")  # hide files
        assert not main.pane("files").display and main.pane("log").display
        await pilot.press("f9")  # hide log: the side column goes
        assert not main.query_one("#side").display
        await pilot.press("f5")  # the chat is the last pane: it stays
        assert main.pane("chat").display
        await pilot.press("f3")  # focusing a hidden pane shows it
        assert main.pane("files").display and app.focused is main.query_one(FileBrowser)
        await pilot.press("f8")  # hiding the focused pane moves focus to one that is shown
        assert not main.pane("files").display and focused(app) is main.query_one(PromptArea)


async def test_panes_are_resized_from_the_keyboard(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        main = app.main
        chat_width = main.pane("chat").size.width
        files_height = main.pane("files").size.height
        await pilot.press("alt+right", "alt+right")
        await pilot.press("alt+down")
        await pilot.pause()
        assert main.pane("chat").size.width > chat_width
        assert main.pane("files").size.height > files_height
        for _ in range(20):
            main.action_move_divider(-1)  # what alt+left does; the keys themselves were pressed above
        await pilot.pause()
        assert main.chat_share == 15 and main.pane("chat").size.width >= 15


async def test_help_lists_every_binding_with_its_current_key(ops: SecureOperations) -> None:
    app = SandchatApp(ops, keymap={"app.audit": "f12"})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.query_one("#help-table", Static).visual
        assert table is not None
        await pilot.press("escape")
        assert top_screen(app) is app.main
    ids = [b.id for _, bindings in binding_sections() for b in bindings]
    assert {"app.audit", "prompt.send", "approval.edit", "panes.toggle_log", "files.delete"} <= set(ids)
    assert len(ids) == len(set(ids))


def classes_with_bindings() -> list[type[DOMNode]]:
    """Every class of the app's own modules that declares key bindings."""
    import importlib
    import inspect
    import pkgutil

    import tui

    found: list[type[DOMNode]] = []
    for info in pkgutil.walk_packages(tui.__path__, "tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__ == module.__name__ and cls.__dict__.get("BINDINGS"):
                found.append(cls)
    return found


def test_every_binding_has_an_id_and_is_in_the_help() -> None:
    owners = classes_with_bindings()
    assert len(owners) >= 20  # the walk found the screens and widgets
    in_help = {b.id for _, bindings in binding_sections() for b in bindings}
    for owner in owners:
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.id, f"{owner.__name__}: {binding}"
            assert binding.id in in_help, f"{owner.__name__}: {binding.id} is not in the help screen"


async def test_the_palette_offers_the_apps_actions(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        titles = [c.title for c in palette_commands(app)]
        for wanted in ("Audit log", "Statistics", "Settings", "Conversations", "Help: keys", "New conversation",
                       "Toggle files pane", "Refresh files"):
            assert wanted in titles
        await run_from_palette(pilot, "toggle log")
        assert not app.main.pane("log").display


async def test_missing_services_are_explained_not_crashed_on(ops: SecureOperations) -> None:
    app = SandchatApp(ops)  # no audit log, no history, no config file
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("ctrl+r", "ctrl+t", "ctrl+s", "ctrl+o"):
            await pilot.press(key)
        await pilot.pause()
        assert app.screen is app.main and len([n for n in app._notifications if n.severity == "warning"]) == 4
        assert app.main.query_one(ExecutionLog) is not None


async def test_the_other_screens_open_from_their_keys(ops: SecureOperations, tmp_path: Path) -> None:
    from tui.screens.audit import AuditScreen
    from tui.screens.conversations import ConversationsScreen
    from tui.screens.settings import SettingsScreen
    from tui.screens.stats import StatsScreen

    audit = AuditLog.open(tmp_path / "data", AuditContext())
    history = ConversationStore.open(tmp_path / "data")
    app = SandchatApp(ops, None, audit, None, history=history, config_path=tmp_path / "config" / "config.toml")
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            for key, screen in (("ctrl+r", AuditScreen), ("ctrl+t", StatsScreen), ("ctrl+s", SettingsScreen),
                                ("ctrl+o", ConversationsScreen)):
                await pilot.press(key)
                await pilot.pause()
                assert isinstance(app.screen, screen), key
                depth = len(app.screen_stack)
                await app.run_action({"ctrl+r": "audit", "ctrl+t": "stats", "ctrl+s": "settings",
                                      "ctrl+o": "conversations"}[key])
                await pilot.pause()
                assert len(app.screen_stack) == depth, f"{key} opened a second copy"
                app.pop_screen()
                await pilot.pause()
                assert top_screen(app) is app.main
    finally:
        audit.close()
        history.close()


async def test_the_status_bar_shows_weak_isolation_and_a_broken_audit_log() -> None:
    from core.audit_types import VerifyReport
    from core.audit_verify import Progress
    from tests.tui.fakes import FixedAudit, FixedBackend
    from tui.widgets.status_bar import StatusBar

    class BrokenAudit(FixedAudit):
        def verify(self, progress: Progress | None = None) -> VerifyReport:
            return VerifyReport(False, 7, first_bad_seq=8, problem="record 8: MAC does not match")

    app = SandchatApp(SecureOperations(FixedBackend(isolation="weak")), None, cast(AuditLog, BrokenAudit()))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        bar = app.main.query_one(StatusBar)
        assert "WEAK ISOLATION" in bar.text() and bar.query_one("#backend").has_class("-weak")
        assert "BROKEN" in bar.text() and bar.query_one("#audit").has_class("-broken")
        assert any(n.title == "Audit log BROKEN" and "record 8" in n.message for n in app._notifications)


def test_every_screen_palette_entry_names_an_action_of_its_screen() -> None:
    from tui.screens.audit import AuditScreen
    from tui.screens.conversations import ConversationsScreen
    from tui.screens.settings import SettingsScreen
    from tui.screens.stats import StatsScreen

    for screen in (AuditScreen, StatsScreen, SettingsScreen, ConversationsScreen):
        entries = screen.PALETTE
        assert entries, f"{screen.__name__} offers nothing in the palette"
        for title, _help, action in entries:
            name = action.split("(", 1)[0]
            assert callable(getattr(screen, f"action_{name}", None)), f"{screen.__name__}: {title} -> {action}"
            bound = {b.action.split("(", 1)[0] for b in screen.BINDINGS if isinstance(b, Binding)}
            assert name in bound, f"{screen.__name__}: {title} has no key"
