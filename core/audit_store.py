"""The audit log's SQLite storage: schema, connections, appending one chained record.

Durability. The database is in WAL mode, and each record is its own transaction, taken with BEGIN IMMEDIATE so
that the head read and the insert cannot interleave with another writer (another sandchat process included).

* ``durability="normal"`` (the default) is ``synchronous=NORMAL``: a COMMIT appends the record to the WAL file
  without waiting for the disk, and the WAL is fsynced at each checkpoint. A committed record survives the
  process being killed at any moment (what is in the WAL is in the operating system's hands), so a killed
  sandchat leaves a log that opens and verifies up to its last committed record. Only an OS crash or a power
  cut can lose records: those committed since the last checkpoint (the log checkpoints every few hundred
  records, see core/audit.py); verify then reports the tail as cut off against the anchor, which is what
  happened. A durable commit costs an fsync (0.5 ms here), half of the budget of an operation, and an
  operation writes two records.
* ``durability="full"`` is ``synchronous=FULL`` (the WAL is fsynced at every COMMIT) plus an fsynced anchor:
  a record is on disk when its write returns, power cut included.

Clock steps. Records are in seq order, and their times nearly so; a clock set back makes a record older than
one written before it. Such records are listed in ``records_backdated`` when they are appended, which lets a
time range be turned into exact seq bounds (core/audit_query.py).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from core import audit_text
from core.audit_chain import GENESIS, Signer
from core.audit_types import COLUMNS

SCHEMA_VERSION = 2

# Schema 1 -> 2: the text index is no longer kept by an insert trigger and its columns end with END (so it is
# emptied and rebuilt), and records_backdated is new.
_TABLES = (
    """CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY, time TEXT NOT NULL, time_epoch REAL NOT NULL, session_id TEXT NOT NULL,
        op_id INTEGER, actor TEXT NOT NULL, tool TEXT NOT NULL, command TEXT NOT NULL, path TEXT NOT NULL,
        decision TEXT NOT NULL, decision_reason TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
        exit_code INTEGER, duration_ms REAL, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
        content_size INTEGER, content_sha256 TEXT, backend TEXT NOT NULL, sandbox_id TEXT NOT NULL,
        isolation TEXT NOT NULL, policy_hash TEXT NOT NULL, findings TEXT NOT NULL,
        prev_mac TEXT NOT NULL, mac TEXT NOT NULL
    )""",
    # (column, seq) indexes hand back a filtered first page newest-first without sorting.
    "CREATE INDEX IF NOT EXISTS records_by_tool ON records(tool, seq)",
    "CREATE INDEX IF NOT EXISTS records_by_status ON records(status, seq)",
    "CREATE INDEX IF NOT EXISTS records_by_actor ON records(actor, seq)",
    "CREATE INDEX IF NOT EXISTS records_by_session ON records(session_id, seq)",
    "CREATE INDEX IF NOT EXISTS records_by_time ON records(time_epoch)",
    """CREATE TABLE IF NOT EXISTS checkpoints (
        id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, mac TEXT NOT NULL, pruned INTEGER NOT NULL,
        time TEXT NOT NULL, checkpoint_mac TEXT NOT NULL
    )""",
    # Records stamped earlier than a record before them; derived data, like the indexes (not MACed).
    "CREATE TABLE IF NOT EXISTS records_backdated (seq INTEGER PRIMARY KEY, time_epoch REAL NOT NULL)",
    """INSERT OR IGNORE INTO records_backdated (seq, time_epoch)
        SELECT seq, time_epoch FROM (
            SELECT seq, time_epoch,
                   max(time_epoch) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest
            FROM records
        ) WHERE time_epoch < latest""",
)

_INSERT = f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
_INSERT_BACKDATED = "INSERT INTO records_backdated (seq, time_epoch) VALUES (?, ?)"
# The head to chain to, and the latest time so far (from the time index), in one statement.
_HEAD = "SELECT seq, mac, (SELECT max(time_epoch) FROM records) FROM records ORDER BY seq DESC LIMIT 1"

Durability = Literal["normal", "full"]


class SchemaTooNew(Exception):
    """The database was written by a newer sandchat."""


def connect(path: Path, durability: Durability = "normal") -> sqlite3.Connection:
    """A connection to the log at ``path`` (created 0o600 if new) in WAL mode, synchronous as ``durability`` says."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL" if durability == "full" else "PRAGMA synchronous=NORMAL")
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    if _version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _version(conn)  # another connection may have got here first
        if version < SCHEMA_VERSION:
            _upgrade(conn, version)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection) -> int:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(f"schema version {version} is newer than this sandchat understands ({SCHEMA_VERSION})")
    return version


