"""What a full garbage collection costs with 100,000 operations in the execution log.

Run: .venv/bin/python bench/exec_log_gc.py [--entries 100000] [--lines 0] [--runs 9]

A fresh headless app at 120x40 (as bench/tui_exec_log.py builds it); its log is filled through
ExecutionLog.show with the operations of bench/tui_exec_log.py (two events each, one in ten ends blocked), with
``--lines`` output lines of running code per operation. Then ``gc.collect()`` (a full, generation 2 pass) is timed
``--runs`` times and the median and range printed, against the same app before the log was filled; and the number
of objects the collector tracks (``len(gc.get_objects())``) before and after.
Two ways: the app's objects as they are (the bench and the tests build the app like this), and frozen
(``gc.freeze()`` after start-up and before the log is filled, as the ``sandchat`` command does), which leaves
only what the log took since for the full passes to walk.
A full pass is what a key press waits on when it comes during one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_exec_log import events as operations  # noqa: E402
from core.events import Event, OperationStarted, OutputChunk  # noqa: E402
from core.operations import SecureOperations  # noqa: E402
from tests.tui.fakes import FixedBackend  # noqa: E402
from tui.app import SandchatApp  # noqa: E402
from tui.widgets.exec_log import ExecutionLog  # noqa: E402


def events(count: int, lines: int) -> Iterator[Event]:
    for event in operations(count):
        yield event
        if lines and isinstance(event, OperationStarted):
            text = "".join(f"line {k} of operation {event.op_id}\n" for k in range(lines))
            yield OutputChunk(event.op_id, "stdout", text)


def collect_ms(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - began) * 1000)
    return times


def line(label: str, times: list[float], tracked: int) -> str:
    return (f"  {label:10}: gc.collect() median {statistics.median(times):6.1f} ms "
            f"(min {min(times):.1f}, max {max(times):.1f}); tracked objects {tracked:,}")


async def run(count: int, lines: int, runs: int, frozen: bool) -> None:
    app = SandchatApp(SecureOperations(FixedBackend()))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        gc.collect()
        if frozen:
            gc.freeze()
        try:
            empty = collect_ms(runs)
            tracked_empty = len(gc.get_objects())
            log = app.main.query_one(ExecutionLog)
            began = time.perf_counter()
            for event in events(count, lines):
                log.show(event)
            await pilot.pause()
            took = time.perf_counter() - began
            gc.collect()  # the first pass the rows survive (CPython untracks tuples of atoms then)
            full = collect_ms(runs)
            tracked_full = len(gc.get_objects())
            print(f"{'app frozen' if frozen else 'app not frozen'}: {log.entry_count:,} entries, "
                  f"{len(log.rows):,} rows (filled in {took:.2f} s)")
            print(line("empty log", empty, tracked_empty))
            print(line("full log", full, tracked_full))
        finally:
            if frozen:
                gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=0, help="output lines per operation")
    parser.add_argument("--runs", type=int, default=9, help="full collections timed")
    args = parser.parse_args()
    for frozen in (False, True):
        asyncio.run(run(args.entries, args.lines, args.runs, frozen))


if __name__ == "__main__":
    main()
