"""The installed ``sandchat`` command in a real terminal (tmux): type commands, read the screen back.

Nothing is installed for it: it runs the console script next to the test's Python (the venv's), with temp
config and data directories, on a tmux server of its own (``-L``) so it never touches the user's sessions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.audit import AuditLog
from core.audit_types import AuditContext

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
WAIT = 20.0  # seconds for one step to show on the screen


def sandchat_command() -> list[str]:
    """The installed console script of this environment, or the module when it is not installed."""
    script = Path(sys.executable).with_name("sandchat")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui.main"]


class Terminal:
    """One tmux window running sandchat."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        done = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, env=self.env,
                              timeout=10, check=False)
        return done.stdout

    def start(self, command: list[str]) -> None:
        line = " ".join(_quote(part) for part in command)
        self.tmux("new-session", "-d", "-s", "e2e", "-x", "120", "-y", "40", line)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e2e")

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "e2e", "-l", text)
        self.tmux("send-keys", "-t", "e2e", "Enter")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "e2e", *keys)

    def wait_for(self, *texts: str) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            shown = self.screen()
            if all(text in shown for text in texts):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{texts!r} not on the screen after {WAIT} s:\n{shown}")
            time.sleep(0.05)  # polling a real terminal: there is no event to wait on


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\\''") + "'"


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    env = {**os.environ, "SANDCHAT_CONFIG_DIR": str(tmp_path / "config"), "SANDCHAT_DATA_DIR": str(tmp_path / "data"),
           "TERM": "xterm-256color"}
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SANDCHAT_MODEL"):
        env.pop(key, None)
    term = Terminal(f"sandchat-e2e-{uuid.uuid4().hex[:8]}", env)
    try:
        yield term
    finally:
        term.tmux("kill-server")


def test_the_real_app_in_a_real_terminal(terminal: Terminal, tmp_path: Path) -> None:
    terminal.start(sandchat_command())
    terminal.wait_for("Sandbox files", "Execution log", "audit")

    terminal.type("write file:e2e.txt content:hello from tmux")
    terminal.wait_for("wrote 15 bytes to /workspace/e2e.txt", "e2e.txt")
    terminal.type("read file:e2e.txt")
    terminal.wait_for("read 15 bytes from /workspace/e2e.txt", "hello from tmux")
    terminal.type("run code:print(6 * 7)")
    terminal.wait_for("exit code 0", "42")
    terminal.type("read file:../../etc/passwd")
    shown = terminal.wait_for("[blocked]", "BLOCKED")
    assert "root:x:" not in shown

    rows = shown.splitlines()  # the execution log is the right-hand column
    assert any("OK      you write file:e2e.txt" in row for row in rows)
    assert any("BLOCKED you read file:../../etc/pass" in row for row in rows)

    terminal.keys("C-r")  # the audit screen
    audit = terminal.wait_for("Audit log", "write_file")
    record = next(line for line in audit.splitlines() if "read file:../../etc/passwd" in line)
    assert "user" in record and "read_file" in record and "blocked" in record
    terminal.keys("Escape")
    terminal.wait_for("Sandbox files")
    terminal.keys("C-q")
    deadline = time.monotonic() + WAIT
    while "e2e" in terminal.tmux("list-sessions") and time.monotonic() < deadline:
        time.sleep(0.05)

    with AuditLog.open(tmp_path / "data", AuditContext()) as log:
        report = log.verify()
        records = log.list(limit=100)
    assert report.ok, str(report)
    assert {r.tool for r in records} >= {"write_file", "read_file", "execute_code"}
    assert any(r.status == "blocked" and r.tool == "read_file" for r in records)
