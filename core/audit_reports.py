"""Reading the audit log in bulk and trimming it: JSONL export, per-tool statistics, pruning with a checkpoint."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from typing import TextIO

from core import audit_text
from core.audit_chain import Signer
from core.audit_query import SELECT_COLUMNS, Selection
from core.audit_store import latest_checkpoint, time_fields
from core.audit_types import COLUMNS, PruneReport, ToolStats

_FETCH = 2000


def export_jsonl(conn: sqlite3.Connection, sel: Selection, out: TextIO) -> int:
    """Write the selected records oldest first, one JSON object a line, every column (macs included)."""
    cursor = conn.execute(f"SELECT {SELECT_COLUMNS} {sel.sql} ORDER BY {sel.order}", sel.params)
    written = 0
    while rows := cursor.fetchmany(_FETCH):
        for row in rows:
            out.write(json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n")
        written += len(rows)
    return written


@dataclass
class _Tally:
    statuses: dict[str, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)


def tool_stats(conn: sqlite3.Connection, sel: Selection) -> list[ToolStats]:
    """Outcome counts and duration percentiles per tool, busiest tool first."""
    tallies: dict[str, _Tally] = {}
    cursor = conn.execute(f"SELECT records.tool, records.status, records.duration_ms {sel.sql}", sel.params)
    while rows := cursor.fetchmany(_FETCH):
        for tool, status, duration in rows:
            tally = tallies.setdefault(tool, _Tally())
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if duration is not None:
                tally.durations.append(duration)
    stats = [_summarise(tool, tally) for tool, tally in tallies.items()]
    return sorted(stats, key=lambda s: (-s.count, s.tool))


def _summarise(tool: str, tally: _Tally) -> ToolStats:
    tally.durations.sort()
    counts = tally.statuses
    return ToolStats(
        tool=tool,
        count=sum(counts.values()),
        ok=counts.get("ok", 0),
        error=counts.get("error", 0),
        failed=counts.get("failed", 0),
        blocked=counts.get("blocked", 0),
        denied=counts.get("denied", 0),
        p50_ms=percentile(tally.durations, 0.50),
        p95_ms=percentile(tally.durations, 0.95),
    )


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list: a value that occurred, None for no values."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def prune_before(conn: sqlite3.Connection, signer: Signer, before_epoch: float, now: float) -> PruneReport:
    """Delete the oldest records up to the first one at or after ``before_epoch``; keep a MACed checkpoint."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        report = _prune_in_transaction(conn, signer, before_epoch, now)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return report


def _prune_in_transaction(conn: sqlite3.Connection, signer: Signer, before_epoch: float, now: float) -> PruneReport:
    previous = latest_checkpoint(conn)
    total = previous.pruned if previous else 0
    # Only a prefix goes, so the rest stays one unbroken chain; a record stamped out of order by a clock
    # jump ends the prefix early rather than taking newer records with it.
    first_kept = conn.execute(
        "SELECT seq FROM records WHERE time_epoch >= ? ORDER BY seq LIMIT 1", (before_epoch,)
    ).fetchone()
    bound = "seq < ?" if first_kept else "seq <= ?"
    limit = first_kept[0] if first_kept else conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0]
    last = conn.execute(f"SELECT seq, mac FROM records WHERE {bound} ORDER BY seq DESC LIMIT 1", (limit,)).fetchone()
    if last is None:
        return PruneReport(0, None, total)
    if audit_text.has_text_index(conn):
        audit_text.index_new(conn)  # the delete trigger hands back what was indexed: all of it must be
    deleted = conn.execute(f"DELETE FROM records WHERE {bound}", (limit,)).rowcount
    conn.execute(f"DELETE FROM records_backdated WHERE {bound}", (limit,))
    checkpoint: dict[str, object] = {
        "id": (previous.id if previous else 0) + 1,
        "seq": last[0],
        "mac": last[1],
        "pruned": total + deleted,
        "time": time_fields(now)[0],
    }
    conn.execute(
        "INSERT INTO checkpoints (id, seq, mac, pruned, time, checkpoint_mac) VALUES (?, ?, ?, ?, ?, ?)",
        (*checkpoint.values(), signer.labelled_mac("checkpoint", checkpoint)),
    )
    return PruneReport(deleted, int(last[0]), total + deleted)
