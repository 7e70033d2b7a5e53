"""Text search over the audit log: every term length finds exactly what a plain substring test finds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import audit_text
from core.audit import AuditFilter, AuditLog
from core.commands import ReadFile, RunCode, WriteFile
from tests.core.test_audit_helpers import FakeClock, fill, open_log, raw_db, result

TEXTS = ["print('héllo wörld')", 'say "quoted" + (parens) * stars', "ünïcode ÄB and ab", "tab\there", "x", "𝄞 clef",
         "ends with ab", "AB", "100%_done", "emoji 😀!"]


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = open_log(tmp_path, clock=FakeClock(start=1_700_000_000.0, step=60.0))
    fill(log, 40)
    for i, text in enumerate(TEXTS):
        log.after(result(RunCode(text), message=f"note {i}: {text[::-1]}"))
    return log


def expected(log: AuditLog, text: str) -> list[int]:
    """What a plain Python substring test finds: the index folds the case of every letter, LIKE of ASCII ones."""
    fold = str.lower if len(text) >= 2 else _fold_ascii
    needle = fold(text)
    return [r.seq for r in log.list(limit=10_000)
            if any(needle in fold(field) for field in (r.command, r.path, r.message))]


def _fold_ascii(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def pages(log: AuditLog, flt: AuditFilter) -> list[int]:
    got: list[int] = []
    before: int | None = None
    while page := log.list(flt, limit=6, before_seq=before):
        got += [r.seq for r in page]
        before = page[-1].seq
    return got


def terms(log: AuditLog) -> list[str]:
    """Every one- and two-character substring of the stored text, and some longer ones and absent ones."""
    found: set[str] = set()
    for record in log.list(limit=10_000):
        for field in (record.command, record.path, record.message):
            found.update(field[i:i + n] for n in (1, 2) for i in range(len(field) - n + 1))
    return sorted(found) + ["zq", "Zq", "é!", '"q', "ab", "AB", "hé", "llo w", "no such text", "%_d", "😀!"]


def test_every_term_finds_exactly_the_records_holding_it(log: AuditLog) -> None:
    for text in terms(log):
        want = expected(log, text)
        assert pages(log, AuditFilter(text=text)) == want, text
        assert log.count(AuditFilter(text=text)) == len(want), text


def test_two_character_terms_are_served_by_the_index(log: AuditLog) -> None:
    conn = log._reader
    assert audit_text.match_expression(conn, "ab") is not None
    assert audit_text.match_expression(conn, "abc") == '"abc"'
    assert audit_text.match_expression(conn, "a") is None  # one character: a LIKE scan
    plan = " ".join(str(row) for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM records_text WHERE records_text MATCH ?",
        (audit_text.match_expression(conn, "ab"),)))
    assert "VIRTUAL TABLE" in plan


def test_records_not_indexed_yet_are_found(log: AuditLog, tmp_path: Path) -> None:
    log.list(AuditFilter(text="ab"))  # brings the index up to date
    log.after(result(ReadFile("brand-new.txt"), message="qz"))  # appended after that
    assert [r.path for r in log.list(AuditFilter(text="brand-new"))] == ["/workspace/brand-new.txt"]
    assert len(log.list(AuditFilter(text="qz"))) == 1
    other = open_log(tmp_path)  # another process appending to the same log
    other.after(result(WriteFile("from-elsewhere.txt", "x")))
    other.close()
    assert [r.path for r in log.list(AuditFilter(text="elsewhere"))] == ["/workspace/from-elsewhere.txt"]


def test_text_search_combines_with_other_filters(log: AuditLog) -> None:
    everything = log.list(limit=10_000)
    middle = everything[len(everything) // 2].time_epoch
    flt = AuditFilter(text="ab", tool="execute_code", since=middle)
    want = [r.seq for r in everything if r.seq in expected(log, "ab") and r.tool == "execute_code"
            and r.time_epoch >= middle]
    assert want and pages(log, flt) == want


def test_housekeeping_indexes_as_records_are_appended(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    fill(log, 300)  # more than HOUSEKEEPING_EVERY
    with raw_db(tmp_path) as db:
        indexed = db.execute("SELECT max(rowid) FROM records_text").fetchone()[0]
    assert indexed >= 256
    log.close()
    with raw_db(tmp_path) as db:  # and closing indexes the rest
        assert db.execute("SELECT max(rowid) FROM records_text").fetchone()[0] == 300


def test_pruning_records_never_indexed_keeps_the_index_whole(tmp_path: Path) -> None:
    log = open_log(tmp_path, clock=FakeClock(start=1_700_000_000.0, step=60.0))
    fill(log, 30)  # none indexed yet
    log.prune(datetime.fromtimestamp(1_700_000_000.0 + 60 * 20 + 30, UTC))
    with raw_db(tmp_path) as db:
        db.execute("INSERT INTO records_text(records_text, rank) VALUES ('integrity-check', 0)")
    assert pages(log, AuditFilter(text="dir")) == expected(log, "dir")
    assert log.verify().ok
    log.close()


def test_a_nul_in_the_text_does_not_break_short_terms(tmp_path: Path) -> None:
    # The FTS5 query syntax cannot hold a NUL, so such a log scans two-character terms instead of failing.
    log = open_log(tmp_path)
    log.after(result(ReadFile("x"), message="a\x00b"))
    log.after(result(ReadFile("ab.txt")))
    assert "/workspace/ab.txt" in [r.path for r in log.list(AuditFilter(text="ab"))]
    assert audit_text.match_expression(log._reader, "ab") is None
    log.close()


def test_without_fts5_every_search_scans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_text, "SCHEMA", ("CREATE VIRTUAL TABLE records_text USING no_such_module()",))
    log = open_log(tmp_path)
    fill(log, 20)
    assert not log._text_index
    assert pages(log, AuditFilter(text="dir1")) == expected(log, "dir1")
    log.close()


def test_when_the_index_cannot_be_updated_search_scans_instead(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    fill(log, 20)  # not indexed yet
    log._conn.execute("PRAGMA query_only=ON")  # what a read-only medium looks like to SQLite
    assert pages(log, AuditFilter(text="dir1")) == expected(log, "dir1") != []
    assert pages(log, AuditFilter(text="e 1")) == expected(log, "e 1") != []
    log.close()
