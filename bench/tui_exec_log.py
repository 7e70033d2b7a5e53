"""The execution log under 100,000 operations: time to take them and the memory they cost.

Run: .venv/bin/python bench/tui_exec_log.py [--entries 100000]

Two ways in, each in a fresh headless app at 120x40:
  widget: the events handed straight to ExecutionLog.show (the log's own cost);
  app:    the events handed to the app's pipeline listener, as the pipeline does (batched into messages
          through the app's queue, the main screen's dispatch, notifications of the blocked ones) until shown.
  app, interleaved: the same, but the app gets a turn of the event loop every 25 operations, as it does
          while a real pipeline runs them (many small messages instead of one).
Each operation is two events (started, finished), made as they are needed; one in ten ends blocked. Time
includes making the events. Memory is the process's resident set (VmRSS) after the app has drawn the log's
last page, against the same app before the events.
Targets (issue 6): under 5 s and under 150 MiB for 100,000 entries.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.events import Actor, Event, OperationBlocked, OperationFinished, OperationStarted  # noqa: E402
from core.operations import SecureOperations  # noqa: E402
from core.results import OperationResult  # noqa: E402
from tests.tui.fakes import FixedBackend  # noqa: E402
from tui.app import SandchatApp  # noqa: E402
from tui.messages import PipelineBatcher  # noqa: E402
from tui.widgets.exec_log import ExecutionLog  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def events(count: int) -> Iterator[Event]:
    for n in range(1_000_001, 1_000_001 + count):  # ids apart from the app's own operations
        text = f"write file:src/module_{n}.py content:<{n * 7 % 4096} bytes>"
        actor: Actor = "assistant" if n % 3 else "user"
        blocked = n % 10 == 0
        yield OperationStarted(n, actor, text, "write_file", 1_700_000_000.0 + n)
        result = OperationResult(n, actor, text, "write_file", "blocked" if blocked else "ok",
                                 "path rejected: goes above the workspace root" if blocked else f"wrote {n} bytes",
                                 duration=0.003)
        yield OperationBlocked(result) if blocked else OperationFinished(result)


async def run(count: int, way: str) -> tuple[float, float, int]:
    app = SandchatApp(SecureOperations(FixedBackend()))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        log = app.main.query_one(ExecutionLog)
        before = rss_mib()
        shown = log.entry_count + count
        began = time.perf_counter()
        if way == "widget":
            for event in events(count):
                log.show(event)
        else:
            listener = PipelineBatcher(app.post_message)  # what the app subscribes to the pipeline
            for n, event in enumerate(events(count)):
                listener(event)
                if way == "app, interleaved" and n % 50 == 49:
                    await asyncio.sleep(0)
            while log.entry_count < shown:
                await pilot.pause()
        await pilot.pause()
        return time.perf_counter() - began, rss_mib() - before, log.entry_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    for way in ("widget", "app, burst", "app, interleaved"):
        took, grew, shown = asyncio.run(run(args.entries, way))
        print(f"{way:16}: {shown:,} entries in {took:.2f} s (target < 5 s) {'OK' if took < 5 else 'OVER'}; "
              f"RSS grew {grew:.1f} MiB, process {rss_mib():.1f} MiB (target < 150 MiB) "
              f"{'OK' if rss_mib() < 150 else 'OVER'}")


if __name__ == "__main__":
    main()
