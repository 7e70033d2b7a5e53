"""``sandchat`` as the command starts it: the start screen first, the real services built in a thread after it.

The loader here is the entry point's own (tui.main.load_services) over temp config and data directories, so
the app gets the real config, audit log, local sandbox, history and policy, as it does from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from core.errors import SandchatError
from core.paths import AppPaths
from core.services import Services
from tests.tui.helpers import chat_text, wait_until
from tui.app import SandchatApp, Started, StartingApp
from tui.main import _wait_started, load_services, run_app
from tui.screens.approval import ModalApprover
from tui.screens.start import StartScreen
from tui.widgets.status_bar import StatusBar

ROOT = Path(__file__).resolve().parents[2]


def app_args(**given: Any) -> argparse.Namespace:
    return argparse.Namespace(subcommand=None, **given)


class Loading:
    """The entry point's loader, held at a gate so a test can act while the app is still starting."""

    def __init__(self, paths: AppPaths, args: argparse.Namespace | None = None) -> None:
        self.paths = paths
        self.args = args or app_args()
        self.gate = threading.Event()
        self.services: list[Services] = []

    def __call__(self, app: SandchatApp) -> Started:
        assert self.gate.wait(30), "the test never opened the gate"
        services, started = load_services(self.args, self.paths, ModalApprover(app))
        self.services.append(services)
        return started

    async def close(self) -> None:
        for services in self.services:
            await services.close()


def main_screen_up(app: SandchatApp) -> bool:
    return app.ready and type(app.screen).__name__ == "MainScreen" and bool(app.screen.query(StatusBar))


async def wait_ready(pilot: Pilot[Any], app: SandchatApp) -> None:
    await wait_until(pilot, lambda: main_screen_up(app), "the main screen")


@contextlib.asynccontextmanager
async def starting(paths: AppPaths) -> AsyncIterator[tuple[StartingApp, Loading, Pilot[Any]]]:
    """The app as the command starts it, its loader held until the test opens the gate."""
    loading = Loading(paths)
    app = StartingApp(loading, config_path=paths.config_file)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            yield app, loading, pilot
    finally:
        loading.gate.set()
        await loading.close()


async def test_the_frame_comes_first_and_the_main_screen_when_the_services_are_ready(app_paths: AppPaths) -> None:
    async with starting(app_paths) as (app, loading, pilot):
        assert isinstance(app.screen, StartScreen) and not app.ready
        titles = [str(w.border_title) for w in app.screen.query(".pane")]
        assert titles == ["Chat", "Sandbox files", "Execution log"]
        assert "starting the sandbox" in str(app.screen.query_one("#status", Static).render())
        assert not (app_paths.data_dir / "audit.db").exists()  # no database on the way to the first frame
        loading.gate.set()
        await wait_ready(pilot, app)
        await wait_until(pilot, lambda: "approval ask" in app.main.status.text(), "the status from the config")
        assert "local · strong isolation" in app.main.status.text()
        assert (app_paths.data_dir / "audit.db").exists() and app.audit is not None
        assert app.started.result().ops is app.ops


async def test_what_is_typed_while_starting_goes_to_the_prompt_and_enter_sends_it(app_paths: AppPaths) -> None:
    async with starting(app_paths) as (app, loading, pilot):
        await pilot.press(*"list files:x", "backspace", ".")
        assert "list files:." in str(app.screen.query_one("#chat").render())
        await pilot.press("enter")
        loading.gate.set()
        await wait_ready(pilot, app)
        await wait_until(pilot, lambda: bool(app.results), "the command typed during start-up to run")
        assert app.results[-1].text == "list files:." and app.results[-1].status == "ok"
        assert "list files:." in chat_text(app)
        assert app.main.chat.prompt.text == ""


async def test_screens_that_need_the_services_say_the_app_is_starting(app_paths: AppPaths) -> None:
    async with starting(app_paths) as (app, loading, pilot):
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        assert any("still starting" in n.message for n in app._notifications)
        loading.gate.set()
        await wait_ready(pilot, app)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "AuditScreen", "the audit screen")


async def test_services_that_cannot_be_built_end_the_app_with_the_reason(app_paths: AppPaths,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAYTONA_API_KEY", raising=False)
    loading = Loading(app_paths, app_args(backend="daytona"))
    loading.gate.set()
    app = StartingApp(loading, config_path=app_paths.config_file)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.started.done(), "the loader to fail")
        await pilot.pause()
    error = app.started.exception()
    assert isinstance(error, SandchatError) and "DAYTONA_API_KEY" in str(error)
    assert app.return_code == 2 and loading.services == []
    assert _wait_started(app) is None


async def test_quitting_while_starting_still_closes_what_the_loader_built(app_paths: AppPaths) -> None:
    loading = Loading(app_paths)
    app = StartingApp(loading, config_path=app_paths.config_file)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.loading and not app.ready
        await pilot.press("ctrl+q")
    loading.gate.set()
    started = await asyncio.to_thread(_wait_started, app)  # the entry point waits for it, then closes it
    assert started is not None and started.audit is not None and started.ops is loading.services[0].ops
    assert not app.ready  # the app had ended: it never took them
    await loading.close()


def test_run_app_reports_a_loader_error_after_the_app_closes(app_paths: AppPaths,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """run_app itself, headless: the error the loader raised is raised again for main() to print."""
    monkeypatch.delenv("DAYTONA_API_KEY", raising=False)
    original = StartingApp.run

    def headless(self: StartingApp, **_: Any) -> int | None:
        return original(self, headless=True, size=(120, 40))

    monkeypatch.setattr(StartingApp, "run", headless)
    with pytest.raises(SandchatError, match="DAYTONA_API_KEY"):
        run_app(app_args(backend="daytona"), app_paths)


def test_the_way_to_the_first_frame_loads_no_database_backend_or_pipeline() -> None:
    code = (
        "import sys\n"
        "import tui.main, tui.app, tui.screens.start\n"
        "heavy = ('core.operations', 'core.audit', 'core.config', 'core.history', 'core.services', 'core.backends',"
        " 'core.commands', 'core.security.paths', 'core.security.policy', 'sqlite3', 'openai', 'daytona',"
        " 'tui.screens.main', 'tui.widgets.chat', 'tui.widgets.exec_log')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported before the first frame: {out.stdout.strip()}"
