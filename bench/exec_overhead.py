"""End-to-end ``run code:print(1)`` through SecureOperations against a bare python3 subprocess.

Run: .venv/bin/python bench/exec_overhead.py [--runs N]
Both sides use /usr/bin/python3 and run in the same process, interleaved, so the machine's state
affects them alike. The figure is the ratio of medians (target: at most 1.6).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backends.local import LocalSandbox  # noqa: E402
from core.operations import SecureOperations  # noqa: E402

PYTHON = "/usr/bin/python3"


async def bare_run() -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        PYTHON, "-c", "print(1)", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert out == b"1\n"
    return time.perf_counter() - start


async def pipeline_run(ops: SecureOperations) -> float:
    start = time.perf_counter()
    result = await ops.run("run code:print(1)")
    elapsed = time.perf_counter() - start
    assert result.exec is not None and result.exec.stdout == "1\n", result.message
    return elapsed


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        box = LocalSandbox(Path(tmp) / "ws", name="bench")
        ops = SecureOperations(box)
        await pipeline_run(ops)  # warm-up: the isolation probe runs once
        await bare_run()
        bare: list[float] = []
        piped: list[float] = []
        for _ in range(runs):
            bare.append(await bare_run())
            piped.append(await pipeline_run(ops))
        await box.close()
    mb, mp = statistics.median(bare), statistics.median(piped)
    print(f"runs: {runs}")
    print(f"bare {PYTHON} -c 'print(1)': median {mb * 1000:.1f} ms, p90 {_p90(bare) * 1000:.1f} ms")
    print(f"SecureOperations run code:print(1): median {mp * 1000:.1f} ms, p90 {_p90(piped) * 1000:.1f} ms")
    print(f"ratio of medians: {mp / mb:.2f}x (target <= 1.6x)")


def _p90(xs: list[float]) -> float:
    return sorted(xs)[int(len(xs) * 0.9) - 1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    asyncio.run(main(parser.parse_args().runs))