def _upgrade(conn: sqlite3.Connection, version: int) -> None:
    for statement in _TABLES:
        conn.execute(statement)
    try:
        for statement in audit_text.SCHEMA:
            conn.execute(statement)
    except sqlite3.OperationalError:
        pass  # no FTS5 or no trigram tokenizer in this SQLite: text search scans with LIKE instead
    else:
        if version == 1:
            audit_text.rebuild(conn)
        audit_text.index_new(conn)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


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
    seq, mac, _ = _head(conn)
    return seq, mac


def _head(conn: sqlite3.Connection) -> tuple[int, str, float | None]:
    row = conn.execute(_HEAD).fetchone()
    if row:
        return int(row[0]), str(row[1]), float(row[2])
    checkpoint = latest_checkpoint(conn)
    return (checkpoint.seq, checkpoint.mac, None) if checkpoint else (0, GENESIS, None)


def time_fields(timestamp: float) -> tuple[str, float]:
    """UTC ISO-8601 with microseconds and the same instant as epoch seconds (both exact to the microsecond)."""
    micros = round(timestamp * 1_000_000)
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.isoformat(timespec="microseconds"), micros / 1_000_000


class TailMismatch(Exception):
    """The record the writer last knew of (from the anchor or its own last append) is gone or changed."""


def append(
    conn: sqlite3.Connection,
    signer: Signer,
    fields: Mapping[str, object],
    now: float,
    *,
    expect: tuple[int, str] | None = None,
) -> tuple[int, str]:
    """Chain and insert one record in its own transaction; returns its seq and mac once committed.

    ``expect`` is the (seq, mac) of a record known to have been committed: if the database no longer holds it,
    records were cut off (or changed) and appending would hide that, because the new record would chain to
    whatever is left; TailMismatch is raised and nothing is written.
    """
    stamp, epoch = time_fields(now)
    conn.execute("BEGIN IMMEDIATE")
    try:
        last_seq, prev_mac, latest = _head(conn)
        if expect is not None:
            _check_expected(conn, last_seq, expect)
        seq = last_seq + 1
        row = {**fields, "seq": seq, "time": stamp, "time_epoch": epoch, "prev_mac": prev_mac}
        mac = signer.record_mac(row)
        row["mac"] = mac
        conn.execute(_INSERT, [row[c] for c in COLUMNS])
        if latest is not None and epoch < latest:
            conn.execute(_INSERT_BACKDATED, (seq, epoch))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return seq, mac


def _check_expected(conn: sqlite3.Connection, last_seq: int, expect: tuple[int, str]) -> None:
    seq, mac = expect
    if last_seq < seq:
        raise TailMismatch(f"record {seq} was written, but the log now ends at record {last_seq}")
    row = conn.execute("SELECT mac FROM records WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        checkpoint = latest_checkpoint(conn)
        if checkpoint is None or checkpoint.seq < seq:  # pruned records are covered by their checkpoint
            raise TailMismatch(f"record {seq} is missing")
    elif row[0] != mac:
        raise TailMismatch(f"record {seq} is not the one that was written")


def insert_rows(conn: sqlite3.Connection, rows: list[dict[str, object]]) -> None:
    """Insert fully built rows (seq, macs and all), in seq order, in the caller's transaction; for bulk loads."""
    latest = _head(conn)[2]
    backdated: list[tuple[object, float]] = []
    for row in rows:
        epoch = row["time_epoch"]
        assert isinstance(epoch, float)
        if latest is not None and epoch < latest:
            backdated.append((row["seq"], epoch))
        latest = epoch if latest is None else max(latest, epoch)
    conn.executemany(_INSERT, ([row[c] for c in COLUMNS] for row in rows))
    conn.executemany(_INSERT_BACKDATED, backdated)
