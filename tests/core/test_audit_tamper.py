"""Tampering with the log, as journald's and CloudTrail's checks are tested: each edit is caught where it is made.

The attacker here has the database (plain sqlite3) and the anchor file, but not the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.audit import AuditLog
from core.audit_chain import Signer, write_anchor
from core.audit_types import COLUMNS
from core.commands import ReadFile
from core.errors import SandchatError
from tests.core.test_audit_helpers import FakeClock, fill, open_log, raw_db, result

RECORDS = 200
START = 1_700_000_000.0


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed log of 200 records, one a minute (written once, copied for each test)."""
    path = tmp_path_factory.mktemp("template")
    log = open_log(path, clock=FakeClock(start=START, step=60.0))
    fill(log, RECORDS)
    log.close()
    return path


@pytest.fixture
def data(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template log for one test to tamper with."""
    return Path(shutil.copytree(template, tmp_path / "log"))


def verify(data: Path) -> tuple[bool, int | None, str]:
    log = open_log(data)
    try:
        report = log.verify()
    finally:
        log.close()
    return report.ok, report.first_bad_seq, report.problem


def flip(value: object) -> object:
    """The same value with one byte (character or digit) changed."""
    if isinstance(value, str):
        ch = value[len(value) // 2] if value else "x"
        changed = "a" if ch != "a" else "b"
        return value[: len(value) // 2] + changed + value[len(value) // 2 + 1 :] if value else "x"
    if isinstance(value, float):
        return value + 1e-6
    if isinstance(value, int):
        return value ^ 1
    return 0  # NULL becomes a value


def test_an_untouched_log_verifies(data: Path) -> None:
    assert verify(data) == (True, None, "")


@pytest.mark.parametrize("k", [1, 2, 77, 150, RECORDS])
@pytest.mark.parametrize(
    "column", ["time", "time_epoch", "actor", "command", "path", "status", "message", "duration_ms", "exit_code",
               "content_sha256", "findings", "sandbox_id", "prev_mac", "mac"],
)
def test_one_changed_byte_in_any_field_is_caught_at_that_record(data: Path, k: int, column: str) -> None:
    with raw_db(data) as db:
        (value,) = db.execute(f"SELECT {column} FROM records WHERE seq = ?", (k,)).fetchone()
        db.execute(f"UPDATE records SET {column} = ? WHERE seq = ?", (flip(value), k))
    ok, first_bad, problem = verify(data)
    assert (ok, first_bad) == (False, k)
    assert problem == f"record {k}: content changed (MAC mismatch)"


@pytest.mark.parametrize("k", [1, 100, RECORDS - 1])
def test_a_deleted_record_is_caught_at_its_seq(data: Path, k: int) -> None:
    with raw_db(data) as db:
        db.execute("DELETE FROM records WHERE seq = ?", (k,))
    assert verify(data) == (False, k, f"record {k}: missing (sequence jumps from {k - 1} to {k + 1})")


def test_deleted_runs_of_records_are_named_as_a_range(data: Path) -> None:
    with raw_db(data) as db:
        db.execute("DELETE FROM records WHERE seq BETWEEN 40 AND 45")
    assert verify(data) == (False, 40, "records 40-45: missing (sequence jumps from 39 to 46)")


def forged_row(db_row: tuple[object, ...], seq: int, prev_mac: str) -> list[object]:
    """A record as a forger without the key would write it: plausible fields, a plain SHA-256 'mac'."""
    doc = dict(zip(COLUMNS, db_row, strict=True))
    doc.update(seq=seq, command="delete file:evidence.txt", prev_mac=prev_mac)
    body = json.dumps({k: v for k, v in doc.items() if k != "mac"}, sort_keys=True).encode()
    doc["mac"] = hashlib.sha256(prev_mac.encode() + body).hexdigest()
    return [doc[c] for c in COLUMNS]


def insert(db: object, row: list[object]) -> None:
    placeholders = ", ".join("?" for _ in COLUMNS)
    db.execute(f"INSERT INTO records ({', '.join(COLUMNS)}) VALUES ({placeholders})", row)  # type: ignore[attr-defined]


@pytest.mark.parametrize("k", [1, 90, RECORDS])
def test_an_inserted_record_is_caught_where_it_was_put(data: Path, k: int) -> None:
    with raw_db(data) as db:
        db.execute("UPDATE records SET seq = -seq WHERE seq >= ?", (k,))  # make room, keeping the order
        db.execute("UPDATE records SET seq = 1 - seq WHERE seq < 0")
        row = db.execute("SELECT * FROM records WHERE seq = ?", (k + 1,)).fetchone()
        before = db.execute("SELECT mac FROM records WHERE seq = ?", (k - 1,)).fetchone()
        insert(db, forged_row(row, k, before[0] if before else "0" * 64))
    ok, first_bad, problem = verify(data)
    assert (ok, first_bad) == (False, k)
    assert problem.startswith(f"record {k}:")


def test_a_record_appended_without_the_key_is_caught(data: Path) -> None:
    with raw_db(data) as db:
        last = db.execute("SELECT * FROM records WHERE seq = ?", (RECORDS,)).fetchone()
        insert(db, forged_row(last, RECORDS + 1, str(last[COLUMNS.index("mac")])))
    assert verify(data) == (False, RECORDS + 1, f"record {RECORDS + 1}: content changed (MAC mismatch)")


def swap(db: object, a: int, b: int) -> None:
    """Exchange everything but the seq of two records."""
    columns = [c for c in COLUMNS if c != "seq"]
    rows = {s: db.execute(f"SELECT {', '.join(columns)} FROM records WHERE seq = ?", (s,)).fetchone()  # type: ignore[attr-defined]
            for s in (a, b)}
    assignments = ", ".join(f"{c} = ?" for c in columns)
    for target, source in ((a, b), (b, a)):
        db.execute(f"UPDATE records SET {assignments} WHERE seq = ?", (*rows[source], target))  # type: ignore[attr-defined]


def test_two_neighbours_swapped_are_reported_out_of_order(data: Path) -> None:
    with raw_db(data) as db:
        swap(db, 40, 41)
    assert verify(data) == (False, 40, "records 40-41 out of order")


def test_two_distant_records_swapped_are_named(data: Path) -> None:
    with raw_db(data) as db:
        swap(db, 30, 170)
    assert verify(data) == (False, 30, "records 30 and 170 swapped")


def test_a_record_moved_over_another_is_named(data: Path) -> None:
    with raw_db(data) as db:
        columns = [c for c in COLUMNS if c != "seq"]
        values = db.execute(f"SELECT {', '.join(columns)} FROM records WHERE seq = 12").fetchone()
        db.execute(f"UPDATE records SET {', '.join(f'{c} = ?' for c in columns)} WHERE seq = 60", values)
    assert verify(data) == (False, 60, "record 60: out of order (holds the record written as 12)")


@pytest.mark.parametrize("cut", [1, 10, RECORDS])
def test_a_cut_off_tail_is_caught_against_the_anchor(data: Path, cut: int) -> None:
    with raw_db(data) as db:
        db.execute("DELETE FROM records WHERE seq > ?", (RECORDS - cut,))
    last = RECORDS - cut
    assert verify(data) == (
        False,
        last + 1,
        f"tail truncated: anchor says the log reaches record {RECORDS}, database ends at record {last}",
    )


@pytest.mark.parametrize("k", [1, 123])
def test_a_chain_recomputed_with_plain_sha256_is_caught_at_the_first_forged_record(data: Path, k: int) -> None:
    with raw_db(data) as db:
        db.execute("UPDATE records SET message = 'nothing happened' WHERE seq = ?", (k,))
        prev = db.execute("SELECT mac FROM records WHERE seq = ?", (k - 1,)).fetchone()
        prev_mac = prev[0] if prev else "0" * 64
        for row in db.execute("SELECT * FROM records WHERE seq >= ? ORDER BY seq", (k,)).fetchall():
            doc = dict(zip(COLUMNS, row, strict=True))
            doc["prev_mac"] = prev_mac
            body = json.dumps({c: v for c, v in doc.items() if c not in ("mac", "prev_mac")}, sort_keys=True)
            mac = hashlib.sha256(prev_mac.encode() + body.encode()).hexdigest()
            db.execute("UPDATE records SET prev_mac = ?, mac = ? WHERE seq = ?", (prev_mac, mac, doc["seq"]))
            prev_mac = mac
        anchor = json.loads((data / "audit.anchor").read_text())
        anchor["mac"] = prev_mac
        (data / "audit.anchor").write_text(json.dumps(anchor))
    assert verify(data) == (False, k, f"record {k}: content changed (MAC mismatch)")


def test_a_validly_signed_record_that_does_not_link_is_caught(data: Path) -> None:
    # Only possible with the key (an insider, or records spliced in from another log under the same key).
    signer = Signer((data / "audit.key").read_bytes())
    with raw_db(data) as db:
        row = dict(zip(COLUMNS, db.execute("SELECT * FROM records WHERE seq = 17").fetchone(), strict=True))
        row["prev_mac"] = "e" * 64
        db.execute("UPDATE records SET prev_mac = ?, mac = ? WHERE seq = 17", (row["prev_mac"], signer.record_mac(row)))
    assert verify(data) == (False, 17, "record 17: prev_mac does not link to record 16 (inserted or reordered)")


def test_a_different_key_fails_at_the_first_record(data: Path) -> None:
    (data / "audit.key").write_bytes(os.urandom(32))
    assert verify(data) == (False, 1, "record 1: content changed (MAC mismatch)")


def test_a_missing_or_edited_anchor_is_a_problem(data: Path) -> None:
    anchor_path = data / "audit.anchor"
    original = anchor_path.read_text()
    anchor_path.write_text(original.replace(f'"seq": {RECORDS}', f'"seq": {RECORDS - 5}'))
    assert verify(data) == (False, None, f"anchor changed (MAC mismatch): {anchor_path}")
    anchor_path.write_text("{not json")
    assert verify(data)[2] == f"anchor damaged: {anchor_path} is not a valid anchor"
    anchor_path.unlink()
    ok, first_bad, problem = verify(data)
    assert (ok, first_bad) == (False, None) and problem.startswith("anchor missing")


def test_an_empty_log_without_an_anchor_is_fine(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    report = log.verify()
    log.close()
    assert (report.ok, report.records_checked, report.problem) == (True, 0, "")


def test_a_database_ahead_of_its_anchor_is_normal_after_a_crash(data: Path) -> None:
    old_anchor = (data / "audit.anchor").read_text()
    log = open_log(data)
    log.after(result(ReadFile("late.txt")))
    log.close()
    (data / "audit.anchor").write_text(old_anchor)  # as if killed between the commit and the anchor write
    log = open_log(data)
    report = log.verify()
    assert report.ok and report.records_checked == RECORDS + 1
    assert report.notes == (f"1 record(s) after the anchor (seq {RECORDS}): normal after a crash, "
                            "the next write moves the anchor",)
    log.after(result(ReadFile("next.txt")))
    assert log.verify().notes == ()
    log.close()


def test_the_anchor_must_match_the_record_it_names(data: Path) -> None:
    # Only a key holder can sign an anchor; this is one left over from another copy of the log.
    signer = Signer((data / "audit.key").read_bytes())
    write_anchor(data / "audit.anchor", RECORDS - 3, "f" * 64, signer)
    assert verify(data) == (False, RECORDS - 3, f"record {RECORDS - 3}: does not match the anchor (log rewritten)")


# -- pruning ---------------------------------------------------------------------------------------


def prune(data: Path, minutes: int) -> AuditLog:
    log = open_log(data, clock=FakeClock(start=START + 60 * 1000))
    log.prune(datetime.fromtimestamp(START + 60 * minutes + 30, UTC))
    return log


def test_pruning_keeps_the_rest_verifiable_and_says_what_went(data: Path) -> None:
    log = prune(data, 50)  # records 1..50 are stamped before minute 50:30
    assert log.count() == RECORDS - 50 and log.get(50) is None and log.get(51) is not None
    report = log.verify()
    assert report.ok and report.records_checked == RECORDS - 50
    assert report.notes[0].startswith("50 records pruned before seq 51 at ")
    log.after(result(ReadFile("after-prune.txt")))
    again = log.prune(datetime.fromtimestamp(START + 60 * 100 + 30, UTC))
    assert (again.deleted, again.checkpoint_seq, again.total_pruned) == (50, 100, 100)
    assert log.verify().ok and log.last_seq == RECORDS + 1
    log.close()


def test_pruning_everything_keeps_the_seq_going(data: Path) -> None:
    log = prune(data, 10_000)
    assert log.count() == 0 and log.verify().ok and log.last_seq == RECORDS
    log.after(result(ReadFile("x")))
    assert log.list()[0].seq == RECORDS + 1 and log.verify().ok
    log.close()


def test_deleting_the_first_record_after_a_checkpoint_is_caught(data: Path) -> None:
    prune(data, 50).close()
    with raw_db(data) as db:
        db.execute("DELETE FROM records WHERE seq = 51")
    assert verify(data) == (False, 51, "record 51: missing (sequence jumps from 50 to 52)")


def test_a_forged_or_removed_checkpoint_is_caught(data: Path) -> None:
    prune(data, 50).close()
    with raw_db(data) as db:
        db.execute("UPDATE checkpoints SET pruned = 1")
    assert verify(data) == (False, None, "checkpoint 1 (seq 50) changed (MAC mismatch)")
    with raw_db(data) as db:
        db.execute("DELETE FROM checkpoints")
    assert verify(data) == (False, 1, "records 1-50: missing (sequence jumps from 0 to 51)")


def test_a_log_that_does_not_verify_is_not_pruned(data: Path) -> None:
    with raw_db(data) as db:
        db.execute("UPDATE records SET message = 'x' WHERE seq = 10")
    log = open_log(data)
    with pytest.raises(SandchatError, match="record 10: content changed"):
        log.prune(datetime.fromtimestamp(START + 60 * 100, UTC))
    assert log.count() == RECORDS
    log.close()



@pytest.mark.parametrize("reopen", [True, False], ids=["between-runs", "while-open"])
def test_a_cut_tail_is_never_hidden_by_the_next_append(tmp_path: Path, reopen: bool) -> None:
    log = open_log(tmp_path)
    for _ in range(10):
        log.after(result(ReadFile("a.txt")))
    if reopen:
        log.close()
    with raw_db(tmp_path) as db:
        db.execute("DELETE FROM records WHERE seq > 7")
    if reopen:
        log = open_log(tmp_path)
    cut = "was cut or changed: record 10 was written, but the log now ends at record 7"
    with pytest.raises(SandchatError, match=cut):
        log.after(result(ReadFile("b.txt")))
    log.close()
    ok, first_bad, problem = verify(tmp_path)
    assert not ok and "truncated" in problem


def test_verify_tells_its_progress_and_a_callback_can_stop_it(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.audit_verify

    monkeypatch.setattr(core.audit_verify, "PROGRESS_EVERY", 50)
    told: list[tuple[int, int]] = []
    log = open_log(data)
    try:
        report = log.verify(lambda checked, total: told.append((checked, total)))
        assert report.ok and report.records_checked == RECORDS
        assert told == [(0, RECORDS), (50, RECORDS), (100, RECORDS), (150, RECORDS), (200, RECORDS)]

        class Stop(Exception):
            pass

        def stop_at_100(checked: int, total: int) -> None:
            if checked >= 100:
                raise Stop

        with pytest.raises(Stop):
            log.verify(stop_at_100)
        log.after(result(ReadFile("a.txt")))  # the stopped walk's snapshot was let go: the log still writes
        assert log.verify().ok and log.last_seq == RECORDS + 1
    finally:
        log.close()
