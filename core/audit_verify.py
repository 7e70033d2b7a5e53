"""Checking the audit log: every MAC, every link, no gaps, and the tail against the anchor.

The walk goes up in seq order from the newest checkpoint (or from GENESIS) and stops at the first problem,
which it names exactly: the record, and whether it changed, went missing, moved or was cut off. The anchor is
read before the database snapshot is taken, so a record committed during the check can only put the
database ahead of the anchor (accepted), never behind it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.audit_chain import GENESIS, Anchor, AnchorUnreadable, Signer, read_anchor
from core.audit_query import SELECT_COLUMNS
from core.audit_store import Checkpoint, latest_checkpoint
from core.audit_types import COLUMNS, VerifyReport

#: How far from its place a moved record is looked for when its MAC fails (besides its chain neighbours).
_MOVE_WINDOW = 16
#: Records between two calls of a progress callback.
PROGRESS_EVERY = 10_000

#: Told (records checked, records to check) as the walk goes; may raise to stop it (the exception propagates).
Progress = Callable[[int, int], None]


class _Broken(Exception):
    """The first problem found; carries the seq to blame (if any) and the sentence for the user."""

    def __init__(self, seq: int | None, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


@dataclass
class _Walk:
    """Where the walk is: the seq and prev_mac the next record must carry, and what was seen."""

    expected_seq: int
    prev_mac: str
    checked: int = 0
    notes: list[str] = field(default_factory=list)


def verify_log(conn: sqlite3.Connection, signer: Signer | None, key_problem: str, anchor_path: Path,
               progress: Progress | None = None) -> VerifyReport:
    """Verify the whole log through ``conn`` (a connection of its own: the walk holds a read snapshot).

    ``progress`` is told how far the walk is every PROGRESS_EVERY records, and once at the start.
    """
    if signer is None:
        return VerifyReport(False, 0, None, key_problem)
    try:
        anchor, anchor_problem = read_anchor(anchor_path), ""
    except AnchorUnreadable as err:
        anchor, anchor_problem = None, str(err)
    walk = _Walk(1, GENESIS)
    conn.execute("BEGIN")  # one snapshot for the walk and the anchor check
    try:
        try:
            _start(conn, signer, walk)
            total = max(0, _newest_seq(conn) - walk.expected_seq + 1)
            if progress is not None:
                progress(0, total)
            for fields in _rows(conn):
                _check_record(conn, signer, walk, fields)
                if progress is not None and walk.checked % PROGRESS_EVERY == 0:
                    progress(walk.checked, total)
            _check_anchor(conn, signer, walk, anchor, anchor_problem, anchor_path)
        except _Broken as broken:
            return VerifyReport(False, walk.checked, broken.seq, broken.problem, tuple(walk.notes))
    finally:
        conn.execute("ROLLBACK")
    return VerifyReport(True, walk.checked, None, "", tuple(walk.notes))


def _newest_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(seq) FROM records").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _rows(conn: sqlite3.Connection) -> Iterator[dict[str, object]]:
    for row in conn.execute(f"SELECT {SELECT_COLUMNS} FROM records ORDER BY seq"):
        yield dict(zip(COLUMNS, row, strict=True))


def _start(conn: sqlite3.Connection, signer: Signer, walk: _Walk) -> None:
    """Begin after the newest checkpoint, if records were pruned, once its own MAC holds."""
    checkpoint = latest_checkpoint(conn)
    if checkpoint is None:
        return
    if signer.labelled_mac("checkpoint", checkpoint.fields()) != checkpoint.checkpoint_mac:
        raise _Broken(None, f"checkpoint {checkpoint.id} (seq {checkpoint.seq}) changed (MAC mismatch)")
    walk.expected_seq, walk.prev_mac = checkpoint.seq + 1, checkpoint.mac
    walk.notes.append(f"{checkpoint.pruned:,} records pruned before seq {checkpoint.seq + 1} at {checkpoint.time}")


def _check_record(conn: sqlite3.Connection, signer: Signer, walk: _Walk, fields: dict[str, object]) -> None:
    seq = _int(fields["seq"])
    if seq < walk.expected_seq:
        raise _Broken(seq, f"record {seq}: present although the checkpoint says it was pruned")
    if seq > walk.expected_seq:
        first, last = walk.expected_seq, seq - 1
        which = f"record {first}" if first == last else f"records {first}-{last}"
        raise _Broken(first, f"{which}: missing (sequence jumps from {first - 1} to {seq})")
    if signer.record_mac(fields) != fields["mac"]:
        raise _Broken(seq, _explain_mismatch(conn, signer, fields))
    if fields["prev_mac"] != walk.prev_mac:
        raise _Broken(seq, f"record {seq}: prev_mac does not link to record {seq - 1} (inserted or reordered)")
    walk.checked += 1
    walk.expected_seq = seq + 1
    walk.prev_mac = str(fields["mac"])


def _explain_mismatch(conn: sqlite3.Connection, signer: Signer, fields: dict[str, object]) -> str:
    """A failing record was either changed or moved: a moved one still verifies under its original seq."""
    seq = _int(fields["seq"])
    for origin in _origins(conn, fields):
        if origin == seq or signer.record_mac({**fields, "seq": origin}) != fields["mac"]:
            continue
        low, high = sorted((seq, origin))
        if _holds(conn, signer, origin, seq):
            return f"records {low}-{high} out of order" if high == low + 1 else f"records {low} and {high} swapped"
        return f"record {seq}: out of order (holds the record written as {origin})"
    return f"record {seq}: content changed (MAC mismatch)"


def _origins(conn: sqlite3.Connection, fields: dict[str, object]) -> list[int]:
    """Seqs the record may have been written under: nearby ones and those its chain neighbours imply."""
    seq = _int(fields["seq"])
    found = list(range(max(1, seq - _MOVE_WINDOW), seq + _MOVE_WINDOW + 1))
    # Unindexed lookups, but they run only once, after a failure.
    after = conn.execute("SELECT seq FROM records WHERE prev_mac = ? LIMIT 1", (fields["mac"],)).fetchone()
    before = conn.execute("SELECT seq FROM records WHERE mac = ? LIMIT 1", (fields["prev_mac"],)).fetchone()
    found += [after[0] - 1] if after else []
    found += [before[0] + 1] if before else []
    return found


def _holds(conn: sqlite3.Connection, signer: Signer, seq: int, origin: int) -> bool:
    """True when the record stored at ``seq`` verifies as the one written at ``origin``."""
    row = conn.execute(f"SELECT {SELECT_COLUMNS} FROM records WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        return False
    fields = dict(zip(COLUMNS, row, strict=True))
    return bool(signer.record_mac({**fields, "seq": origin}) == fields["mac"])


def _check_anchor(
    conn: sqlite3.Connection, signer: Signer, walk: _Walk, anchor: Anchor | None, problem: str, path: Path
) -> None:
    last_seq = walk.expected_seq - 1
    if problem:
        raise _Broken(None, problem)
    if anchor is None:
        if last_seq > 0:
            raise _Broken(None, f"anchor missing: {path} (without it a cut-off tail cannot be detected)")
        return
    if signer.labelled_mac("anchor", anchor.fields()) != anchor.anchor_mac:
        raise _Broken(None, f"anchor changed (MAC mismatch): {path}")
    if anchor.seq > last_seq:
        raise _Broken(
            last_seq + 1,
            f"tail truncated: anchor says the log reaches record {anchor.seq}, database ends at record {last_seq}",
        )
    _check_anchored_record(conn, anchor, latest_checkpoint(conn))
    if last_seq > anchor.seq:
        walk.notes.append(
            f"{last_seq - anchor.seq} record(s) after the anchor (seq {anchor.seq}): normal after a crash, "
            "the next write moves the anchor"
        )


def _check_anchored_record(conn: sqlite3.Connection, anchor: Anchor, checkpoint: Checkpoint | None) -> None:
    """The record the anchor names must be the one in the database (unless it has been pruned since)."""
    if checkpoint is not None and anchor.seq <= checkpoint.seq:
        if anchor.seq == checkpoint.seq and anchor.mac != checkpoint.mac:
            raise _Broken(None, f"checkpoint at seq {checkpoint.seq} does not match the anchor")
        return
    if anchor.seq == 0:
        return
    row = conn.execute("SELECT mac FROM records WHERE seq = ?", (anchor.seq,)).fetchone()
    if row is None or row[0] != anchor.mac:
        raise _Broken(anchor.seq, f"record {anchor.seq}: does not match the anchor (log rewritten)")


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value
