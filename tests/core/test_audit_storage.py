"""How the audit log stores things: durability modes, the anchor written in place, the schema upgrade."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from core import audit_store
from core.audit import AuditFilter, AuditLog
from core.audit_chain import ANCHOR_BYTES, Signer, read_anchor, write_anchor
from core.commands import ReadFile
from tests.core.test_audit_helpers import CONTEXT, FakeClock, fill, open_log, raw_db, result


@pytest.mark.parametrize(("durability", "synchronous"), [("normal", 1), ("full", 2)])
def test_durability_chooses_how_commits_wait_for_the_disk(tmp_path: Path, durability: str, synchronous: int) -> None:
    log = AuditLog.open(tmp_path, CONTEXT, durability=durability)  # type: ignore[arg-type]
    assert log._conn.execute("PRAGMA synchronous").fetchone()[0] == synchronous
    log.after(result(ReadFile("a")))
    assert log.verify().ok
    log.close()
    with pytest.raises(ValueError, match="durability"):
        AuditLog.open(tmp_path, CONTEXT, durability="fast")  # type: ignore[arg-type]


def test_the_anchor_is_rewritten_in_place_and_names_every_record(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    inode = (tmp_path / "audit.anchor").stat().st_ino
    for expected in (2, 3):
        log.after(result(ReadFile("b")))
        anchor = read_anchor(tmp_path / "audit.anchor")
        assert anchor is not None and anchor.seq == expected
    assert (tmp_path / "audit.anchor").stat().st_ino == inode
    assert (tmp_path / "audit.anchor").stat().st_size == ANCHOR_BYTES
    assert log.verify().notes == ()
    log.close()


def test_with_full_durability_the_anchor_is_replaced(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path, CONTEXT, durability="full")
    log.after(result(ReadFile("a")))
    inode = (tmp_path / "audit.anchor").stat().st_ino
    log.after(result(ReadFile("b")))
    assert (tmp_path / "audit.anchor").stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    log.close()


def test_a_symlinked_anchor_is_replaced_never_written_through(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    victim = tmp_path.parent / "victim.txt"
    victim.write_bytes(b"x" * ANCHOR_BYTES)
    (tmp_path / "audit.anchor").unlink()
    (tmp_path / "audit.anchor").symlink_to(victim)
    log.after(result(ReadFile("b")))
    assert victim.read_bytes() == b"x" * ANCHOR_BYTES
    assert not (tmp_path / "audit.anchor").is_symlink()
    assert log.verify().ok
    log.close()


def test_an_anchor_of_another_size_is_replaced_whole(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    anchor = tmp_path / "audit.anchor"
    anchor.write_bytes(anchor.read_bytes() + b" " * 1000)  # still a valid anchor, just longer
    log.after(result(ReadFile("b")))
    assert anchor.stat().st_size == ANCHOR_BYTES
    assert log.verify().notes == ()
    log.close()


def test_readers_never_see_half_an_anchor(tmp_path: Path) -> None:
    signer = Signer(os.urandom(32))
    path = tmp_path / "audit.anchor"
    write_anchor(path, 1, "0" * 64, signer)
    stop = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not stop.is_set():
            anchor = read_anchor(path)
            assert anchor is not None
            assert signer.labelled_mac("anchor", anchor.fields()) == anchor.anchor_mac
            seen.append(anchor.seq)

    reader = threading.Thread(target=read)
    reader.start()
    for seq in range(2, 3000):
        write_anchor(path, seq, f"{seq:064x}", signer)
    stop.set()
    reader.join()
    assert seen and seen == sorted(seen)


SCHEMA_1_TEXT = """
CREATE TRIGGER records_text_add AFTER INSERT ON records BEGIN
    INSERT INTO records_text(rowid, command, path, message)
    VALUES (new.seq, substr(new.command, 1, 4096), new.path, new.message);
END;
CREATE TRIGGER records_text_remove AFTER DELETE ON records BEGIN
    INSERT INTO records_text(records_text, rowid, command, path, message)
    VALUES ('delete', old.seq, substr(old.command, 1, 4096), old.path, old.message);
END;
"""


def make_schema_1(data: Path) -> None:
    """Turn a log back into what schema 1 wrote: text index kept by triggers, no END, no backdated list."""
    with raw_db(data) as db:
        db.executescript(f"""
            DROP TABLE records_backdated; DROP TABLE records_text_chars; DROP TRIGGER records_text_remove;
            INSERT INTO records_text(records_text) VALUES ('delete-all');
            INSERT INTO records_text(rowid, command, path, message)
                SELECT seq, substr(command, 1, 4096), path, message FROM records;
            {SCHEMA_1_TEXT}
            PRAGMA user_version = 1;
        """)


def test_a_schema_1_log_is_upgraded(tmp_path: Path) -> None:
    clock = FakeClock(start=1_000_000.0, step=10.0)
    log = open_log(tmp_path, clock=clock)
    fill(log, 20)
    clock.now -= 100.0
    fill(log, 20)
    log.close()
    with raw_db(tmp_path) as db:
        backdated = db.execute("SELECT * FROM records_backdated ORDER BY seq").fetchall()
    assert len(backdated) == 9  # stamped before record 20 (the tenth ties with it)
    make_schema_1(tmp_path)
    log = open_log(tmp_path)
    with raw_db(tmp_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == audit_store.SCHEMA_VERSION
        assert db.execute("SELECT * FROM records_backdated ORDER BY seq").fetchall() == backdated
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'records_text_add'").fetchone()[0] == 0
    everything = log.list(limit=100)
    for text in ("dir2/", "e 1", "ok"):
        want = [r.seq for r in everything if any(text in f.lower() for f in (r.command, r.path, r.message))]
        assert [r.seq for r in log.list(AuditFilter(text=text), limit=100)] == want
    log.after(result(ReadFile("after-upgrade.txt")))
    assert log.verify().ok and log.count() == 41
    log.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    open_log(tmp_path).close()
    with raw_db(tmp_path) as db:
        db.execute(f"PRAGMA user_version = {audit_store.SCHEMA_VERSION + 1}")
    with pytest.raises(Exception, match="newer than this sandchat"):
        open_log(tmp_path)
