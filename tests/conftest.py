"""Shared fixtures: real parts over temp directories, never the user's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.backends.local import LocalSandbox
from core.operations import Limits, SecureOperations
from core.paths import AppPaths


@pytest.fixture
def app_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppPaths]:
    """Config and data roots in a temp dir, also set in the environment for subprocesses."""
    config, data = tmp_path / "config", tmp_path / "data"
    monkeypatch.setenv("SANDCHAT_CONFIG_DIR", str(config))
    monkeypatch.setenv("SANDCHAT_DATA_DIR", str(data))
    yield AppPaths(config, data)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[LocalSandbox]:
    """A real local sandbox over a temp workspace."""
    box = LocalSandbox(tmp_path / "workspace", name="test")
    yield box
    await box.close()


@pytest.fixture
def ops(sandbox: LocalSandbox) -> SecureOperations:
    """The real pipeline over the temp sandbox, with a short code timeout."""
    return SecureOperations(sandbox, limits=Limits(exec_timeout=10.0))
