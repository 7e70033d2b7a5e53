"""One row of the settings form: a key's name, its input, what it expects and its default, and its error."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from tui.screens.settings_model import SettingField


def control_id(key: str) -> str:
    """The DOM id of the input for ``key``: ``local.timeout`` -> ``setting-local-timeout``."""
    return "setting-" + key.replace(".", "-")


def _secret_placeholder(field: SettingField) -> str:
    if field.saved_secret:
        return f'saved ({field.saved_secret}); type a new one to replace it, or "" to remove it'
    return "not set; type one to save it in the file"


class SettingRow(Widget):
    """A key of the config; knows whether the person changed it and shows why a change was refused."""

    DEFAULT_CSS = """
    SettingRow {
        layout: grid; grid-size: 3 2; grid-columns: 26 auto 1fr; grid-rows: 1 auto;
        height: auto; padding: 0 1; margin-bottom: 1;
    }
    SettingRow .setting-name { text-style: bold; }
    SettingRow:focus-within .setting-name { color: $accent; }
    SettingRow.-edited .setting-name { text-style: bold italic; }
    SettingRow .setting-control { column-span: 2; }
    SettingRow .setting-control:focus { background-tint: $accent 15%; }
    SettingRow Switch.setting-control { column-span: 1; width: auto; height: 1; border: none; padding: 0; }
    SettingRow Switch.setting-control:focus { border: none; background-tint: $accent 30%; }
    SettingRow .setting-state { padding-left: 2; }
    SettingRow .setting-details { column-span: 3; padding-left: 26; height: auto; }
    SettingRow.-invalid .setting-control { background-tint: $error 30%; }
    """
    # few widgets per row on purpose: a section of 16 keys must still open at once

    def __init__(self, field: SettingField, *, read_only: bool = False) -> None:
        super().__init__(id="row-" + control_id(field.key))
        self.field = field
        self._read_only = read_only or bool(field.env_var)
        self.problem = ""

    def compose(self) -> ComposeResult:
        field = self.field
        yield Label(Text(field.name), classes="setting-name")
        yield self._control()
        if field.kind == "flag" and not field.env_var:
            yield Label(Text(field.text), classes="setting-state")  # on/off also without colours
        yield Static(self._details(), classes="setting-details")

    def _details(self) -> Content:
        field = self.field
        parts: list[str | tuple[str, str]] = [(f"{field.expected} · default: {field.default_text or '(empty)'}",
                                               "$text-muted")]
        if field.secret and not field.env_var:
            parts += ["\n", ("a secret: written to the file only when you type one here", "$text-muted")]
        if field.env_var:
            note = f"set by the environment variable {field.env_var}: read-only here; the file's value is kept"
            parts += ["\n", (note, "$text-warning")]
        if self.problem:
            parts += ["\n", ("✗ " + self.problem, "$text-error")]
        return Content.assemble(*parts)

    def _control(self) -> Widget:
        field, cid = self.field, control_id(self.field.key)
        if field.env_var:
            return Input(field.env_text, id=cid, classes="setting-control", disabled=True, compact=True)
        if field.kind == "flag":
            return Switch(field.text == "true", id=cid, classes="setting-control", disabled=self._read_only)
        if field.kind == "choice":
            options = [(Text(option), option) for option in field.options]
            return Select(options, value=field.text, allow_blank=False, id=cid, classes="setting-control",
                          disabled=self._read_only, compact=True)
        if field.secret:
            return Input("", placeholder=_secret_placeholder(field), password=True, id=cid,
                         classes="setting-control", disabled=self._read_only, compact=True)
        return Input(field.text, placeholder=field.default_text, id=cid, classes="setting-control",
                     disabled=self._read_only, compact=True)

    @on(Switch.Changed)
    def _switched(self, event: Switch.Changed) -> None:
        self.query_one(".setting-state", Label).update(Text("true" if event.value else "false"))

    @property
    def control(self) -> Widget:
        """The input widget of this row."""
        return self.query_one("#" + control_id(self.field.key))

    def edited_text(self) -> str | None:
        """The new value as text for `set_value`, or None when the person has not changed it."""
        if self._read_only:
            return None
        control, field = self.control, self.field
        if isinstance(control, Switch):
            return None if control.value == (field.text == "true") else ("true" if control.value else "false")
        if isinstance(control, Select):
            return None if control.value == field.text else str(control.value)
        if isinstance(control, Input):
            if field.secret:
                return control.value or None  # empty: keep the saved secret; it is written only when typed
            return None if control.value == field.text else control.value
        return None

    def mark_edited(self) -> None:
        """Highlight the name when the value differs from the file's."""
        self.set_class(self.edited_text() is not None, "-edited")

    def show_error(self, problem: str) -> None:
        """Explain, next to the input, why its value cannot be saved."""
        self.problem = problem
        self.query_one(".setting-details", Static).update(self._details())
        self.add_class("-invalid")

    def clear_error(self) -> None:
        """The value is acceptable (again)."""
        if self.problem:
            self.problem = ""
            self.query_one(".setting-details", Static).update(self._details())
        self.remove_class("-invalid")
