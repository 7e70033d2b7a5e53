"""A real terminal for the TUI benchmarks: a private tmux server, one window, the screen read back as text.

Used by bench/tui_first_paint.py and bench/tui_stream.py; not a benchmark itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
POLL = 0.004  # seconds between screen captures: each one makes the tmux server serialise the screen


class Terminal:
    """``tmux -L <own socket>``: never touches the user's sessions; ``close()`` kills only this server."""

    def __init__(self, env: Mapping[str, str] | None = None, size: tuple[int, int] = (120, 40)) -> None:
        self.socket = f"sandchat-bench-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "TERM": "xterm-256color", **(env or {})}
        self.size = size

    def tmux(self, *args: str) -> str:
        done = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, env=self.env,
                              timeout=30, check=False)
        return done.stdout

    def start(self, argv: list[str]) -> int:
        """Run ``argv`` as the window's process (exec'd, so the pane's pid is the program's); returns the pid."""
        line = "exec " + " ".join("'" + a.replace("'", "'\\''") + "'" for a in argv)
        width, height = self.size
        self.tmux("new-session", "-d", "-s", "bench", "-x", str(width), "-y", str(height), line)
        return int(self.tmux("list-panes", "-t", "bench", "-F", "#{pane_pid}").split()[0])

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "bench")

    def send(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "bench", *(("-l",) if literal else ()), *keys)

    def wait_for(self, shown: Callable[[str], bool], limit: float = 30.0) -> tuple[float, str]:
        """Poll the screen until ``shown(screen)``; returns (time.monotonic() when seen, the screen)."""
        deadline = time.monotonic() + limit
        while True:
            screen = self.screen()
            now = time.monotonic()
            if shown(screen):
                return now, screen
            if now > deadline:
                raise TimeoutError(f"not on the screen after {limit} s:\n{screen}")
            time.sleep(POLL)

    def close(self) -> None:
        self.tmux("kill-server")


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used so far, ms (Linux): unlike wall time, not inflated by load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def sandchat_argv(python: str) -> list[str]:
    """The installed console script next to ``python``, else the module."""
    script = Path(python).with_name("sandchat")
    return [str(script)] if script.exists() else [python, "-m", "tui.main"]
