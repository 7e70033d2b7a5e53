"""Time to first paint of ``sandchat`` in a real terminal, against a minimal Textual hello-world in the same run.

Run: .venv/bin/python bench/tui_first_paint.py [--runs 7]

Each run starts the program in a fresh tmux window (temp config and data directories for sandchat) and polls
the screen until the UI is drawn: for sandchat the main screen's panes, status bar and footer; for the
hello-world its text and footer. Time is from starting the window to the first screen capture that shows it;
resident memory (VmRSS) is read at that moment. Runs alternate between the two programs; medians are reported.
Targets (issue 6): sandchat <= 1.4x the hello-world, RSS < 60 MiB at first paint.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tui_terminal import Terminal, rss_mib, sandchat_argv  # noqa: E402

HELLO = '''
from textual.app import App, ComposeResult
from textual.widgets import Footer, Static


class Hello(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("Hello, world")
        yield Footer()


Hello().run()
'''


def sandchat_drawn(screen: str) -> bool:
    return "Sandbox files" in screen and "Execution log" in screen and "approval" in screen and "palette" in screen


def hello_drawn(screen: str) -> bool:
    return "Hello, world" in screen and "palette" in screen


def one_run(argv: list[str], drawn: Callable[[str], bool], env: dict[str, str]) -> tuple[float, float]:
    term = Terminal(env)
    try:
        began = time.monotonic()
        pid = term.start(argv)
        seen, _ = term.wait_for(drawn)
        return seen - began, rss_mib(pid)
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        env = {"SANDCHAT_CONFIG_DIR": f"{tmp}/config", "SANDCHAT_DATA_DIR": f"{tmp}/data"}
        one_run(sandchat_argv(python), sandchat_drawn, env)  # first start creates the data dir, audit key ...
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(args.runs):
            theirs.append(one_run([python, str(hello)], hello_drawn, env))
            ours.append(one_run(sandchat_argv(python), sandchat_drawn, env))
    report("hello-world", theirs)
    report("sandchat", ours)
    ratio = statistics.median(t for t, _ in ours) / statistics.median(t for t, _ in theirs)
    rss = statistics.median(m for _, m in ours)
    print(f"ratio sandchat / hello-world: {ratio:.2f}x (target <= 1.4x) {'OK' if ratio <= 1.4 else 'OVER'}")
    print(f"sandchat RSS at first paint: {rss:.1f} MiB (target < 60 MiB) {'OK' if rss < 60 else 'OVER'}")


def report(name: str, runs: list[tuple[float, float]]) -> None:
    times = sorted(t * 1000 for t, _ in runs)
    rss = statistics.median(m for _, m in runs)
    print(f"{name:12} first paint median {statistics.median(times):6.0f} ms  (min {times[0]:.0f}, max {times[-1]:.0f})"
          f"  RSS {rss:.1f} MiB")


if __name__ == "__main__":
    main()
