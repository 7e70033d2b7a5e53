"""The settings screen: the config file as a form, one tab per TOML section, checked before anything is written.

Every changed value is checked the way the file is (``set_value``); a refused value is explained next to its
input and nothing is written until all are valid. What is written is the file's own values plus the edits
(never values from environment variables), atomically and mode 0o600. A broken file is shown with its error
and never saved over as it is: where it is TOML, fixing the broken value here repairs it in one write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Select, Static, Switch, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from core.config import Config, ConfigError
from core.config_model import display_path
from tui.screens.dialogs import ConfirmScreen
from tui.screens.screen_commands import PaletteEntry, ScreenActions
from tui.screens.settings_form import SettingRow
from tui.screens.settings_model import SettingsFile, check_edits, load_settings, write_settings

SAVE_GROUP = "settings-save"


def section_id(section: str) -> str:
    """The id of a section's tab pane, e.g. ``section-local``."""
    return "section-" + section


class SettingsScreen(Screen[bool]):
    """Edit the config file; dismisses with True once saved, False when closed without saving."""

    CSS_PATH = "settings.tcss"
    COMMANDS = {ScreenActions}
    PALETTE: ClassVar[tuple[PaletteEntry, ...]] = (
        ("Settings: save", "check every change and write the config file", "save"),
        ("Settings: cancel", "close without saving", "cancel"),
        ("Settings: next section", "the next table of the config", "section(1)"),
        ("Settings: previous section", "the previous table of the config", "section(-1)"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("escape", "cancel", "Cancel", id="settings.cancel"),
        Binding("alt+right", "section(1)", "Next section", id="settings.next_section"),
        Binding("alt+left", "section(-1)", "Previous section", id="settings.previous_section"),
    ]

    def __init__(self, config_path: Path, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._path = config_path
        self._environ = os.environ if environ is None else environ
        self._settings: SettingsFile | None = None
        self._saving = False
        self._filled: set[str] = set()

    @property
    def settings(self) -> SettingsFile:
        """The file as it was read when the screen opened."""
        if self._settings is None:
            self._settings = load_settings(self._path, self._environ)
        return self._settings

    def compose(self) -> ComposeResult:
        settings = self.settings
        yield Static(Text(f"Settings · {display_path(self._path)}"), id="settings-title")
        yield Static(self._problem_text(), id="settings-problem", classes="-shown" if self._has_problem() else "")
        broken = settings.broken_key.partition(".")[0]
        with TabbedContent(id="sections", initial=section_id(broken) if broken else ""):
            for section in self.sections():
                with TabPane(section, id=section_id(section)):
                    yield VerticalScroll(id="rows-" + section)
        with Horizontal(id="settings-buttons"):
            yield Static(Text("No changes"), id="settings-status")
            yield Button("Save", id="save", variant="primary", disabled=not settings.repairable)
            yield Button("Cancel", id="cancel")
        yield Footer()

    async def on_mount(self) -> None:
        settings = self.settings
        error, key = settings.file_error, settings.broken_key
        await self._fill(key.partition(".")[0] if key else self.sections()[0])
        if error is not None and key:
            self._row(key).show_error(error.problem)
            self._reveal(key)

    def sections(self) -> list[str]:
        """The TOML sections, in file order."""
        return list(dict.fromkeys(field.section for field in self.settings.fields))

    async def _fill(self, section: str) -> None:
        """Build a section's rows the first time it is shown: a screen of 60 inputs would open slowly."""
        if section in self._filled:
            return
        self._filled.add(section)
        read_only = not self.settings.repairable
        rows = [SettingRow(f, read_only=read_only) for f in self.settings.fields if f.section == section]
        await self.query_one("#rows-" + section, VerticalScroll).mount_all(rows)

    @on(TabbedContent.TabActivated)
    async def _section_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            await self._fill(event.pane.id.removeprefix("section-"))

    def _has_problem(self) -> bool:
        return self.settings.file_error is not None or self.settings.env_error is not None

    def _problem_text(self) -> Text:
        settings, lines = self.settings, []
        if settings.file_error is not None:
            lines.append(f"This file is broken, so sandchat runs with the defaults: {settings.file_error}")
            if settings.repairable:
                lines.append("Nothing is saved over it as it is: fix the value it names (marked below) and save; "
                             "the file is written only once it is valid as a whole.")
            else:
                lines.append("No value typed here can fix this: fix or move the file by hand. "
                             "sandchat will not overwrite it.")
        if settings.env_error is not None:
            lines.append(f"Ignored: {settings.env_error}")
        return Text("\n".join(lines))

    # -- editing -------------------------------------------------------------------------------
    def rows(self) -> list[SettingRow]:
        """The rows built so far (a section's rows are built when it is first shown); an unbuilt row is unedited."""
        return list(self.query(SettingRow))

    def _row(self, key: str) -> SettingRow:
        return next(row for row in self.rows() if row.field.key == key)

    def edits(self) -> dict[str, str]:
        """The values the person changed, key -> text as typed (booleans and choices as their TOML text)."""
        return {row.field.key: text for row in self.rows() if (text := row.edited_text()) is not None}

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _changed(self, event: Input.Changed | Switch.Changed | Select.Changed) -> None:
        row = next((node for node in event.control.ancestors if isinstance(node, SettingRow)), None)
        if row is None:
            return
        row.mark_edited()
        if row.edited_text() is not None and row.field.key != self.settings.broken_key:
            row.clear_error()  # checked again on save; a stale reason next to a new value only confuses
        count = len(self.edits())
        status = "No changes" if count == 0 else f"{count} unsaved change" + ("s" if count > 1 else "")
        self.query_one("#settings-status", Static).update(Text(status))

    async def action_section(self, step: int) -> None:
        """Show the next (or previous) section and focus its first input, from anywhere in the form."""
        sections, tabs = self.sections(), self.query_one(TabbedContent)
        current = tabs.active.removeprefix("section-")
        section = sections[(sections.index(current) + step) % len(sections)]
        await self._fill(section)
        tabs.active = section_id(section)
        first = next(row for row in self.rows() if row.field.section == section)
        self.call_after_refresh(first.control.focus)

    def _reveal(self, key: str) -> None:
        """Show the tab holding ``key`` (its rows exist) and put the focus on its input."""
        row = self._row(key)
        self.query_one(TabbedContent).active = section_id(row.field.section)
        self.call_after_refresh(row.control.focus)

    # -- saving and closing --------------------------------------------------------------------------
    def action_save(self) -> None:
        """Check every change; write them all if all are valid, else explain each refusal in place."""
        settings = self.settings
        if not settings.repairable:
            self.notify("This file cannot be fixed from here (see above); nothing was saved.", severity="error")
            return
        if self._saving:
            return
        edits = self.edits()
        if not edits:
            self.dismiss(False)
            return
        config, problems = check_edits(settings, edits)
        for row in self.rows():
            key = row.field.key
            if key in problems:
                row.show_error(problems[key].problem)
            elif key in edits or key != settings.broken_key:
                row.clear_error()
        if problems:
            count = len(problems)
            noun = "value needs" if count == 1 else "values need"
            self._status(f"{count} {noun} fixing; nothing was saved")
            self._reveal(next(iter(problems)))
            return
        self._saving = True
        self._status("Saving…")
        self._write(config, edits)

    @work(thread=True, exclusive=True, group=SAVE_GROUP, exit_on_error=False)
    def _write(self, config: Config, edits: dict[str, str]) -> None:
        write_settings(self.settings, config, edits)

    @on(Worker.StateChanged)
    async def _save_finished(self, event: Worker.StateChanged) -> None:
        if event.worker.group != SAVE_GROUP:
            return
        if event.state == WorkerState.SUCCESS:
            self.dismiss(True)
        elif event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._saving = False
            await self._save_failed(event.worker.error)

    async def _save_failed(self, error: BaseException | None) -> None:
        self._status("Not saved")
        banner = self.query_one("#settings-problem", Static)
        banner.update(Text(f"Not saved: {error}"))
        banner.add_class("-shown")
        if isinstance(error, ConfigError):
            key = error.key.split("[", 1)[0]
            if any(field.key == key for field in self.settings.fields):
                await self._fill(key.partition(".")[0])
                self._row(key).show_error(error.problem)
                self._reveal(key)

    def _status(self, text: str) -> None:
        self.query_one("#settings-status", Static).update(Text(text))

    def action_cancel(self) -> None:
        """Close without saving; asks first when there are unsaved changes."""
        if not self.edits():
            self.dismiss(False)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(False)

        question = "Discard your unsaved changes to the settings?"
        self.app.push_screen(ConfirmScreen(Text(question), yes_label="Discard"), answered)

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
