"""The audit review screen over a big log: time to the first page, scroll and filter latency, memory while scrolling.

Run: .venv/bin/python bench/tui_audit.py [--records 1000000] [--dir DIR [--reuse]] [--pages 1000]

The log is generated with real MACs by bench/audit.py's bulk loader (about 2 minutes and 1 GB for a million
records); ``--dir DIR --reuse`` keeps it between runs. The screen runs in a headless Textual app (App.run_test)
at 120x40, pushed over an empty default screen as the real app pushes it. Targets (docs: issue 6, section 5):
first page in under 300 ms, and memory that stays flat however far the user scrolls.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import RenderableType  # noqa: E402
from textual import events  # noqa: E402
from textual.app import App  # noqa: E402
from textual.screen import Screen  # noqa: E402
from textual.widgets import Input, Select, Static  # noqa: E402

from bench.audit import STEP, bulk_load  # noqa: E402
from core.audit import AuditContext, AuditLog  # noqa: E402
from tui.screens.audit import AuditScreen  # noqa: E402
from tui.screens.audit_table import AuditTable  # noqa: E402

FIRST_PAGE_TARGET_MS = 300.0
KEY_INTERVAL = 0.04  # between key presses: a held key repeats about 25 times a second


class Host(App[None]):
    """An empty app to push the screen onto, as sandchat pushes it over its main screen; notes when it paints.

    Headless, Textual still lays out and renders every frame (the compositor update), and only skips writing it
    to a terminal: the time of that update is when the frame would be on screen.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last_frame = 0.0

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        if renderable is not None:
            self.last_frame = time.perf_counter()
        super()._display(screen, renderable)

    async def frame_after(self, moment: float) -> float:
        """When the first frame rendered after ``moment`` was (waits for it)."""
        await until(lambda: self.last_frame > moment)
        return self.last_frame

    def key(self, key: str) -> float:
        """Press ``key`` as a terminal would (no Pilot: its idle waits would be counted); returns when."""
        self.post_message(events.Key(key, None))
        return time.perf_counter()


def rss_mib() -> float:
    """Resident memory of this process now (not the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms"


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the app's loop until ``condition`` holds (for at most 30 s)."""
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - the state is the widget's; there is no event to await
            await asyncio.sleep(0.0005)


async def first_page(app: Host, log: AuditLog, now: float) -> float:
    """Push the screen; the time until a frame shows its first page of records."""
    started = time.perf_counter()
    await app.push_screen(AuditScreen(log, clock=lambda: now))  # ages such as 30d count from the newest record
    table = app.screen.query_one(AuditTable)
    await until(lambda: table.pages.known_rows > 0)
    shown = await app.frame_after(time.perf_counter())
    newest = table.pages.record(0)
    assert newest is not None and newest.seq == log.last_seq
    assert any(f"{newest.seq:>8} " in strip.text for strip in app.screen._compositor.render_strips())
    return shown - started


async def opening(app: Host, log: AuditLog, now: float) -> AuditTable:
    """The first opening (styles parsed, widget classes first used) and five more, closed in between."""
    cold = await first_page(app, log, now)
    warm = []
    for _ in range(5):
        app.pop_screen()
        await app.frame_after(time.perf_counter())
        warm.append(await first_page(app, log, now))
    verdict = "OK" if cold * 1000 < FIRST_PAGE_TARGET_MS else "OVER TARGET"
    print(f"  push_screen to a frame with the first page: first time {cold * 1000:6.1f} ms "
          f"(target < {FIRST_PAGE_TARGET_MS:.0f} ms: {verdict}); again x5 {percentiles(warm)}")
    table = app.screen.query_one(AuditTable)
    started = time.perf_counter()
    await until(lambda: table.total is not None and bool(app.screen.query("#filters")))
    print(f"  count ({table.total:,}) and filter bar in place {(time.perf_counter() - started) * 1000:6.1f} ms later")
    return table


async def scrolling(app: Host, table: AuditTable, pages: int) -> None:
    keys = []
    for _ in range(200):
        await asyncio.sleep(KEY_INTERVAL)
        pressed = app.key("pagedown")
        await until(lambda: table.current is not None)
        keys.append(await app.frame_after(pressed) - pressed)
    print(f"  page down x200 (key to frame with the cursor row)          {percentiles(keys)}")
    gc.collect()
    before = rss_mib()
    steps = []
    for _ in range(pages):
        await asyncio.sleep(KEY_INTERVAL)
        known = table.pages.known_rows
        pressed = app.key("end")
        await until(lambda k=known: table.pages.known_rows > k or table.pages.exhausted)  # type: ignore[misc]
        await until(lambda: table.current is not None)
        steps.append(await app.frame_after(time.perf_counter()) - pressed)
        if table.pages.exhausted:
            break
    gc.collect()
    after = rss_mib()
    print(f"  end x{len(steps)} (each fetches a new page: key to frame showing it) {percentiles(steps)}")
    print(f"  scrolled to row {table.cursor_row + 1:,}: {table.pages.fetched_rows:,} records fetched in all, "
          f"{table.pages.cached_rows:,} held in memory")
    print(f"  RSS before scrolling {before:6.1f} MiB, after {after:6.1f} MiB ({after - before:+.1f} MiB)")


