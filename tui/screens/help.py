"""The help screen: every key binding, where it works, its id (for [keys] in the config) and its key now."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

INTRO = (
    "Type a command (read file:, write file:, delete file:, list files:, info file:, run code:, search web:) "
    "to run it yourself; anything else goes to the assistant. Every key below can be changed in the config: "
    "sandchat config set keys.bindings '{ \"app.help\" = \"f1\" }'. ctrl+p opens the command palette."
)


def binding_sections() -> list[tuple[str, list[Binding]]]:
    """Every binding of the app, grouped by where it works (imports the screens: called when help opens)."""
    from tui.app import SandchatApp
    from tui.screens.approval import ApprovalScreen
    from tui.screens.audit import AuditScreen
    from tui.screens.audit_dialogs import AuditRecordScreen, ExportScreen
    from tui.screens.audit_table import AuditTable
    from tui.screens.conversations import ConversationsScreen, ConversationTable
    from tui.screens.dialogs import ConfirmScreen, NewFileScreen
    from tui.screens.file_view import FileViewScreen
    from tui.screens.main import MainScreen
    from tui.screens.panes import PaneLayout
    from tui.screens.settings import SettingsScreen
    from tui.screens.stats import StatsScreen
    from tui.widgets.chat import ChatPane
    from tui.widgets.exec_log import ExecutionLog
    from tui.widgets.file_browser import FileBrowser
    from tui.widgets.prompt import PromptArea

    places: list[tuple[str, tuple[type[DOMNode], ...]]] = [
        ("Everywhere", (SandchatApp,)), ("Main screen", (MainScreen,)), ("Panes", (PaneLayout,)),
        ("Prompt", (PromptArea,)), ("Chat", (ChatPane,)), ("Files", (FileBrowser,)),
        ("Execution log", (ExecutionLog,)), ("Approval", (ApprovalScreen,)), ("File view", (FileViewScreen,)),
        ("Questions", (ConfirmScreen, NewFileScreen)), ("Audit log", (AuditScreen, AuditTable)),
        ("Audit record", (AuditRecordScreen,)), ("Audit export", (ExportScreen,)), ("Statistics", (StatsScreen,)),
        ("Settings", (SettingsScreen,)), ("Conversations", (ConversationsScreen, ConversationTable)),
        ("Help", (HelpScreen,)),
    ]
    return [(title, [b for cls in owners for b in _bindings(cls.BINDINGS)]) for title, owners in places]


def _bindings(items: Iterable[BindingType]) -> list[Binding]:
    return [b for b in items if isinstance(b, Binding) and b.id]


def bindings_table(keymap: Mapping[str, str]) -> Table:
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column("Where", style="bold", no_wrap=True)
    table.add_column("Key", style="bold cyan", no_wrap=True)
    table.add_column("Does")
    table.add_column("Id", style="dim", no_wrap=True)
    for title, bindings in binding_sections():
        for n, b in enumerate(bindings):
            key = keymap.get(b.id or "") or b.key.replace(",", ", ")  # every key (the footer shows one)
            table.add_row(title if n == 0 else "", key, Text(b.description or b.action), b.id or "")
    return table


class HelpScreen(ModalScreen[None]):
    """All bindings in one table; Escape, q or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background 70%; }
    HelpScreen > VerticalScroll { width: 100; max-width: 95%; height: 90%; border: thick $primary;
                                  background: $surface; padding: 0 1; }
    HelpScreen #help-intro { padding: 1 0; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text(INTRO), id="help-intro")
            yield Static(bindings_table(self.keymap), id="help-table")
        yield Footer()
