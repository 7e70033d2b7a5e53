"""rlimits of a local run: set on bwrap's held process before the code starts, and never skipped."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.backends.local import LocalSandbox, SandboxLimits
from core.errors import BackendError

REPO = Path(__file__).resolve().parents[2]
_NAMES = ("CPU", "DATA", "AS", "FSIZE", "NPROC", "NOFILE", "CORE")
_REPORT = (
    "import json, resource\n"
    f"print(json.dumps({{n: resource.getrlimit(getattr(resource, 'RLIMIT_' + n)) for n in {_NAMES!r}}}))"
)


def _expected(limits: SandboxLimits) -> dict[str, list[int]]:
    return {
        "CPU": [limits.cpu_seconds, limits.cpu_seconds + 2],
        "DATA": [limits.memory_bytes] * 2,
        "AS": [limits.address_space_bytes] * 2,
        "FSIZE": [limits.file_size_bytes] * 2,
        "NPROC": [limits.processes] * 2,
        "NOFILE": [limits.open_files] * 2,
        "CORE": [0, 0],
    }


async def test_every_rlimit_is_set_before_the_code_starts(tmp_path: Path) -> None:
    limits = SandboxLimits(cpu_seconds=7, memory_bytes=300 << 20, processes=33, open_files=99)
    sandbox = LocalSandbox(tmp_path / "ws", limits=limits)
    result = await sandbox.execute_code(_REPORT, "python", 10)
    assert (await sandbox.probe()).level == "strong"
    assert json.loads(result.stdout) == _expected(limits)


async def test_weak_mode_still_sets_them_with_prlimit(tmp_path: Path) -> None:
    sandbox = LocalSandbox(tmp_path / "ws", bwrap=None, allow_weak=True)
    result = await sandbox.execute_code(_REPORT, "python", 10)
    report, expected = json.loads(result.stdout), _expected(SandboxLimits())
    assert report.pop("NPROC")[0] >= SandboxLimits().processes  # plus the user's other processes, unless root
    del expected["NPROC"]
    assert report == expected


async def test_a_failed_prlimit_kills_the_run_before_the_code_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = LocalSandbox(tmp_path / "ws")
    assert (await sandbox.probe()).level == "strong"
    real_prlimit = resource.prlimit

    def refuse_nproc(pid: int, res: int, limits: tuple[int, int] | None = None) -> tuple[int, int]:
        if res == resource.RLIMIT_NPROC:
            raise PermissionError(1, "Operation not permitted")
        return real_prlimit(pid, res, limits) if limits is not None else real_prlimit(pid, res)

    monkeypatch.setattr(resource, "prlimit", refuse_nproc)
    with pytest.raises(BackendError, match="could not set the sandbox's resource limits"):
        await sandbox.execute_code("open('/workspace/ran.txt', 'w').write('unlimited')", "python", 10)
    assert _bwrap_children() == []  # reaped before the error was raised
    assert not (sandbox.workspace / "ran.txt").exists()


async def test_limits_that_cannot_be_set_disable_code_execution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(pid: int, res: int, limits: tuple[int, int] | None = None) -> tuple[int, int]:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(resource, "prlimit", refuse)
    sandbox = LocalSandbox(tmp_path / "ws")
    isolation = await sandbox.probe()
    assert (isolation.level, isolation.can_execute) == ("none", False)
    assert "could not set the sandbox's resource limits" in isolation.reason


def test_the_apps_lower_hard_limit_wins(tmp_path: Path) -> None:
    """A hard limit below the configured one is kept (lowering needs no privilege), not a failed run."""
    script = textwrap.dedent(
        f"""
        import asyncio, resource, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from core.backends.local import LocalSandbox
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))
        result = asyncio.run(LocalSandbox(Path({str(tmp_path / "ws")!r})).execute_code({_REPORT!r}, "python", 10))
        print(result.stdout, result.stderr, end="")
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout)["NOFILE"] == [100, 100], out.stderr


def _bwrap_children() -> list[int]:
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children", encoding="ascii") as handle:
            for child in map(int, handle.read().split()):
                try:
                    with open(f"/proc/{child}/comm", encoding="ascii") as comm:
                        if comm.read().strip() == "bwrap":
                            found.append(child)
                except OSError:
                    continue
    return found