async def filtering(app: Host, table: AuditTable) -> None:
    cases: list[tuple[str, str, str]] = [
        ("tool = delete_file", "#tool", "delete_file"),
        ("status = denied", "#status", "denied"),
        ("actor = user", "#actor", "user"),
        ("text 'file4321.py' (rare)", "#text", "file4321.py"),
        ("text 'proj7/' (common)", "#text", "proj7/"),
        ("since 30d", "#since", "30d"),
        ("until 2025-03-01 (first 2 months)", "#until", "2025-03-01"),
    ]
    print("  filter chosen -> frame with its first page (then cleared -> all records shown again)")
    for label, selector, value in cases:
        shown = await apply(app, table, selector, value)
        cleared = await apply(app, table, selector, None)
        print(f"    {label:<34} {shown * 1000:7.1f} ms   cleared {cleared * 1000:7.1f} ms")


async def apply(app: Host, table: AuditTable, selector: str, value: str | None) -> float:
    """Choose or submit a filter as the user would; the time until its first page is on screen."""
    control = app.screen.query_one(selector)
    old = table.pages
    started = time.perf_counter()
    if isinstance(control, Select):
        control.value = Select.NULL if value is None else value
    elif isinstance(control, Input):
        control.value = value or ""
        await control.action_submit()
    await until(lambda: table.pages is not old and (table.pages.frontier > 0 or table.pages.exhausted))
    elapsed = await app.frame_after(time.perf_counter()) - started
    await until(lambda: table.total is not None)  # let the count finish before the next filter
    return elapsed


async def verifying(app: Host, table: AuditTable) -> None:
    """Keys while the chain is verified in a thread (a CPU-bound walk over every record: it competes for the GIL)."""
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    started = time.perf_counter()
    app.key("v")
    await until(lambda: bool(screen.workers) and any(w.group == "audit-verify" for w in screen.workers))
    keys: list[float] = []
    while any(w.group == "audit-verify" and not w.is_finished for w in screen.workers) and len(keys) < 300:
        await asyncio.sleep(0.1)
        pressed = app.key("pagedown" if len(keys) % 20 < 10 else "pageup")
        await until(lambda: table.current is not None)
        keys.append(await app.frame_after(pressed) - pressed)
    await until(lambda: not any(w.group == "audit-verify" and not w.is_finished for w in screen.workers))
    await app.frame_after(time.perf_counter())
    chain = str(screen.query_one("#chain", Static).content).splitlines()[0]
    print(f"  verify from the screen: {time.perf_counter() - started:5.1f} s, shows {chain!r}")
    print(f"  page up/down meanwhile, x{len(keys)} (key to frame)               {percentiles(keys)}")


def file_lines(path: Path) -> tuple[int, int]:
    """Lines and bytes in a file."""
    with path.open(encoding="utf-8") as lines:
        return sum(1 for _ in lines), path.stat().st_size


async def exporting(app: Host, table: AuditTable, out: Path) -> None:
    """Export the records of a filter through the screen's own worker, to a file."""
    screen = app.screen
    assert isinstance(screen, AuditScreen)
    await apply(app, table, "#status", "denied")
    started = time.perf_counter()
    worker = screen.export_to(out, table.filters)
    count = await worker.wait()
    elapsed = time.perf_counter() - started
    lines, size = file_lines(out)
    assert count == lines == table.total, (count, lines, table.total)
    print(f"  export of status=denied ({count:,} records, {size / 1e6:.1f} MB): {elapsed:5.2f} s")
    await apply(app, table, "#status", None)


async def run_screen(log: AuditLog, pages: int, workdir: Path) -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(f"== the audit screen over {log.last_seq:,} records, headless at 120x40 (RSS {rss_mib():.1f} MiB)")
        table = await opening(app, log, log.list(limit=1)[0].time_epoch)
        await scrolling(app, table, pages)
        await pilot.press("home")
        await filtering(app, table)
        await exporting(app, table, workdir / "export.jsonl")
        await verifying(app, table)


def prepare(data: Path, records: int, reuse: bool) -> None:
    if reuse and (data / "audit.db").exists():
        print(f"== reusing the log in {data}")
        return
    days = records * STEP / 86400
    print(f"== generating {records:,} records over {days:.0f} days in {data} (bench/audit.py's bulk loader)")
    bulk_load(data, records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir, removed)")
    parser.add_argument("--reuse", action="store_true", help="use the log already in --dir instead of a new one")
    parser.add_argument("--pages", type=int, default=1_000, help="pages of 100 records to scroll through")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="sandchat-tui-audit-bench-"))
    try:
        prepare(workdir / "audit", args.records, args.reuse)
        opened = time.perf_counter()
        log = AuditLog.open(workdir / "audit", AuditContext())
        print(f"  AuditLog.open {(time.perf_counter() - opened) * 1000:.1f} ms")
        (workdir / "export.jsonl").unlink(missing_ok=True)
        asyncio.run(run_screen(log, args.pages, workdir))
        log.close()
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
