"""The audit log's SQLite storage: schema, connections, appending one chained record, filtered queries.

WAL with ``synchronous=FULL``: a record is durable when its COMMIT returns (the WAL is fsynced), which is what
lets the anchor be written after it and never be ahead of the database, even across a power cut. Each record
is its own transaction, taken with BEGIN IMMEDIATE so the head read and the insert cannot interleave with
another writer, another sandchat process included.

Text search uses an FTS5 trigram index (substring search in milliseconds over a million records) where
SQLite has it; it covers the path, the message and the first 4 KiB of the command. Terms shorter than
three characters, and SQLite builds without FTS5, fall back to a LIKE scan.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.audit_chain import GENESIS, Signer
from core.audit_types import COLUMNS, AuditFilter, AuditRecord, TimeBound

SCHEMA_VERSION = 1
TEXT_INDEX_CHARS = 4096

_TABLES = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, time_epoch REAL NOT NULL, session_id TEXT NOT NULL,
    op_id INTEGER, actor TEXT NOT NULL, tool TEXT NOT NULL, command TEXT NOT NULL, path TEXT NOT NULL,
    decision TEXT NOT NULL, decision_reason TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    exit_code INTEGER, duration_ms REAL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    content_size INTEGER, content_sha256 TEXT, backend TEXT NOT NULL, sandbox_id TEXT NOT NULL,
    isolation TEXT NOT NULL, policy_hash TEXT NOT NULL, findings TEXT NOT NULL,
    prev_mac TEXT NOT NULL, mac TEXT NOT NULL
);
-- (column, seq) indexes hand back a filtered first page newest-first without sorting.
CREATE INDEX IF NOT EXISTS records_by_tool ON records(tool, seq);
CREATE INDEX IF NOT EXISTS records_by_status ON records(status, seq);
CREATE INDEX IF NOT EXISTS records_by_actor ON records(actor, seq);
CREATE INDEX IF NOT EXISTS records_by_session ON records(session_id, seq);
CREATE INDEX IF NOT EXISTS records_by_time ON records(time_epoch);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, mac TEXT NOT NULL, pruned INTEGER NOT NULL,
    time TEXT NOT NULL, checkpoint_mac TEXT NOT NULL
);
"""

# Contentless: the text lives once, in records; the delete trigger hands back exactly what was indexed.
_TEXT_INDEX = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS records_text USING fts5(command, path, message, content='', tokenize='trigram');
CREATE TRIGGER IF NOT EXISTS records_text_add AFTER INSERT ON records BEGIN
    INSERT INTO records_text(rowid, command, path, message)
    VALUES (new.seq, substr(new.command, 1, {TEXT_INDEX_CHARS}), new.path, new.message);
END;
CREATE TRIGGER IF NOT EXISTS records_text_remove AFTER DELETE ON records BEGIN
    INSERT INTO records_text(records_text, rowid, command, path, message)
    VALUES ('delete', old.seq, substr(old.command, 1, {TEXT_INDEX_CHARS}), old.path, old.message);
