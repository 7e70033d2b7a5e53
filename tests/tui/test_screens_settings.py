"""The settings screen, pushed alone in a tiny host app over a real config file in a temp dir."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, Switch, TabbedContent

from tui.screens.dialogs import ConfirmScreen
from tui.screens.settings import SettingsScreen, section_id
from tui.screens.settings_form import SettingRow, control_id


class Host(App[None]):
    """Pushes the settings screen at start and records what it dismisses with."""

    def __init__(self, path: Path, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.path, self.environ = path, dict(environ or {})
        self.results: list[bool | None] = []
        self.animation_level = "none"

    def on_mount(self) -> None:
        self.push_screen(SettingsScreen(self.path, environ=self.environ), self.results.append)

    @property
    def settings(self) -> SettingsScreen:
        screen = self.screen
        assert isinstance(screen, SettingsScreen)
        return screen


def config_file(tmp_path: Path, text: str | None) -> Path:
    path = tmp_path / "config" / "config.toml"
    if text is not None:
        path.parent.mkdir(mode=0o700)
        path.write_text(text)
    return path


async def settle(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def show(pilot: Pilot[None], key: str, *, focus: bool = True) -> Any:
    """Open the tab of ``key`` and (unless told not to) focus its input, as Tab and the arrows would."""
    screen = pilot.app.screen
    tabs = screen.query_one(TabbedContent)
    section = section_id(key.partition(".")[0])
    if tabs.active != section:
        tabs.active = section
        await pilot.pause()
    control = screen.query_one("#" + control_id(key))
    if focus:
        control.focus()
        await pilot.pause()
    return control


async def type_value(pilot: Pilot[None], key: str, text: str, *, by_keys: bool = False) -> None:
    """Replace the value of ``key``'s input; key by key when asked (slower: a pause per key)."""
    control = await show(pilot, key, focus=by_keys)  # focus only to type: each move redraws the footer
    assert isinstance(control, Input)
    control.value = "" if by_keys else text
    if by_keys:
        await pilot.press(*text)
    await pilot.pause()


def row(app: Host, key: str) -> SettingRow:
    return app.settings.query_one("#row-" + control_id(key), SettingRow)


def error_text(app: Host, key: str) -> str:
    found = row(app, key)
    return found.problem if found.has_class("-invalid") else ""


def details(app: Host, key: str) -> str:
    return str(row(app, key).query_one(".setting-details", Static).render())


