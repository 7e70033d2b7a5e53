"""Cost of the audit log: recording an operation, and first-page queries, stats, export, verify over a big log.

Run: .venv/bin/python bench/audit.py [--records 1000000] [--appends 5000] [--dir DIR]

Part 1 records operations as the pipeline does, an intent (AuditLog.before) and an outcome (AuditLog.after)
each (redaction, MAC, commit, anchor, housekeeping included), in both durability modes, and breaks the cost down.
Part 2 bulk-loads N records with real MACs (executemany in one transaction), indexes them for text search as
the log's housekeeping would have, and times queries on them.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import audit_store, audit_text  # noqa: E402
from core.audit import AuditContext, AuditFilter, AuditLog  # noqa: E402
from core.audit_chain import GENESIS, Signer, write_anchor  # noqa: E402
from core.audit_store import Durability  # noqa: E402
from core.backends.base import ExecResult  # noqa: E402
from core.commands import Command, ReadFile, RunCode, WriteFile, format_command  # noqa: E402
from core.operations import OperationRequest  # noqa: E402
from core.results import OperationResult, Status  # noqa: E402

START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
STEP = 30.0  # seconds between generated records: a million span about a year
STATUSES: tuple[Status, ...] = ("ok",) * 16 + ("error", "error", "failed", "blocked", "denied")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {p50 * 1000:8.3f} ms   p95 {p95 * 1000:8.3f} ms"


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def sample_command(i: int) -> Command:
    choices = (WriteFile(f"src/mod{i % 40}.py", "x = 1\n" * 50), ReadFile(f"notes/{i}.md"), RunCode(f"print({i})"))
    return choices[i % 3]


def sample_request(i: int) -> OperationRequest:
    command = sample_command(i)
    return OperationRequest(i, "assistant", command, format_command(command), f"/workspace/x{i}", ())


def sample_result(i: int) -> OperationResult:
    command = sample_command(i)
    exec_result = ExecResult("python", 0, "", "", 0.01) if i % 3 == 2 else None
    return OperationResult(i, "assistant", format_command(command), command.tool, STATUSES[i % len(STATUSES)],
                           f"message {i}", command=command, path=f"/workspace/x{i}", duration=0.012, exec=exec_result)


# -- part 1: appends --------------------------------------------------------------------------------


def bench_appends(workdir: Path, count: int) -> None:
    print(f"== recording {count:,} operations (intent + outcome: two records each), WAL")
    for durability in ("normal", "full"):
        bench_operations(workdir, count if durability == "normal" else min(count, 2000), durability)
    bench_append_parts(workdir, min(count, 2000))


def bench_operations(workdir: Path, count: int, durability: Durability) -> None:
    log = AuditLog.open(workdir / f"ops-{durability}", AuditContext(backend="local", sandbox_id="bench"),
                        durability=durability)
    work = [(sample_request(i), sample_result(i)) for i in range(count)]
    operations, outcomes = [], []
    for request, result in work:
        started = time.perf_counter()
        log.before(request)
        middle = time.perf_counter()
        log.after(result)
        ended = time.perf_counter()
        operations.append(ended - started)
        outcomes.append(ended - middle)
    print(f"  durability={durability}: one operation    {percentiles(operations)}")
    print(f"  durability={durability}: AuditLog.after   {percentiles(outcomes)}")
    assert log.verify().ok
    log.close()


def bench_append_parts(workdir: Path, count: int) -> None:
    """An append split up, to show where the time goes."""
    signer = Signer(os.urandom(32))
    fields = {"session_id": "s", "op_id": 1, "actor": "user", "tool": "read_file", "command": "read file:a",
              "path": "/workspace/a", "decision": "allowed", "decision_reason": "", "status": "ok", "message": "m",
              "exit_code": None, "duration_ms": 1.5, "bytes_in": 0, "bytes_out": 1, "content_size": 1,
              "content_sha256": "0" * 64, "backend": "local", "sandbox_id": "b", "isolation": "strong",
              "policy_hash": "", "findings": "[]"}
    for durability in ("full", "normal"):
        conn = audit_store.connect(workdir / f"parts-{durability}.db", durability)

        def commit(c: sqlite3.Connection = conn) -> None:
            audit_store.append(c, signer, fields, time.time())

        print(f"  sqlite append + commit, {durability:<6}       {percentiles(timed(commit, count))}")
        conn.close()
    anchor = workdir / "parts.anchor"
    for label, durable in (("fsync + rename", True), ("in place", False)):
        samples = timed(lambda d=durable: write_anchor(anchor, 1, GENESIS, signer, durable=d), count)  # type: ignore[misc]
        print(f"  anchor write, {label:<16}         {percentiles(samples)}")


# -- part 2: a big log ------------------------------------------------------------------------------


def generated_fields(i: int) -> dict[str, object]:
    """Record i of a plausible year: a third intents, mixed tools, actors, outcomes, a session every 2,000."""
    mix = (i * 2654435761) % 4294967296  # Knuth's multiplicative hash: tool, status and actor vary independently
    tool = ("write_file", "read_file", "execute_code", "list_files", "delete_file")[mix % 5]
    status: str = "started" if (mix >> 8) % 3 == 0 else STATUSES[(mix >> 12) % len(STATUSES)]
    path = f"/workspace/proj{i % 50}/src/file{i % 5000}.py"
    command = {"write_file": f"write file:{path} content:<{i % 9000} bytes sha256:{mix:064x}>",
               "execute_code": f"run code:import json\nprint(json.dumps({{'n': {i}}}))"}.get(tool, f"x file:{path}")
    refused = status in ("blocked", "denied")
    return {
        "session_id": f"session{i // 2000:05d}", "op_id": i, "actor": "user" if (mix >> 20) % 4 == 0 else "assistant",
        "tool": tool, "command": command, "path": path, "decision": status if refused else "allowed",
        "decision_reason": "refused by policy" if refused else "", "status": status,
        "message": f"{tool} {status} on {path}", "exit_code": 0 if tool == "execute_code" else None,
        "duration_ms": None if status == "started" else round((mix % 997) * 0.37, 3), "bytes_in": i % 4096,
        "bytes_out": i % 8192, "content_size": None, "content_sha256": None, "backend": "local",
        "sandbox_id": "bench", "isolation": "strong", "policy_hash": "p1", "findings": "[]",
    }


def bulk_load(data: Path, records: int) -> None:
    log = AuditLog.open(data, AuditContext())  # creates key, schema, indexes
    log.close()
    signer = Signer((data / "audit.key").read_bytes())
    conn = audit_store.connect(data / "audit.db")
    started = time.perf_counter()
    prev = GENESIS
    conn.execute("BEGIN")
    for chunk in range(0, records, 50_000):
        rows = []
        for i in range(chunk + 1, min(records, chunk + 50_000) + 1):
            stamp, epoch = audit_store.time_fields(START + i * STEP)
            row = {**generated_fields(i), "seq": i, "time": stamp, "time_epoch": epoch, "prev_mac": prev}
            row["mac"] = prev = signer.record_mac(row)
            rows.append(row)
        audit_store.insert_rows(conn, rows)
    conn.execute("COMMIT")
    loaded = time.perf_counter()
    audit_text.catch_up(conn)
    conn.execute("ANALYZE")
    write_anchor(data / "audit.anchor", records, prev, signer)
    conn.close()
    size = sum(p.stat().st_size for p in data.iterdir()) / 1e6
    print(f"  generated {records:,} records with real MACs in {loaded - started:.1f} s, "
          f"text index in {time.perf_counter() - loaded:.1f} s ({size:,.0f} MB)")


def bench_queries(log: AuditLog, records: int) -> None:
    end = START + records * STEP
    cases = {
        "no filter": AuditFilter(),
        "tool=delete_file": AuditFilter(tool="delete_file"),
        "status=denied": AuditFilter(status="denied"),
        "actor=user, status=failed": AuditFilter(actor="user", status="failed"),
        "session_id (one of 500)": AuditFilter(session_id="session00007"),
        "since: last hour": AuditFilter(since=end - 3600),
        "until: first week": AuditFilter(until=START + 7 * 86400),
        "until: mid-year (500k older)": AuditFilter(until=START + 180 * 86400),
        "since: last 30 days": AuditFilter(since=end - 30 * 86400),
        "since+until: one day mid-year": AuditFilter(since=START + 180 * 86400, until=START + 181 * 86400),
        "text, common ('proj7/')": AuditFilter(text="proj7/"),
        "text, rare ('file4321.py')": AuditFilter(text="file4321.py"),
        "text, absent ('no-such-thing')": AuditFilter(text="no-such-thing"),
        "text, 2 chars, absent ('zq')": AuditFilter(text="zq"),
        "text, 2 chars, common ('py')": AuditFilter(text="py"),
        "text, 1 char, common ('/', LIKE)": AuditFilter(text="/"),
        "text, 1 char, absent ('~', LIKE)": AuditFilter(text="~"),
        "tool + text": AuditFilter(tool="execute_code", text="'n': 12345"),
    }
    print(f"== first page (50 records, newest first) over {records:,} records, 20 runs each")
    for label, flt in cases.items():
        page = log.list(flt)
        samples = timed(lambda f=flt: log.list(f), 20)  # type: ignore[misc]
        print(f"  {label:<34} {percentiles(samples)}   ({len(page)} rows)")
    before = log.list(limit=50)[-1].seq - 400_000
    print(f"  {'page deep in the log (before_seq)':<34} {percentiles(timed(lambda: log.list(before_seq=before), 20))}")


def bench_bulk(log: AuditLog, data: Path) -> None:
    print("== whole-log operations")
    for label, fn in (
        ("count(tool=write_file)", lambda: log.count(AuditFilter(tool="write_file"))),
        ("stats() over everything", log.stats),
        ("stats(since: last 30 days)", lambda: log.stats(AuditFilter(since=time_of(log) - 30 * 86400))),
        ("export_jsonl(status=blocked)", lambda: log.export_jsonl(io.StringIO(), AuditFilter(status="blocked"))),
        ("verify()", log.verify),
    ):
        started = time.perf_counter()
        outcome = fn()
        shown = outcome if isinstance(outcome, int) else type(outcome).__name__
        print(f"  {label:<34} {time.perf_counter() - started:8.2f} s   ({shown})")


def time_of(log: AuditLog) -> float:
    return log.list(limit=1)[0].time_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=5_000)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir, removed)")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="sandchat-audit-bench-"))
    try:
        bench_appends(workdir, args.appends)
        print(f"== bulk load of {args.records:,} records (then the FTS5 trigram index, as housekeeping does)")
        data = workdir / "big"
        bulk_load(data, args.records)
        log = AuditLog.open(data, AuditContext())
        bench_queries(log, args.records)
        bench_bulk(log, data)
        log.close()
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
