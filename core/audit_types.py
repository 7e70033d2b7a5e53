"""The audit log's value types: context, records, filters and reports (plain frozen dataclasses)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

#: The record columns in table order; every one of them except ``mac`` is covered by the MAC.
COLUMNS: tuple[str, ...] = (
    "seq",
    "time",
    "time_epoch",
    "session_id",
    "op_id",
    "actor",
    "tool",
    "command",
    "path",
    "decision",
    "decision_reason",
    "status",
    "message",
    "exit_code",
    "duration_ms",
    "bytes_in",
    "bytes_out",
    "content_size",
    "content_sha256",
    "backend",
    "sandbox_id",
    "isolation",
    "policy_hash",
    "findings",
    "prev_mac",
    "mac",
)


@dataclass(frozen=True)
class AuditContext:
    """Where the records come from: this session, its sandbox and the policy in force."""

    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    backend: str = ""
    sandbox_id: str = ""
    isolation: str = "none"  # strong / weak / none
    policy_hash: str = ""


@dataclass(frozen=True)
class AuditRecord:
    """One row of the log. ``status`` "started" marks the intent written before an operation runs."""

    seq: int
    time: str  # UTC ISO-8601 with microseconds
    time_epoch: float
    session_id: str
    op_id: int | None
    actor: str
    tool: str
    command: str  # canonical command text, redacted; write contents replaced by their size and SHA-256
    path: str
    decision: str  # allowed / blocked / denied
    decision_reason: str
    status: str  # started / ok / error / failed / blocked / denied
    message: str
    exit_code: int | None
    duration_ms: float | None
    bytes_in: int
    bytes_out: int
    content_size: int | None  # written content, code run, or bytes read
    content_sha256: str | None
    backend: str
    sandbox_id: str
    isolation: str
    policy_hash: str
    findings: str  # JSON list of {"rule", "severity", "start", "end"}
    prev_mac: str
    mac: str

    def as_dict(self) -> dict[str, object]:
        """The record as a JSON-ready mapping, one key per column."""
        return {name: getattr(self, name) for name in COLUMNS}

    def finding_list(self) -> list[dict[str, object]]:
        """The risk findings recorded for the operation."""
        parsed: list[dict[str, object]] = json.loads(self.findings)
        return parsed


TimeBound = datetime | float


@dataclass(frozen=True)
class AuditFilter:
    """Which records a query returns; every field left as None matches everything."""

    since: TimeBound | None = None  # inclusive; a datetime (naive means UTC) or seconds since the epoch
    until: TimeBound | None = None  # exclusive
    actor: str | None = None
    tool: str | None = None
    status: str | None = None
    text: str | None = None  # case-insensitive substring of the command, path or message
    session_id: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`AuditLog.verify` found; ``problem`` names the first broken record and what is wrong."""

    ok: bool
    records_checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    notes: tuple[str, ...] = ()  # facts that are not problems: pruning, records written after the anchor

    def __str__(self) -> str:
        if self.ok:
            head = f"audit log OK: {self.records_checked:,} records verified"
        else:
            head = f"audit log BROKEN: {self.problem}"
        return "\n".join((head, *self.notes))


@dataclass(frozen=True)
class ToolStats:
    """Outcomes of one tool (intent records are not counted); durations in milliseconds."""

    tool: str
    count: int
    ok: int
    error: int
    failed: int
    blocked: int
    denied: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def success_rate(self) -> float:
        return self.ok / self.count if self.count else 0.0

    @property
    def blocked_rate(self) -> float:
        """Share refused before running: blocked by validation or denied by the policy or the user."""
        return (self.blocked + self.denied) / self.count if self.count else 0.0


@dataclass(frozen=True)
class PruneReport:
    """What :meth:`AuditLog.prune` removed and the checkpoint that keeps the rest verifiable."""

    deleted: int
    checkpoint_seq: int | None  # the last pruned record's seq; None when nothing was old enough
    total_pruned: int  # over every prune of this log