END;
"""

SELECT_COLUMNS = ", ".join(f"records.{c}" for c in COLUMNS)
_INSERT = f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


class SchemaTooNew(Exception):
    """The database was written by a newer sandchat."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the log at ``path`` (created 0o600 if new), in WAL mode with durable commits."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(f"schema version {version} is newer than this sandchat understands ({SCHEMA_VERSION})")
    if version == SCHEMA_VERSION:
        return
    conn.executescript(_TABLES)
    try:
        conn.executescript(_TEXT_INDEX)
    except sqlite3.OperationalError:
        pass  # no FTS5 or no trigram tokenizer in this SQLite: text search scans with LIKE instead
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def has_text_index(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'records_text'").fetchone()
    return row is not None


def is_empty(conn: sqlite3.Connection) -> bool:
    """True for a log that never held a record (no rows and no checkpoint of pruned ones)."""
    rows = conn.execute("SELECT EXISTS(SELECT 1 FROM records) OR EXISTS(SELECT 1 FROM checkpoints)").fetchone()
    return not rows[0]


@dataclass(frozen=True)
class Checkpoint:
    """The last record removed by pruning: the chain continues from its seq and mac."""

    id: int
    seq: int
    mac: str
    pruned: int  # records pruned in total, over every prune
    time: str
    checkpoint_mac: str

    def fields(self) -> dict[str, object]:
        return {"id": self.id, "seq": self.seq, "mac": self.mac, "pruned": self.pruned, "time": self.time}


def latest_checkpoint(conn: sqlite3.Connection) -> Checkpoint | None:
    row = conn.execute(
        "SELECT id, seq, mac, pruned, time, checkpoint_mac FROM checkpoints ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return Checkpoint(*row) if row else None


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """The seq and mac the next record chains to."""
    row = conn.execute("SELECT seq, mac FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    if row:
        return int(row[0]), str(row[1])
    checkpoint = latest_checkpoint(conn)
    return (checkpoint.seq, checkpoint.mac) if checkpoint else (0, GENESIS)


def time_fields(timestamp: float) -> tuple[str, float]:
    """UTC ISO-8601 with microseconds and the same instant as epoch seconds (both exact to the microsecond)."""
    micros = round(timestamp * 1_000_000)
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.isoformat(timespec="microseconds"), micros / 1_000_000


def append(conn: sqlite3.Connection, signer: Signer, fields: Mapping[str, object], now: float) -> tuple[int, str]:
    """Chain and insert one record in its own transaction; returns its seq and mac once committed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        last_seq, prev_mac = head(conn)
        stamp, epoch = time_fields(now)
        row = {**fields, "seq": last_seq + 1, "time": stamp, "time_epoch": epoch, "prev_mac": prev_mac}
        row["mac"] = signer.record_mac(row)
        conn.execute(_INSERT, [row[c] for c in COLUMNS])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return last_seq + 1, str(row["mac"])


def insert_rows(conn: sqlite3.Connection, rows: list[dict[str, object]]) -> None:
    """Insert fully built rows (seq, macs and all) in the caller's transaction; for bulk loads."""
    conn.executemany(_INSERT, ([row[c] for c in COLUMNS] for row in rows))


# -- queries ------------------------------------------------------------------------------------------


def epoch_of(bound: TimeBound) -> float:
    """Seconds since the epoch; a naive datetime is taken as UTC, like every time in the log."""
    if isinstance(bound, datetime):
        return (bound if bound.tzinfo else bound.replace(tzinfo=UTC)).timestamp()
    return float(bound)


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True)
class Selection:
    """The FROM and WHERE of a filtered query, its parameters and the column to order by."""

    sql: str
    params: tuple[object, ...]
    order: str


#: A time range spanning at most this many records is served from the time index (an index-only scan of the
#: range, then rows in seq order); a wider one by walking seq downwards, where recent matches come first.
TIME_INDEX_SPAN = 100_000


def time_span(conn: sqlite3.Connection, flt: AuditFilter) -> int | None:
    """About how many records lie in the filter's time range (None without one); two index probes."""
    if flt.since is None and flt.until is None:
        return None
    low = conn.execute(
        "SELECT seq FROM records WHERE time_epoch >= ? ORDER BY time_epoch LIMIT 1", (epoch_of(flt.since),)
    ).fetchone() if flt.since is not None else conn.execute("SELECT min(seq) FROM records").fetchone()
    high = conn.execute(
        "SELECT seq FROM records WHERE time_epoch < ? ORDER BY time_epoch DESC LIMIT 1", (epoch_of(flt.until),)
    ).fetchone() if flt.until is not None else conn.execute("SELECT max(seq) FROM records").fetchone()
    if not low or not high or low[0] is None or high[0] is None:
        return 0
    # Only an estimate when the clock went backwards at some point; the query stays exact either way.
    return abs(int(high[0]) - int(low[0])) + 1


def select(
    flt: AuditFilter,
    *,
    text_index: bool,
    span: int | None = None,
    before_seq: int | None = None,
    outcomes_only: bool = False,
) -> Selection:
    """Translate a filter into SQL that the indexes serve (newest-first by ``order``); ``span`` from time_span."""
    clauses: list[str] = ["records.status != 'started'"] if outcomes_only else []
    params: list[object] = []
    _field_clauses(flt, clauses, params, by_time_index=span is not None and span <= TIME_INDEX_SPAN)
    source, order = "records", "records.seq"
    if flt.text and text_index and len(flt.text) >= 3:
        # Drive the query from the FTS index in descending rowid order, so LIMIT stops it early.
        source, order = "records_text JOIN records ON records.seq = records_text.rowid", "records_text.rowid"
        clauses.append("records_text MATCH ?")
        params.append('"' + flt.text.replace('"', '""') + '"')
    elif flt.text:
        like = "LIKE ? ESCAPE '\\'"
        clauses.append(f"(records.command {like} OR records.path {like} OR records.message {like})")
        params.extend([_like_pattern(flt.text)] * 3)
    if before_seq is not None:
        clauses.append(f"{order} < ?")
        params.append(before_seq)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return Selection(f"FROM {source}{where}", tuple(params), order)


def _field_clauses(flt: AuditFilter, clauses: list[str], params: list[object], *, by_time_index: bool) -> None:
    """Equality and time-range conditions; each has an index of its own."""
    for column, value in (("actor", flt.actor), ("tool", flt.tool), ("status", flt.status),
                          ("session_id", flt.session_id)):
        if value is not None:
            clauses.append(f"records.{column} = ?")
            params.append(value)
    times: list[str] = []
    if flt.since is not None:
        times.append("time_epoch >= ?")
        params.append(epoch_of(flt.since))
    if flt.until is not None:
        times.append("time_epoch < ?")
        params.append(epoch_of(flt.until))
    if times and by_time_index:
        # The seqs in the range come sorted from the index alone; SQLite then walks them newest first.
        inner = " AND ".join(times)
        clauses.append(f"records.seq IN (SELECT seq FROM records INDEXED BY records_by_time WHERE {inner})")
    else:
        clauses.extend(f"records.{condition}" for condition in times)


def list_records(conn: sqlite3.Connection, sel: Selection, limit: int) -> list[AuditRecord]:
    rows = conn.execute(f"SELECT {SELECT_COLUMNS} {sel.sql} ORDER BY {sel.order} DESC LIMIT ?", (*sel.params, limit))
    return [AuditRecord(*row) for row in rows]


def get_record(conn: sqlite3.Connection, seq: int) -> AuditRecord | None:
    row = conn.execute(f"SELECT {SELECT_COLUMNS} FROM records WHERE seq = ?", (seq,)).fetchone()
    return AuditRecord(*row) if row else None


def count_records(conn: sqlite3.Connection, sel: Selection) -> int:
    return int(conn.execute(f"SELECT count(*) {sel.sql}", sel.params).fetchone()[0])
