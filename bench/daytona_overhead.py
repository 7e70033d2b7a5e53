"""The Daytona backend's cost over the raw SDK, against the local fake Daytona (tests/daytona_server).

Run: .venv/bin/python bench/daytona_overhead.py [--runs N]

1. Per operation, the median time of DaytonaSandbox's call and of the one raw SDK call that does the same
   thing, interleaved so the machine's state affects both alike: read (``fs.download_file``), write
   (``fs.upload_file``), list (``fs.list_files``) and a code run (``process.code_run("print(1)")``). The
   difference is what the backend adds: symlink resolution, the size check before a read (one more round
   trip), error handling, and for code the runner that separates stdout from stderr and enforces the
   timeout inside the sandbox.
2. How long the first operation waits for the sandbox when it is issued right after ``start()``: cold
   (the SDK not yet imported: about three seconds of import, done in a worker thread), creating a new
   sandbox, and finding an existing one.

The fake answers on the loopback interface with no network latency, so these are the backend's own costs;
against Daytona's cloud each extra round trip also costs one network round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backends.daytona import DaytonaSandbox  # noqa: E402
from core.config_model import DaytonaConfig  # noqa: E402
from tests.daytona_server import FakeDaytona  # noqa: E402

Timed = Callable[[], Awaitable[object]]


async def timed(call: Timed) -> float:
    """Seconds ``call`` takes."""
    start = time.perf_counter()
    await call()
    return time.perf_counter() - start


async def compare(name: str, ours: Timed, raw: Timed, runs: int) -> tuple[str, float, float]:
    """Median seconds of both, interleaved, after one warm-up each."""
    await ours()
    await raw()
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(runs):
        mine.append(await timed(ours))
        theirs.append(await timed(raw))
    return name, statistics.median(mine), statistics.median(theirs)


async def first_operation_wait(server: FakeDaytona, name: str) -> float:
    """Seconds from ``start()`` to the end of the first operation issued right after it."""
    box = DaytonaSandbox(DaytonaConfig(api_url=server.api_url), api_key=server.api_key, sandbox=name)
    began = time.perf_counter()
    await box.start()
    await box.list_files("")
    waited = time.perf_counter() - began
    await box.close()
    return waited


async def overheads(server: FakeDaytona, runs: int) -> list[tuple[str, float, float]]:
    """(operation, backend median, raw SDK median) for each operation, on one sandbox."""
    box = DaytonaSandbox(DaytonaConfig(api_url=server.api_url), api_key=server.api_key, sandbox="bench")
    await box.ready()
    sdk = importlib.import_module("daytona")  # the SDK is imported lazily, as core/backends/daytona*.py do
    client: Any = sdk.AsyncDaytona(sdk.DaytonaConfig(api_key=server.api_key, api_url=server.api_url, target="us"))
    try:
        raw: Any = await client.get(box.sandbox_id)
        where = f"{await raw.get_user_home_dir()}/workspace"
        payload = b"x" * 4096
        await box.write_file("dir/file.txt", payload)
        return [
            await compare("read 4 KiB", lambda: box.read_file("dir/file.txt", 1 << 20),
                          lambda: raw.fs.download_file(f"{where}/dir/file.txt"), runs),
            await compare("write 4 KiB", lambda: box.write_file("dir/file.txt", payload),
                          lambda: raw.fs.upload_file(payload, f"{where}/dir/file.txt"), runs),
            await compare("list", lambda: box.list_files("dir"), lambda: raw.fs.list_files(f"{where}/dir"), runs),
            await compare("run print(1)", lambda: box.execute_code("print(1)", "python", 10),
                          lambda: raw.process.code_run("print(1)"), runs),
        ]
    finally:
        await client.close()
        await box.close()


async def main(runs: int) -> None:
    """Measure and print both tables."""
    server = FakeDaytona(Path(tempfile.mkdtemp(prefix="sandchat-bench-"))).start()
    try:
        cold = await first_operation_wait(server, "first-cold")
        created = statistics.median([await first_operation_wait(server, f"new-{i}") for i in range(5)])
        found = statistics.median([await first_operation_wait(server, "new-0") for _ in range(5)])
        rows = await overheads(server, runs)
    finally:
        server.stop()
    print(f"{'operation':<14}{'DaytonaSandbox':>16}{'raw SDK':>12}{'overhead':>12}{'ratio':>8}")
    for name, mine, theirs in rows:
        print(f"{name:<14}{mine * 1000:>13.2f} ms{theirs * 1000:>9.2f} ms{(mine - theirs) * 1000:>9.2f} ms"
              f"{mine / theirs:>8.2f}")
    print(f"\nfirst operation right after start(), median of 5 (cold: once):\n"
          f"  cold, SDK import included: {cold * 1000:8.0f} ms\n"
          f"  new sandbox created:       {created * 1000:8.1f} ms\n"
          f"  existing sandbox found:    {found * 1000:8.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per operation (default 30)")
    asyncio.run(main(parser.parse_args().runs))
