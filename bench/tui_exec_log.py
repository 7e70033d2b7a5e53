"""The execution log under 100,000 operations: time to take them and the memory they cost.

Run: .venv/bin/python bench/tui_exec_log.py [--entries 100000] [--way WAY]

Three ways in, each in a fresh headless app at 120x40:
  widget: the events handed straight to ExecutionLog.show (the log's own cost);
  app, burst: the events handed to the app's pipeline listener, as the pipeline does (batched into messages
          through the app's queue, the main screen's dispatch, notifications of the blocked ones) until shown,
          all of them before the app gets a turn;
  app, interleaved: the same, but the app gets a turn of the event loop every 25 operations, as it does
          while a real pipeline runs them.
Each way runs in its own process (``--way`` runs one here); its app freezes its long-lived objects after its
warm-up (gc.freeze(), as the sandchat command does) before the events come. Each operation is two events (started,
finished), made as they are needed; one in ten ends blocked. Time includes making the events; the process's CPU
time over the same span is printed too (on a shared machine wall time grows with the load, CPU time less). Memory
is the process's resident set (VmRSS) after the app has drawn the log's last page, against the same app before the
events.
Key presses: in the two app ways a thread posts a letter to the app every 150 ms, as the terminal driver's
thread does, and the time until the prompt handles it is noted (for the burst, only those posted after the
last event was made: while the bench makes them the loop is the bench's, not the app's).
The garbage collector's passes over the same span are timed too (gc.callbacks): the full ones (generation 2) are
what a key press can wait on.
Targets (issue 6): under 5 s and under 150 MiB for 100,000 entries; key presses answered within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textual import events as textual_events
from textual.message import Message

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


@dataclass
class Typist:
    """Posts a key to the app every ``gap`` seconds from its own thread and notes when each is handled."""

    app: SandchatApp
    gap: float = 0.15  # as bench/tui_stream.py types
    sent: list[tuple[textual_events.Key, float]] = field(default_factory=list)
    seen: dict[int, float] = field(default_factory=dict)  # id(key) -> when it last reached a handler
    stop: threading.Event = field(default_factory=threading.Event)

    def hook(self, message: Message) -> None:
        if isinstance(message, textual_events.Key):  # the app first, then the focused prompt: the last one counts
            self.seen[id(message)] = time.perf_counter()

    def type(self) -> None:
        while not self.stop.wait(self.gap):
            key = textual_events.Key("x", "x")
            self.sent.append((key, time.perf_counter()))
            self.app.post_message(key)

    def latencies(self, after: float) -> list[float]:
        return [self.seen[id(key)] - at for key, at in self.sent if at >= after and id(key) in self.seen]


@dataclass
class Collections:
    """The time of each pass of the garbage collector, by generation, while installed."""

    passes: list[tuple[int, float]] = field(default_factory=list)
    began: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.began = time.perf_counter()
        else:
            self.passes.append((info["generation"], time.perf_counter() - self.began))

    def summary(self) -> str:
        full = [took for generation, took in self.passes if generation == 2]
        young = [took for generation, took in self.passes if generation < 2]
        worst = max(full, default=0)
        return (f"GC: {len(full)} full passes, {sum(full) * 1000:.0f} ms in all, worst {worst * 1000:.0f} ms; "
                f"{len(young)} young passes, {sum(young) * 1000:.0f} ms")


@dataclass
class Outcome:
    took: float
    cpu: float
    grew: float
    shown: int
    keys: list[float]
    collections: Collections


async def run(count: int, way: str) -> Outcome:
    app = SandchatApp(SecureOperations(FixedBackend()), freeze_after_warm_up=True)  # as the sandchat command
    typist = Typist(app)
    async with app.run_test(size=(120, 40), message_hook=typist.hook) as pilot:
        while not gc.get_freeze_count():  # the app's warm-up freezes its long-lived objects a second after start
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        await pilot.pause()
        log = app.main.query_one(ExecutionLog)
        before = rss_mib()
        shown = log.entry_count + count
        collections = Collections()
        gc.callbacks.append(collections)
        began = made = time.perf_counter()
        cpu = time.process_time()
        if way == "widget":
            for event in events(count):
                log.show(event)
        else:
            thread = threading.Thread(target=typist.type)
            thread.start()
            listener = PipelineBatcher(app.post_message)  # what the app subscribes to the pipeline
            for n, event in enumerate(events(count)):
                listener(event)
                if way == "app, interleaved" and n % 50 == 49:
                    await asyncio.sleep(0)
            made = time.perf_counter()
            while log.entry_count < shown:
                await pilot.pause()
            typist.stop.set()
            thread.join()
        await pilot.pause()
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        gc.callbacks.remove(collections)
        keys = typist.latencies(after=made if way == "app, burst" else began)
        outcome = Outcome(took, cpu, rss_mib() - before, log.entry_count, keys, collections)
    gc.unfreeze()
    return outcome


WAYS = ("widget", "app, burst", "app, interleaved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--way", choices=WAYS, help="one way, in this process (default: each in its own process)")
    args = parser.parse_args()
    if args.way is None:  # a process per way: memory and the collector's work do not carry over from one to the next
        for way in WAYS:
            subprocess.run([sys.executable, __file__, "--entries", str(args.entries), "--way", way], check=True)
        return
    way = args.way
    out = asyncio.run(run(args.entries, way))
    print(f"{way:16}: {out.shown:,} entries in {out.took:.2f} s (target < 5 s) {'OK' if out.took < 5 else 'OVER'}, "
          f"CPU {out.cpu:.2f} s; "
          f"RSS grew {out.grew:.1f} MiB, process {rss_mib():.1f} MiB (target < 150 MiB) "
          f"{'OK' if rss_mib() < 150 else 'OVER'}")
    print(f"{'':16}  {out.collections.summary()}")
    if out.keys:
        worst = max(out.keys) * 1000
        print(f"{'':16}  key presses: {len(out.keys)}, median {statistics.median(out.keys) * 1000:.0f} ms, "
              f"worst {worst:.0f} ms (target < 100 ms) {'OK' if worst < 100 else 'OVER'}")


if __name__ == "__main__":
    main()
