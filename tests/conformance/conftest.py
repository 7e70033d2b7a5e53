"""The backends under test: every test in this package runs once per backend.

``local`` is the real LocalSandbox over a temp directory (bubblewrap where it works); ``daytona`` is the
real DaytonaSandbox, driving the real SDK against the fake Daytona server in tests/daytona_server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.backends.base import Backend
from core.backends.local import LocalSandbox, SandboxLimits
from tests.daytona_server.fixtures import daytona_server, make_backend
from tests.daytona_server.server import FakeDaytona

__all__ = ["daytona_server"]

MAX_FILE_BYTES = 256 * 1024


@pytest.fixture(params=["local", "daytona"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """One backend, fresh and empty."""
    if request.param == "local":
        box: Backend = LocalSandbox(tmp_path / "workspace", name="conformance", limits=SandboxLimits(timeout=10))
    else:
        server: FakeDaytona = request.getfixturevalue("daytona_server")
        box = make_backend(server, sandbox="conformance", max_file_bytes=MAX_FILE_BYTES)
    try:
        yield box
    finally:
        await box.close()


async def run_ok(box: Backend, code: str) -> None:
    """Run Python setup code in the sandbox (the only way to make symlinks there) and insist it worked."""
    result = await box.execute_code(code, "python", 20)
    assert result.ok, (result.exit_code, result.stderr)
