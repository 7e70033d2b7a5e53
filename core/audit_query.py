"""Filtered queries over the audit log, planned so that a first page (newest first) never scans the log.

Every plan walks seq downwards (newest first, so LIMIT stops it early): through a (column, seq) index for an
equality filter, through the text index for a text filter, else through the table itself.

A time range becomes exact seq bounds first (:func:`seq_bounds`), so the walk starts at the newest record in
the range instead of at the newest record of the log ("until mid-year" skips nothing). With the clock always
moving forward the range is exactly the seqs between the bounds; records stamped out of order by a clock set
back can lie between the bounds without being in the range, and the walk steps over them. The time conditions
are always applied as well, so results are exact either way.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from core import audit_text
from core.audit_types import COLUMNS, AuditFilter, AuditRecord, TimeBound

SELECT_COLUMNS = ", ".join(f"records.{c}" for c in COLUMNS)


def epoch_of(bound: TimeBound) -> float:
    """Seconds since the epoch; a naive datetime is taken as UTC, like every time in the log."""
    if isinstance(bound, datetime):
        return (bound if bound.tzinfo else bound.replace(tzinfo=UTC)).timestamp()
    return float(bound)


@dataclass(frozen=True)
class Selection:
    """The FROM and WHERE of a filtered query, its parameters and the column to order by."""

    sql: str
    params: tuple[object, ...]
    order: str


_NOTHING = Selection("FROM records WHERE 0", (), "records.seq")


def seq_bounds(conn: sqlite3.Connection, flt: AuditFilter) -> tuple[int | None, int | None] | None:
    """The lowest and highest seq of a record in the filter's time range (None for an open side); None: no record.

    Exact, by way of records_backdated (every record stamped earlier than a record before it). The others are
    in time order, so the oldest of them from ``since`` on is the first one in the time index, and no record
    among them after the newest one before ``until`` is in the range; the backdated records are looked up
    directly. A few index probes, plus a step over each backdated record the probe meets.
    """
    low = high = None
    if flt.since is not None:
        since = epoch_of(flt.since)
        low = _min_seq(
            conn.execute(
                "SELECT seq FROM records WHERE time_epoch >= ? AND NOT EXISTS "
                "(SELECT 1 FROM records_backdated AS b WHERE b.seq = records.seq) ORDER BY time_epoch, seq LIMIT 1",
                (since,),
            ),
            conn.execute("SELECT seq FROM records_backdated WHERE time_epoch >= ? ORDER BY seq LIMIT 1", (since,)),
        )
        if low is None:
            return None
    if flt.until is not None:
        until = epoch_of(flt.until)
        # The newest record before `until` in time order: a backdated one here does not spoil the bound.
        high = _max_seq(
            conn.execute(
                "SELECT seq FROM records WHERE time_epoch < ? ORDER BY time_epoch DESC, seq DESC LIMIT 1", (until,)
            ),
            conn.execute("SELECT seq FROM records_backdated WHERE time_epoch < ? ORDER BY seq DESC LIMIT 1", (until,)),
        )
        if high is None:
            return None
    return low, high


def _min_seq(*cursors: sqlite3.Cursor) -> int | None:
    found = [int(row[0]) for cursor in cursors for row in cursor.fetchall()]
    return min(found) if found else None


def _max_seq(*cursors: sqlite3.Cursor) -> int | None:
    found = [int(row[0]) for cursor in cursors for row in cursor.fetchall()]
    return max(found) if found else None


def select(
    conn: sqlite3.Connection,
    flt: AuditFilter,
    *,
    text_index: bool,
    before_seq: int | None = None,
    outcomes_only: bool = False,
) -> Selection:
    """Translate a filter into SQL that the indexes serve newest-first (by ``order``)."""
    bounds = seq_bounds(conn, flt) if flt.since is not None or flt.until is not None else (None, None)
    if bounds is None:
        return _NOTHING
    clauses: list[str] = ["records.status != 'started'"] if outcomes_only else []
    params: list[object] = []
    for column, value in (("actor", flt.actor), ("tool", flt.tool), ("status", flt.status),
                          ("session_id", flt.session_id)):
        if value is not None:
            clauses.append(f"records.{column} = ?")
            params.append(value)
    if flt.since is not None:
        clauses.append("records.time_epoch >= ?")
        params.append(epoch_of(flt.since))
    if flt.until is not None:
        clauses.append("records.time_epoch < ?")
        params.append(epoch_of(flt.until))
    source, order = "records", "records.seq"
    match = audit_text.match_expression(conn, flt.text) if flt.text and text_index else None
    if match is not None:
        # Driven from the text index in descending rowid order, so LIMIT stops it early.
        source, order = "records_text JOIN records ON records.seq = records_text.rowid", "records_text.rowid"
        clauses.append("records_text MATCH ?")
        params.append(match)
    elif flt.text:
        like = "LIKE ? ESCAPE '\\'"
        clauses.append(f"(records.command {like} OR records.path {like} OR records.message {like})")
        params.extend([_like_pattern(flt.text)] * 3)
    low, high = bounds
    for bound, condition in ((low, ">="), (high, "<="), (before_seq, "<")):
        if bound is not None:
            clauses.append(f"{order} {condition} ?")
            params.append(bound)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return Selection(f"FROM {source}{where}", tuple(params), order)


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_records(conn: sqlite3.Connection, sel: Selection, limit: int) -> list[AuditRecord]:
    rows = conn.execute(f"SELECT {SELECT_COLUMNS} {sel.sql} ORDER BY {sel.order} DESC LIMIT ?", (*sel.params, limit))
    return [AuditRecord(*row) for row in rows]


def get_record(conn: sqlite3.Connection, seq: int) -> AuditRecord | None:
    row = conn.execute(f"SELECT {SELECT_COLUMNS} FROM records WHERE seq = ?", (seq,)).fetchone()
    return AuditRecord(*row) if row else None


def count_records(conn: sqlite3.Connection, sel: Selection) -> int:
    return int(conn.execute(f"SELECT count(*) {sel.sql}", sel.params).fetchone()[0])