def read(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


async def test_a_number_a_switch_and_a_choice_are_saved_atomically_and_privately(tmp_path: Path) -> None:
    path = config_file(tmp_path, None)
    app = Host(path)
    async with app.run_test(size=(120, 40)) as pilot:
        select = await show(pilot, "backend.mode")
        assert isinstance(select, Select) and select.value == "auto"
        await pilot.press("enter", "down", "enter")  # open the list, next option, choose it
        await pilot.pause()
        assert select.value == "local"
        await type_value(pilot, "local.timeout", "45", by_keys=True)
        switch = await show(pilot, "audit.enabled")
        assert isinstance(switch, Switch) and switch.value is True
        await pilot.press("space")
        assert app.settings.edits() == {"backend.mode": "local", "local.timeout": "45", "audit.enabled": "false"}
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.results == [True]
    assert read(path) == {"backend": {"mode": "local"}, "local": {"timeout": 45.0}, "audit": {"enabled": False}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name != "config.toml"]  # no temp file left behind


async def test_an_invalid_value_is_explained_inline_and_nothing_is_written(tmp_path: Path) -> None:
    path = config_file(tmp_path, "[local]\nmemory_mb = 2048\n")
    before = path.read_bytes()
    app = Host(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_value(pilot, "local.timeout", "soon", by_keys=True)
        await type_value(pilot, "local.processes", "0")
        await type_value(pilot, "local.memory_mb", "4096")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.results == []
        assert "a number of seconds > 0" in error_text(app, "local.timeout")
        assert "got 'soon'" in error_text(app, "local.timeout")
        assert "a whole number >= 1" in error_text(app, "local.processes")
        assert error_text(app, "local.memory_mb") == ""
        status = str(app.settings.query_one("#settings-status", Static).render())
        assert "2 values need fixing; nothing was saved" in status
        assert path.read_bytes() == before
        assert app.settings.focused is app.settings.query_one("#" + control_id("local.timeout"))
        await type_value(pilot, "local.timeout", "5")
        await type_value(pilot, "local.processes", "8")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.results == [True]
    assert read(path) == {"local": {"timeout": 5.0, "memory_mb": 4096, "processes": 8}}


async def test_a_value_from_the_environment_is_read_only_and_never_written(tmp_path: Path) -> None:
    path = config_file(tmp_path, '[assistant]\nbase_url = "https://file.example/v1"\n')
    environ = {"OPENAI_BASE_URL": "https://env.example/v1", "OPENAI_API_KEY": "sk-env-0123456789abcdef"}
    app = Host(path, environ)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        base_url = await show(pilot, "assistant.base_url")
        assert isinstance(base_url, Input) and base_url.disabled and base_url.value == "https://env.example/v1"
        note = details(app, "assistant.base_url")
        assert "OPENAI_BASE_URL" in note and "read-only" in note
        api_key = app.settings.query_one("#" + control_id("assistant.api_key"), Input)
        assert api_key.disabled and api_key.value == "****cdef"  # masked, even from the environment
        await type_value(pilot, "assistant.model", "gpt-test")
        await type_value(pilot, "search.api_key", "typed-key")  # writing secrets must not take the env's too
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.results == [True]
    assert read(path) == {
        "assistant": {"base_url": "https://file.example/v1", "model": "gpt-test"},
        "search": {"api_key": "typed-key"},
    }


async def test_a_secret_is_masked_and_written_only_when_typed(tmp_path: Path) -> None:
    saved = "dtn-saved-0123456789wxyz"
    path = config_file(tmp_path, f'[daytona]\napi_key = "{saved}"\n')
    app = Host(path)
    async with app.run_test(size=(120, 40)) as pilot:
        daytona_key = await show(pilot, "daytona.api_key")
        assert isinstance(daytona_key, Input) and daytona_key.value == "" and daytona_key.password
        assert "****wxyz" in daytona_key.placeholder and saved not in daytona_key.placeholder
        assert all(saved not in field.value for field in app.settings.query(Input))
        await type_value(pilot, "daytona.cpu", "2")
        await type_value(pilot, "search.api_key", "brave-typed-key-123")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.results == [True]
    # the saved key is kept as it was (not blanked, not copied anywhere); the typed one is written
    assert read(path) == {"daytona": {"api_key": saved, "cpu": 2}, "search": {"api_key": "brave-typed-key-123"}}


async def test_a_broken_file_is_shown_and_not_overwritten_until_it_is_fixed(tmp_path: Path) -> None:
    path = config_file(tmp_path, '# mine\n[local]\ntimeout = "soon"\nmemory_mb = 2048\n')
    before = path.read_bytes()
    app = Host(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = str(app.settings.query_one("#settings-problem", Static).render())
        assert "This file is broken" in banner and "line 3" in banner
        assert "a number of seconds > 0" in error_text(app, "local.timeout")
        assert app.settings.query_one("#" + control_id("local.timeout"), Input).value == "soon"
        await type_value(pilot, "local.cpu_seconds", "90")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.results == []
        assert "Not saved" in str(app.settings.query_one("#settings-problem", Static).render())
        assert path.read_bytes() == before
        await type_value(pilot, "local.timeout", "12")
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert app.results == [True]
    assert read(path) == {"local": {"timeout": 12.0, "memory_mb": 2048, "cpu_seconds": 90}}


@pytest.mark.parametrize("text", ["[local\ntimeout = 3\n", "[locall]\ntimeout = 3\n"])
async def test_a_file_the_form_cannot_fix_is_left_alone(tmp_path: Path, text: str) -> None:
    path = config_file(tmp_path, text)
    app = Host(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = str(app.settings.query_one("#settings-problem", Static).render())
        assert "This file is broken" in banner
        if text.startswith("[local\n"):
            assert "No value typed here can fix this" in banner
            timeout = await show(pilot, "local.timeout")
            assert isinstance(timeout, Input) and timeout.disabled
        else:
            await type_value(pilot, "local.timeout", "7")  # a valid edit; the unknown section still breaks it
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.results == []
    assert path.read_text() == text


async def test_cancel_asks_when_there_are_unsaved_changes(tmp_path: Path) -> None:
    path = config_file(tmp_path, "[audit]\nretention_days = 30\n")
    before = path.read_bytes()
    app = Host(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await type_value(pilot, "audit.retention_days", "60")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert app.results == [] and app.settings.edits() == {"audit.retention_days": "60"}
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert app.results == [False]
    assert path.read_bytes() == before


async def test_sections_are_reached_from_the_keyboard_and_cancel_without_changes_closes_at_once(
    tmp_path: Path,
) -> None:
    app = Host(config_file(tmp_path, None))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("alt+left")  # wraps round to the last section
        await pilot.pause()
        assert app.settings.query_one(TabbedContent).active == section_id("ui")
        assert app.settings.focused is app.settings.query_one("#" + control_id("ui.theme"))
        await pilot.press("alt+right", "tab")
        await pilot.pause()
        assert app.settings.query_one(TabbedContent).active == section_id("backend")
        assert app.settings.focused is app.settings.query_one("#" + control_id("backend.sandbox"))
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [False]
    assert not (tmp_path / "config").exists()


def test_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snap_compare: Callable[..., bool]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # the title shows ~/..., the same on every machine
    path = config_file(tmp_path, '[assistant]\nmodel = "gpt-test"\napi_key = "sk-file-0123456789abcd"\n')
    app = Host(path, {"OPENAI_BASE_URL": "https://env.example/v1"})

    async def open_assistant(pilot: Pilot[None]) -> None:
        await type_value(pilot, "assistant.max_steps", "many")
        await pilot.press("ctrl+s")
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=open_assistant)
