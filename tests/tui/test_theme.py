"""The theme: Textual's themes, the one in the config from the first frame, the one chosen in the app saved."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from core.config import load_config, update_config_file
from core.config_peek import peek_theme
from core.paths import AppPaths
from tests.tui.helpers import wait_until
from tests.tui.test_start import Loading, wait_ready
from tui.app import StartingApp
from tui.screens.start import StartScreen


def configured(paths: AppPaths, **keys: str) -> Path:
    """A config file with ``keys`` (dotted key -> raw TOML value) set the way ``sandchat config set`` does."""
    path = paths.config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    for key, raw in keys.items():
        update_config_file(path, key, raw)
    return path


@contextlib.asynccontextmanager
async def running(paths: AppPaths, path: Path) -> AsyncIterator[tuple[StartingApp, Pilot[Any]]]:
    """The app as the sandchat command starts it over ``path``, once its main screen is up."""
    loading = Loading(paths)
    loading.gate.set()
    app = StartingApp(loading, config_path=path, theme=peek_theme(path))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_ready(pilot, app)
            yield app, pilot
    finally:
        await loading.close()


async def test_the_configured_theme_is_there_from_the_first_frame(app_paths: AppPaths) -> None:
    path = configured(app_paths, **{"ui.theme": '"nord"', "assistant.model": '"m"'})
    loading = Loading(app_paths)
    app = StartingApp(loading, config_path=path, theme=peek_theme(path))  # as the sandchat command does
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, StartScreen) and not app.ready
            assert app.theme == "nord"  # before the config is loaded
            loading.gate.set()
            await wait_ready(pilot, app)
            assert app.theme == "nord" and app.config.ui.theme == "nord"
    finally:
        loading.gate.set()
        await loading.close()


async def test_a_theme_chosen_in_the_app_is_saved_and_the_rest_of_the_file_kept(
    app_paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.config

    path = configured(app_paths, **{"assistant.model": '"my-model"'})
    writes: list[str] = []
    update = core.config.update_config_file

    def counted(file: Path, key: str, raw: str) -> core.config.Config:
        writes.append(raw)
        return update(file, key, raw)

    monkeypatch.setattr(core.config, "update_config_file", counted)
    async with running(app_paths, path) as (app, pilot):
        assert app.theme == "textual-dark"
        for theme in ("nord", "monokai", "gruvbox"):  # the palette's "Change theme" list, moved through
            app.theme = theme
        await wait_until(pilot, lambda: peek_theme(path) == "gruvbox", "the theme in the config file")
        assert writes == ['"gruvbox"']  # the one stayed on, once
        saved = load_config(path, {}).config
        assert saved.ui.theme == "gruvbox" and saved.assistant.model == "my-model"
        app.theme = "textual-dark"  # back to the default: written too (the file says so explicitly or not)
        await wait_until(pilot, lambda: load_config(path, {}).config.ui.theme == "textual-dark", "the default")


async def test_an_unknown_theme_is_reported_and_the_default_used(app_paths: AppPaths) -> None:
    path = configured(app_paths, **{"ui.theme": '"no-such-theme"'})
    async with running(app_paths, path) as (app, pilot):
        assert app.theme == "textual-dark"
        await wait_until(pilot, lambda: any("no-such-theme" in n.message for n in app._notifications),
                         "the theme to be reported")
        note = next(n for n in app._notifications if "no-such-theme" in n.message)
        assert "nord" in note.message and "Change theme" in note.message and note.severity == "warning"
        assert peek_theme(path) == "no-such-theme"  # the file is the person's to fix: not rewritten


async def test_a_theme_that_cannot_be_saved_is_kept_for_the_session(app_paths: AppPaths) -> None:
    path = configured(app_paths, **{"assistant.model": '"m"'})
    async with running(app_paths, path) as (app, pilot):
        path.write_text("[assistant\nmodel = 'broken'\n")  # someone broke the file meanwhile
        app.theme = "dracula"
        await wait_until(pilot, lambda: any("not saved" in n.message for n in app._notifications),
                         "the failed save to be reported")
        assert app.theme == "dracula"
        assert path.read_text() == "[assistant\nmodel = 'broken'\n"  # not written over


async def test_a_theme_saved_in_the_settings_applies_at_once(app_paths: AppPaths) -> None:
    from tests.tui.test_screens_settings import type_value
    from tui.screens.settings import SettingsScreen

    path = configured(app_paths, **{"assistant.model": '"m"'})
    async with running(app_paths, path) as (app, pilot):
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), "the settings")
        await type_value(pilot, "ui.theme", "tokyo-night")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.theme == "tokyo-night", "the new theme")
        assert load_config(path, {}).config.ui.theme == "tokyo-night" == app.config.ui.theme


async def test_a_theme_chosen_just_before_quitting_is_saved(app_paths: AppPaths) -> None:
    path = configured(app_paths, **{"assistant.model": '"m"'})
    async with running(app_paths, path) as (app, _):
        app.theme = "rose-pine"
        assert peek_theme(path) is None  # not yet: the palette may still be moving through the list
    assert peek_theme(path) == "rose-pine"
