"""kill -9 while a process writes thousands of records: every record it saw committed survives, the log verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.audit import AuditContext, AuditFilter, AuditLog

ROOT = Path(__file__).resolve().parents[2]

# Alternates intent and outcome records, as the pipeline does, printing each seq once its write returned.
WRITER = """
import sys
from pathlib import Path
from core.audit import AuditContext, AuditLog
from core.commands import RunCode
from core.operations import OperationRequest
from core.results import OperationResult

log = AuditLog.open(Path(sys.argv[1]), AuditContext(session_id=sys.argv[2]))
op = 0
while True:
    op += 1
    code = f"print({op})"
    log.before(OperationRequest(op, "assistant", RunCode(code), "run code:" + code, "", ()))
    print(log.last_seq, flush=True)
    log.after(OperationResult(op, "assistant", "run code:" + code, "execute_code", "ok", "exit code 0",
                              command=RunCode(code), duration=0.001))
    print(log.last_seq, flush=True)
"""


def write_until_killed(data: Path, session: str, at_least: int) -> list[int]:
    """Run the writer, SIGKILL it once it reported ``at_least`` commits; every seq it reported."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), session], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    committed: list[int] = []
    for line in proc.stdout:
        committed.append(int(line))
        if len(committed) >= at_least:
            os.kill(proc.pid, signal.SIGKILL)
            break
    committed += [int(line) for line in proc.stdout if line.strip()]  # printed before the kill landed
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return committed


def check(data: Path, committed: list[int]) -> AuditLog:
    log = AuditLog.open(data, AuditContext())
    report = log.verify()
    assert report.ok, report.problem
    missing = [seq for seq in committed if log.get(seq) is None]
    assert missing == []
    return log


def test_a_killed_writer_loses_no_committed_record_and_the_log_verifies(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = write_until_killed(data, "one", 2000)
    assert first == list(range(1, len(first) + 1))
    log = check(data, first)
    assert log.count(AuditFilter(session_id="one")) >= len(first)
    log.close()
    second = write_until_killed(data, "two", 300)  # a second life continues the same chain
    assert second[0] > first[-1]
    log = check(data, first + second)
    assert log.count() == log.last_seq
    log.close()
