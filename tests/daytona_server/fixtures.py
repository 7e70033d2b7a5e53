"""Pytest fixtures for the fake Daytona server; import them into a test module or a conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.backends.daytona import DaytonaSandbox
from core.config_model import DaytonaConfig
from tests.daytona_server.server import FakeDaytona

FAST_RETRIES = (0.01, 0.02, 0.05)  # the backend's backoff, shortened so fault tests stay quick


@pytest.fixture
def daytona_server(tmp_path: Path) -> Iterator[FakeDaytona]:
    """A fake Daytona on 127.0.0.1, on a free port, with its sandboxes under the test's temp dir."""
    server = FakeDaytona(tmp_path / "fake-daytona").start()
    try:
        yield server
    finally:
        server.stop()


def daytona_config(server: FakeDaytona, **overrides: Any) -> DaytonaConfig:
    """The default [daytona] settings, pointed at ``server``."""
    return DaytonaConfig(api_url=server.api_url, **overrides)


def make_backend(
    server: FakeDaytona, *, sandbox: str = "test", api_key: str | None = None, **kwargs: Any
) -> DaytonaSandbox:
    """A DaytonaSandbox on ``server``; ``config=`` overrides the settings, the rest go to the constructor."""
    config = kwargs.pop("config", None) or daytona_config(server)
    kwargs.setdefault("retry_delays", FAST_RETRIES)
    kwargs.setdefault("max_file_bytes", 1024 * 1024)
    kwargs.setdefault("exec_timeout", 10.0)
    return DaytonaSandbox(config, api_key=server.api_key if api_key is None else api_key, sandbox=sandbox, **kwargs)


@pytest.fixture
async def daytona_backend(daytona_server: FakeDaytona) -> AsyncIterator[DaytonaSandbox]:
    """A started DaytonaSandbox on the fake server, closed afterwards."""
    box = make_backend(daytona_server)
    await box.start()
    try:
        yield box
    finally:
        await box.close()
