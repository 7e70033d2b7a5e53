"""Builders shared by the audit log tests: logs over temp dirs, requests and results made directly."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.audit import AuditContext, AuditLog
from core.backends.base import ExecResult
from core.commands import Command, DeleteFile, ListFiles, ReadFile, RunCode, WriteFile, format_command
from core.events import Actor
from core.operations import OperationRequest
from core.results import OperationResult, Status
from core.security.risk import RiskFinding

CONTEXT = AuditContext(session_id="s1", backend="local", sandbox_id="test", isolation="strong", policy_hash="p0")


class FakeClock:
    """A clock the test moves: records get known, distinct times."""

    def __init__(self, start: float = 1_750_000_000.0, step: float = 1.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def open_log(data_dir: Path, *, clock: FakeClock | None = None, known_secrets: tuple[str, ...] = ()) -> AuditLog:
    """A log in ``data_dir`` laid out as the app lays it out."""
    return AuditLog(
        data_dir / "audit.db",
        key_path=data_dir / "audit.key",
        anchor_path=data_dir / "audit.anchor",
        context=CONTEXT,
        known_secrets=known_secrets,
        clock=clock or FakeClock(),
    )


_op_ids = itertools.count(1)


def request(
    command: Command, *, actor: Actor = "assistant", findings: tuple[RiskFinding, ...] = ()
) -> OperationRequest:
    path = getattr(command, "path", "") or getattr(command, "directory", "")
    shown = f"/workspace/{path}" if path else ""
    return OperationRequest(next(_op_ids), actor, command, format_command(command), shown, findings)


def result(
    command: Command,
    status: Status = "ok",
    *,
    actor: Actor = "assistant",
    message: str = "done",
    duration: float = 0.01,
    exit_code: int | None = None,
    content: bytes | None = None,
    op_id: int | None = None,
) -> OperationResult:
    path = getattr(command, "path", "") or getattr(command, "directory", "")
    exec_result = None
    if exit_code is not None and isinstance(command, RunCode):
        exec_result = ExecResult(command.language, exit_code, "", "", duration)
    return OperationResult(
        op_id if op_id is not None else next(_op_ids),
        actor,
        format_command(command),
        command.tool,
        status,
        message,
        command=command,
        path=f"/workspace/{path}" if path else "",
        duration=duration,
        exec=exec_result,
        content=content,
    )


def varied_result(i: int) -> OperationResult:
    """The i-th of a repeating mix of tools, actors and outcomes."""
    statuses: tuple[Status, ...] = ("ok", "ok", "error", "failed", "blocked", "denied", "ok")
    status = statuses[i % len(statuses)]
    actor: Actor = "user" if i % 3 == 0 else "assistant"
    kind = i % 5
    command: Command
    if kind == 0:
        command = WriteFile(f"dir{i % 4}/file{i}.txt", f"content {i}")
    elif kind == 1:
        command = ReadFile(f"dir{i % 4}/file{i}.txt")
    elif kind == 2:
        command = RunCode(f"print({i})")
    elif kind == 3:
        command = ListFiles(f"dir{i % 4}")
    else:
        command = DeleteFile(f"dir{i % 4}/old{i}.txt")
    exit_code = (0 if status == "ok" else 1) if kind == 2 else None
    return result(command, status, actor=actor, message=f"message {i}", duration=(i % 10) / 100, exit_code=exit_code)


def fill(log: AuditLog, count: int) -> None:
    for i in range(count):
        log.after(varied_result(i))


@contextmanager
def raw_db(data_dir: Path) -> Iterator[sqlite3.Connection]:
    """The database as an attacker sees it: plain sqlite3, no key."""
    conn = sqlite3.connect(data_dir / "audit.db", isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def disk_bytes(data_dir: Path) -> bytes:
    """Everything the log wrote to disk: database, WAL, shared memory, anchor."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file())
