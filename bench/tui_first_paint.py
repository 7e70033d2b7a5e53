"""Time to first paint of ``sandchat`` in a real terminal, against a minimal Textual hello-world in the same run.

Run: .venv/bin/python bench/tui_first_paint.py [--runs 11]

Each run starts the program in a fresh tmux window (temp config and data directories for sandchat) and polls
the screen until the UI is drawn: for sandchat the panes, status bar and footer (its start screen: the frame
of the main screen, painted before the services are built); for the hello-world its text and footer. Time is
from starting the window to the first screen capture that shows it; resident memory (VmRSS) is read at that
moment. For sandchat the time until it is ready is measured too: the main screen up, with the approval mode
read from the config and the prompt shown. Runs alternate between the two programs; medians are reported.

The project's modules are compiled to bytecode first (``compileall``), as an install or a first run does:
this environment sets PYTHONDONTWRITEBYTECODE, and without .pyc files every start would compile sandchat's
sources while textual's come compiled from pip.
Targets (issue 6): sandchat <= 1.4x the hello-world, RSS < 60 MiB at first paint.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.tui_terminal import Terminal, cpu_ms, rss_mib, sandchat_argv  # noqa: E402

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


def sandchat_ready(screen: str) -> bool:
    return "approval ask" in screen and "Ask the assistant" in screen


def hello_drawn(screen: str) -> bool:
    return "Hello, world" in screen and "palette" in screen


def one_run(argv: list[str], drawn: Callable[[str], bool], env: dict[str, str],
            ready: Callable[[str], bool] | None = None) -> tuple[float, float, float, float]:
    """(seconds to first paint, RSS MiB then, CPU ms then, seconds until ``ready`` or nan)."""
    term = Terminal(env)
    try:
        began = time.monotonic()
        pid = term.start(argv)
        seen, _ = term.wait_for(drawn)
        rss, cpu = rss_mib(pid), cpu_ms(pid)
        done = term.wait_for(ready)[0] - began if ready is not None else float("nan")
        return seen - began, rss, cpu, done
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    python = sys.executable
    root = Path(__file__).resolve().parents[1]
    for package in ("core", "tui"):
        compileall.compile_dir(root / package, quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO)
        env = {"SANDCHAT_CONFIG_DIR": f"{tmp}/config", "SANDCHAT_DATA_DIR": f"{tmp}/data"}
        one_run(sandchat_argv(python), sandchat_drawn, env, sandchat_ready)  # creates the data dir, audit key ...
        ours: list[tuple[float, float, float, float]] = []
        theirs: list[tuple[float, float, float, float]] = []
        for _ in range(args.runs):
            theirs.append(one_run([python, str(hello)], hello_drawn, env))
            ours.append(one_run(sandchat_argv(python), sandchat_drawn, env, sandchat_ready))
    report("hello-world", theirs)
    report("sandchat", ours)
    ratio = statistics.median(t for t, *_ in ours) / statistics.median(t for t, *_ in theirs)
    cpu_ratio = statistics.median(c for _, _, c, _ in ours) / statistics.median(c for _, _, c, _ in theirs)
    rss = statistics.median(m for _, m, _, _ in ours)
    ready = sorted(r * 1000 for *_, r in ours)
    print(f"sandchat ready (main screen, config read, prompt shown) median {statistics.median(ready):.0f} ms "
          f"(min {ready[0]:.0f}, max {ready[-1]:.0f})")
    print(f"ratio sandchat / hello-world: {ratio:.2f}x (target <= 1.4x) {'OK' if ratio <= 1.4 else 'OVER'}")
    print(f"CPU time to first paint, sandchat / hello-world: {cpu_ratio:.2f}x (not inflated by other load)")
    print(f"sandchat RSS at first paint: {rss:.1f} MiB (target < 60 MiB) {'OK' if rss < 60 else 'OVER'}")


def report(name: str, runs: list[tuple[float, float, float, float]]) -> None:
    times = sorted(t * 1000 for t, *_ in runs)
    rss = statistics.median(m for _, m, _, _ in runs)
    cpu = statistics.median(c for _, _, c, _ in runs)
    print(f"{name:12} first paint median {statistics.median(times):6.0f} ms  (min {times[0]:.0f}, max {times[-1]:.0f})"
          f"  RSS {rss:.1f} MiB  CPU {cpu:.0f} ms")


if __name__ == "__main__":
    main()
