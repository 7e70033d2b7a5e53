"""The app dies mid-run (SIGKILL, no clean-up): what becomes of the sandbox it started."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import IO

import pytest

from core.backends.local_launch import find_bwrap
from tests.core.test_local_sandbox import copy_for_other_user, python_runnable_by, usable_by_nobody

# As root the sandbox's pid 1 runs as the sandbox uid and its parent, bwrap's monitor, as uid 0 with no
# capabilities; the kernel checks a parent-death signal like kill(), so the monitor may not send it. There the
# in-sandbox watchdog is what ends an orphaned run: at its deadline (the run's timeout + 5 s), not at once.
_WATCHDOG_GRACE = 5


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the app as another user and check on it")
@pytest.mark.parametrize(
    ("app_uid", "run_timeout", "gone_within"),
    [(0, 3, 3 + _WATCHDOG_GRACE + 3), (65534, 60, 3)],
    ids=["app-as-root-ends-at-the-watchdog-deadline", "app-as-nobody-ends-at-once"],
)
def test_a_killed_app_leaves_no_sandbox_running(app_uid: int, run_timeout: int, gone_within: float) -> None:
    """SIGKILL the app mid-run: nothing of the sandbox may outlive the bound stated for that path."""
    python = sys.executable if app_uid == 0 else python_runnable_by(app_uid)
    bwrap = find_bwrap("auto")
    assert python is not None and bwrap is not None, "no python 3.11+ or bwrap that the app's user can run"
    home = Path(tempfile.mkdtemp(prefix="sandchat-app-"))  # /tmp: pytest's tmp_path is root-only
    src, bwrap = copy_for_other_user(home, bwrap)  # the checkout may be closed to other users
    assert app_uid == 0 or usable_by_nobody(src / "core", bwrap)
    marker = f"1000.{time.time_ns() % 10**9}"  # a sleep duration no other process has
    args = [str(src), str(bwrap), str(home / "ws"), "64850" if app_uid == 0 else "0", marker, str(run_timeout)]
    try:
        (home / "ws").mkdir()
        os.chown(home / "ws", app_uid, app_uid)
        app = subprocess.Popen(
            [python, "-c", _KILLED_APP_SCRIPT, *args],
            user=app_uid,
            group=app_uid,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            text=True,
        )
        sandbox: list[tuple[int, str]] = []
        try:
            assert app.stdout is not None and _readline(app.stdout, 30) == "up\n"
            sandbox = _descendants(app.pid)
            assert any(marker in _cmdline(pid) for pid, _ in sandbox)  # the run's sleep is among them
            app.kill()
            app.wait()
            deadline = time.monotonic() + gone_within
            while (left := _still_running(sandbox)) and time.monotonic() < deadline:
                time.sleep(0.05)  # the kernel kills asynchronously
            assert left == []
        finally:
            app.kill()
            app.wait()
            for pid in _still_running(sandbox):  # a failed run must not outlive the test
                os.kill(pid, signal.SIGKILL)
    finally:
        shutil.rmtree(home)


_KILLED_APP_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from core.backends.local import LocalSandbox

    CODE = "import subprocess, time\\nsubprocess.Popen(['sleep', %r])\\nprint('up', flush=True)\\ntime.sleep(1000)"

    async def main():
        sandbox = LocalSandbox(Path(sys.argv[3]), bwrap=Path(sys.argv[2]), sandbox_uid=int(sys.argv[4]) or None)
        echo = lambda stream, text: print(text, end="", flush=True)
        await sandbox.execute_code(CODE % sys.argv[5], "python", int(sys.argv[6]), echo)

    asyncio.run(main())
    """
)


def _readline(stream: IO[str], seconds: float) -> str:
    ready, _, _ = select.select([stream], [], [], seconds)
    return stream.readline() if ready else ""


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Every process below ``pid``, as (pid, start time) so that a recycled pid is not mistaken for it."""
    found: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children", encoding="ascii") as handle:
                    for child in map(int, handle.read().split()):
                        found.append((child, _stat(child)[1]))
                        todo.append(child)
    return found


def _still_running(processes: list[tuple[int, str]]) -> list[int]:
    """Those of ``processes`` that still exist and are not zombies (a zombie runs no code)."""
    return [pid for pid, start in processes if _stat(pid) not in (("", ""), ("Z", start))]


def _stat(pid: int) -> tuple[str, str]:
    """(state, start time) of ``pid``; ("", "") when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "", ""
    return fields[0], fields[19]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
