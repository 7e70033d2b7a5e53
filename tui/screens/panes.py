"""Pane layout of the main screen: focus, hide and resize the chat, the files and the log from the keyboard."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget

PANES = ("chat", "files", "log")
_CONTAINERS = {"chat": "#chat", "files": "#files", "log": "#log-pane"}
STEP = 5  # percent per key press


class PaneLayout(Screen[None]):
    """The chat beside a side column of files over the log; shares are percentages."""

    # f6 and f7 are the prompt's (TextArea: select line, select all), so the toggles skip them.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "focus_pane('chat')", "Chat", id="app.focus_chat", show=False),
        Binding("f3", "focus_pane('files')", "Files", id="app.focus_files", show=False),
        Binding("f4", "focus_pane('log')", "Log", id="app.focus_log", show=False),
        Binding("f5", "toggle_pane('chat')", "Hide/show chat", id="panes.toggle_chat", show=False),
        Binding("f8", "toggle_pane('files')", "Hide/show files", id="panes.toggle_files", show=False),
        Binding("f9", "toggle_pane('log')", "Hide/show log", id="panes.toggle_log", show=False),
        Binding("alt+left", "move_divider(-1)", "Chat narrower", id="panes.chat_narrower", show=False),
        Binding("alt+right", "move_divider(1)", "Chat wider", id="panes.chat_wider", show=False),
        Binding("alt+up", "move_split(-1)", "Files smaller", id="panes.files_smaller", show=False),
        Binding("alt+down", "move_split(1)", "Files larger", id="panes.files_larger", show=False),
    ]

    chat_share = 60
    files_share = 45
    #: The selector of the widget that takes focus for each pane; a screen names its own.
    FOCUS_TARGETS: ClassVar[dict[str, str]] = _CONTAINERS

    def focusable_pane(self, name: str) -> Widget:
        """The widget that takes focus for a pane."""
        return self.query_one(self.FOCUS_TARGETS[name])

    def pane(self, name: str) -> Widget:
        return self.query_one(_CONTAINERS[name])

    def visible_panes(self) -> list[str]:
        return [name for name in PANES if self.pane(name).display]

    def show_pane(self, name: str) -> None:
        if not self.pane(name).display:
            self.pane(name).display = True
            self._apply_layout()

    def action_focus_pane(self, name: str) -> None:
        self.show_pane(name)
        self.focusable_pane(name).focus()

    def action_toggle_pane(self, name: str) -> None:
        widget = self.pane(name)
        if widget.display and self.visible_panes() == [name]:
            self.notify("One pane always stays open.", severity="warning")
            return
        had_focus = self.focused is not None and (self.focused is widget or widget in self.focused.ancestors)
        widget.display = not widget.display
        self._apply_layout()
        if had_focus:
            self.focusable_pane(self.visible_panes()[0]).focus()

    def action_move_divider(self, direction: int) -> None:
        self.chat_share = min(85, max(15, self.chat_share + direction * STEP))
        self._apply_layout()

    def action_move_split(self, direction: int) -> None:
        self.files_share = min(85, max(15, self.files_share + direction * STEP))
        self._apply_layout()

    def _apply_layout(self) -> None:
        side = self.query_one("#side")
        side.display = self.pane("files").display or self.pane("log").display
        self.pane("chat").styles.width = f"{self.chat_share}fr"
        side.styles.width = f"{100 - self.chat_share}fr"
        self.pane("files").styles.height = f"{self.files_share}fr"
        self.pane("log").styles.height = f"{100 - self.files_share}fr"
