"""The audit log records every outcome, keeps contents and secrets out, fails closed, and answers queries."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.audit import AuditContext, AuditFilter, AuditLog, AuditRecord
from core.audit_types import COLUMNS
from core.backends.local import LocalSandbox
from core.commands import Command, ReadFile, RunCode, SearchWeb, WriteFile
from core.errors import SandchatError
from core.operations import SecureOperations
from core.results import OperationResult, Status
from core.security.risk import RiskFinding
from tests.core.test_audit_helpers import (
    CONTEXT,
    FakeClock,
    disk_bytes,
    fill,
    open_log,
    request,
    result,
    varied_result,
)

FAKE_KEY = "sk-" + "proj-" + "Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4"


def test_open_lays_out_private_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = AuditLog.open(data, AuditContext())
    log.after(result(ReadFile("a.txt")))
    log.close()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "audit.key").stat().st_mode) == 0o600
    assert len((data / "audit.key").read_bytes()) == 32
    assert stat.S_IMODE((data / "audit.db").stat().st_mode) == 0o600
    anchor = json.loads((data / "audit.anchor").read_text())
    assert anchor["seq"] == 1 and len(anchor["mac"]) == 64
    assert b"audit.key" not in (data / "audit.db").read_bytes()


def test_every_status_is_recorded_with_its_decision(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    req = request(RunCode("print(1)"))
    log.before(req)
    for status in ("ok", "error", "failed", "blocked", "denied"):
        log.after(result(RunCode("print(1)"), status, message=f"why {status}", exit_code=0 if status == "ok" else 1))
    rows = list(reversed(log.list()))
    assert [r.status for r in rows] == ["started", "ok", "error", "failed", "blocked", "denied"]
    assert [r.decision for r in rows] == ["allowed", "allowed", "allowed", "allowed", "blocked", "denied"]
    assert rows[0].op_id == req.op_id and rows[0].duration_ms is None
    assert rows[4].decision_reason == "why blocked" and rows[1].decision_reason == ""
    assert rows[1].exit_code == 0 and rows[2].exit_code == 1 and rows[1].duration_ms == 10.0
    assert {(r.session_id, r.backend, r.sandbox_id, r.isolation, r.policy_hash) for r in rows} == {
        ("s1", "local", "test", "strong", "p0")
    }
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert log.verify().ok


def test_times_are_utc_iso_with_microseconds_and_match_the_epoch(tmp_path: Path) -> None:
    log = open_log(tmp_path, clock=FakeClock(start=1_750_000_000.1234564, step=0))
    log.after(result(ReadFile("a")))
    record = log.list()[0]
    assert record.time == "2025-06-15T15:06:40.123456+00:00"
    assert datetime.fromisoformat(record.time).timestamp() == record.time_epoch


def test_write_content_is_not_stored_but_its_size_and_digest_are(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    content = "the quick brown fox jumps over the lazy dog\n" * 3
    digest = hashlib.sha256(content.encode()).hexdigest()
    log.before(request(WriteFile("notes/my file.txt", content)))
    log.after(result(WriteFile("notes/my file.txt", content)))
    for record in log.list():
        assert record.command == f'write file:"notes/my file.txt" content:<{len(content)} bytes sha256:{digest}>'
        assert (record.content_size, record.content_sha256) == (len(content), digest)
    log.close()
    assert b"quick brown fox" not in disk_bytes(tmp_path)


def test_read_records_the_size_and_digest_of_the_bytes_read(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    data = b"\x00\x01binary data"
    log.after(result(ReadFile("blob.bin"), content=data))
    record = log.list()[0]
    assert record.command == "read file:blob.bin"
    assert (record.content_size, record.content_sha256) == (len(data), hashlib.sha256(data).hexdigest())


def test_code_is_stored_with_the_digest_of_what_was_submitted(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    code = "import os\nprint(os.getcwd())\n"
    finding = RiskFinding("os-access", "medium", "touches the OS", 0, 9)
    log.before(request(RunCode(code, "python"), findings=(finding,)))
    record = log.list()[0]
    assert record.command == f"run code:{code}"
    assert record.content_sha256 == hashlib.sha256(code.encode()).hexdigest()
    assert record.finding_list() == [{"rule": "os-access", "severity": "medium", "start": 0, "end": 9}]


def test_secrets_never_reach_the_disk(tmp_path: Path) -> None:
    own_key = "my-configured-daytona-key-0123456789"
    log = open_log(tmp_path, known_secrets=(own_key,))
    leaky: list[Command] = [
        WriteFile("config.env", f"OPENAI_API_KEY={FAKE_KEY}\n"),
        RunCode(f"client = OpenAI(api_key='{FAKE_KEY}')\nprint('{own_key}')"),
        ReadFile(f"keys/{FAKE_KEY}.txt"),
        SearchWeb(f"what is {own_key}"),
    ]
    for command in leaky:
        log.before(request(command))
        log.after(result(command, message=f"failed near {FAKE_KEY} and {own_key}"))
    log.after(OperationResult(99, "user", f"write file: content:{FAKE_KEY}", "parse", "blocked", "bad syntax"))
    records = log.list()
    assert any("api_key='[REDACTED]'" in r.command for r in records)
    assert any(r.path == "/workspace/keys/[REDACTED].txt" for r in records)
    assert log.verify().ok
    raw = disk_bytes(tmp_path)  # database, WAL and shm: nothing was checkpointed away yet
    assert FAKE_KEY.encode() not in raw and own_key.encode() not in raw
    log.close()
    assert FAKE_KEY.encode() not in disk_bytes(tmp_path)


def test_unparsed_input_is_cut_at_its_content(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    text = "write file content:a whole private letter"
    log.after(OperationResult(1, "user", text, "parse", "blocked", "unknown command"))
    record = log.list()[0]
    assert record.command.startswith("write file content:<") and "private letter" not in record.command
    assert record.tool == "parse" and record.decision == "blocked"


# -- fail closed -----------------------------------------------------------------------------------


def test_before_raises_when_the_database_refuses_writes(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    log._conn.execute("PRAGMA query_only=ON")  # what a read-only medium looks like to SQLite
    with pytest.raises(SandchatError, match="audit log .* could not record the operation") as caught:
        log.before(request(ReadFile("b")))
    assert "not run" in caught.value.hint
    with pytest.raises(SandchatError):
        log.after(result(ReadFile("b")))
    assert log.count() == 1


def test_before_raises_when_the_disk_is_full(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    pages = log._conn.execute("PRAGMA page_count").fetchone()[0]
    log._conn.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(SandchatError, match="full"):
        log.before(request(RunCode("x = 1\n" * 30_000)))  # code is stored, so it needs new pages
    assert log.verify().ok


def test_before_raises_when_the_anchor_cannot_be_replaced(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    (tmp_path / "audit.anchor").unlink()
    (tmp_path / "audit.anchor").mkdir()
    with pytest.raises(SandchatError, match="could not record"):
        log.before(request(ReadFile("b")))


def test_a_database_that_cannot_be_opened_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "audit.db").mkdir()
    with pytest.raises(SandchatError, match="cannot be opened"):
        open_log(tmp_path)
    garbage = tmp_path / "other"
    garbage.mkdir()
    (garbage / "audit.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(SandchatError, match="cannot be opened"):
        open_log(garbage)


def test_a_missing_key_is_not_replaced_and_stops_every_write(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    fill(log, 3)
    log.close()
    (tmp_path / "audit.key").unlink()
    log = open_log(tmp_path)
    assert not (tmp_path / "audit.key").exists()
    with pytest.raises(SandchatError, match="key file missing"):
        log.before(request(ReadFile("a")))
    report = log.verify()
    assert not report.ok and report.problem.startswith("key file missing")


def test_a_closed_log_refuses_writes_and_reads(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.close()
    log.close()
    with pytest.raises(SandchatError, match="closed"):
        log.before(request(ReadFile("a")))
    with pytest.raises(SandchatError, match="closed"):
        log.list()


async def test_the_pipeline_records_intent_and_outcome_and_stops_when_the_log_fails(tmp_path: Path) -> None:
    box = LocalSandbox(tmp_path / "workspace", name="box")
    log = open_log(tmp_path / "data")
    ops = SecureOperations(box, recorder=log)
    try:
        wrote = await ops.write_file("a.txt", "hello")
        refused = await ops.read_file("../../etc/passwd")
        assert wrote.status == "ok" and refused.status == "blocked"
        assert [r.status for r in reversed(log.list())] == ["started", "ok", "blocked"]
        log._conn.execute("PRAGMA query_only=ON")
        failed = await ops.write_file("b.txt", "never written")  # fail closed: the intent cannot be recorded
        assert failed.status == "failed" and "could not record the operation" in failed.message
        assert "NOT RECORDED" in failed.message and failed.audit_error  # nor can the outcome: said, not lost
        assert not (box.workspace / "b.txt").exists()
    finally:
        await box.close()
        log.close()


# -- context, threads ------------------------------------------------------------------------------


def test_context_updates_apply_to_later_records(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    log.after(result(ReadFile("a")))
    assert log.update_context(sandbox_id="sbx-42").sandbox_id == "sbx-42"
    log.after(result(ReadFile("a")))
    assert [r.sandbox_id for r in log.list()] == ["sbx-42", "test"]
    assert len(AuditContext().session_id) == 32


def test_appends_from_several_threads_form_one_chain(tmp_path: Path) -> None:
    log = open_log(tmp_path)

    def work(offset: int) -> None:
        for i in range(50):
            log.after(varied_result(offset + i))

    threads = [threading.Thread(target=work, args=(n * 100,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.count() == 200 and log.last_seq == 200
    assert log.verify().ok


# -- queries ---------------------------------------------------------------------------------------


@pytest.fixture
def filled(tmp_path: Path) -> AuditLog:
    log = open_log(tmp_path, clock=FakeClock(start=1_700_000_000.0, step=60.0))
    fill(log, 140)
    other = log.update_context(session_id="s2")
    assert other.session_id == "s2"
    log.after(result(ReadFile("100%_done.txt"), message="odd name"))
    return log


def test_pages_cover_every_record_once_newest_first(filled: AuditLog) -> None:
    seen: list[int] = []
    before: int | None = None
    while page := filled.list(limit=17, before_seq=before):
        seen += [r.seq for r in page]
        before = page[-1].seq
    assert seen == list(range(141, 0, -1))


@pytest.mark.parametrize(
    "flt",
    [
        AuditFilter(tool="write_file"),
        AuditFilter(status="blocked"),
        AuditFilter(actor="user", status="ok"),
        AuditFilter(session_id="s2"),
        AuditFilter(text="dir2/"),
        AuditFilter(text="FILE1"),  # case-insensitive
        AuditFilter(text="1"),  # short: the LIKE fallback
        AuditFilter(text="100%_"),  # LIKE wildcards are literal
        AuditFilter(text="%"),
        AuditFilter(tool="read_file", text="message 1"),
        AuditFilter(since=1_700_000_000.0 + 60 * 50, until=1_700_000_000.0 + 60 * 90),
        AuditFilter(since=datetime.fromtimestamp(1_700_000_000.0 + 60 * 120, UTC)),
        AuditFilter(until=datetime.fromtimestamp(1_700_000_000.0 + 60 * 10, UTC).replace(tzinfo=None)),
    ],
)
def test_filters_match_a_plain_python_filter(filled: AuditLog, flt: AuditFilter) -> None:
    everything = filled.list(limit=10_000)
    since = flt.since.timestamp() if isinstance(flt.since, datetime) else flt.since
    until = flt.until.replace(tzinfo=UTC).timestamp() if isinstance(flt.until, datetime) else flt.until
    needle = (flt.text or "").lower()
    expected = [
        r.seq
        for r in everything
        if (flt.tool is None or r.tool == flt.tool)
        and (flt.status is None or r.status == flt.status)
        and (flt.actor is None or r.actor == flt.actor)
        and (flt.session_id is None or r.session_id == flt.session_id)
        and (since is None or r.time_epoch >= since)
        and (until is None or r.time_epoch < until)
        and (not needle or any(needle in f.lower() for f in (r.command, r.path, r.message)))
    ]
    assert expected, "the case should select something"
    got: list[int] = []
    before: int | None = None
    while page := filled.list(flt, limit=7, before_seq=before):
        got += [r.seq for r in page]
        before = page[-1].seq
    assert got == expected
    assert filled.count(flt) == len(expected)


def test_get_returns_one_record_or_none(filled: AuditLog) -> None:
    record = filled.get(5)
    assert record is not None and record.seq == 5
    assert filled.get(10_000) is None


def test_export_lines_parse_match_the_records_and_verify_with_the_key_alone(filled: AuditLog, tmp_path: Path) -> None:
    out = io.StringIO()
    assert filled.export_jsonl(out) == 141
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["seq"] for d in lines] == list(range(1, 142))
    assert lines[9] == filled.get(10).as_dict()  # type: ignore[union-attr]
    assert list(lines[0]) == list(COLUMNS)
    key = (tmp_path / "audit.key").read_bytes()
    prev = "0" * 64
    for doc in lines:  # an independent verifier, written from the documented format only
        assert doc["prev_mac"] == prev
        body = {k: v for k, v in doc.items() if k not in ("mac", "prev_mac")}
        body["time_epoch"] = f"{doc['time_epoch']:.6f}"
        if doc["duration_ms"] is not None:
            body["duration_ms"] = f"{doc['duration_ms']:.3f}"
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hmac.new(key, prev.encode() + canonical, hashlib.sha256).hexdigest() == doc["mac"]
        prev = doc["mac"]
    filtered = io.StringIO()
    assert filled.export_jsonl(filtered, AuditFilter(status="denied")) == filled.count(AuditFilter(status="denied"))


def test_stats_count_outcomes_and_percentiles_per_tool(tmp_path: Path) -> None:
    log = open_log(tmp_path)
    for i in range(1, 21):  # read_file: durations 1..20 ms; 15 ok, 3 blocked, 2 denied
        status: Status = "ok" if i <= 15 else "blocked" if i <= 18 else "denied"
        log.after(result(ReadFile("a"), status, duration=i / 1000))
    log.before(request(ReadFile("a")))  # an intent is not an outcome
    log.after(result(RunCode("x"), "error", duration=0.5, exit_code=1))
    stats = {s.tool: s for s in log.stats()}
    read = stats["read_file"]
    assert (read.count, read.ok, read.blocked, read.denied) == (20, 15, 3, 2)
    assert read.success_rate == 0.75 and read.blocked_rate == 0.25
    assert read.p50_ms == 10.0 and read.p95_ms == 19.0
    code = stats["execute_code"]
    assert (code.count, code.error, code.success_rate, code.p50_ms) == (1, 1, 0.0, 500.0)
    only_ok = log.stats(AuditFilter(status="ok"))
    assert [(s.tool, s.count) for s in only_ok] == [("read_file", 15)]


def test_context_defaults_to_a_fresh_session(tmp_path: Path) -> None:
    assert AuditContext().session_id != AuditContext().session_id
    assert CONTEXT.isolation == "strong"


def set_back(clock: FakeClock, log: AuditLog) -> None:
    fill(log, 30)
    clock.now -= 500.0  # a clock set back by NTP: later records carry earlier times
    fill(log, 30)


def one_in_the_future(clock: FakeClock, log: AuditLog) -> None:
    fill(log, 20)
    clock.now += 10_000.0  # one record stamped far ahead: every record after it is older than it
    fill(log, 1)
    clock.now -= 10_000.0
    fill(log, 20)


def back_and_forth(clock: FakeClock, log: AuditLog) -> None:
    fill(log, 20)
    clock.now -= 100_000.0
    fill(log, 15)
    clock.now += 150_000.0
    fill(log, 15)


@pytest.mark.parametrize("history", [set_back, one_in_the_future, back_and_forth])
def test_time_filters_stay_exact_when_the_clock_went_backwards(
    tmp_path: Path, history: Callable[[FakeClock, AuditLog], None]
) -> None:
    clock = FakeClock(start=1_000_000.0, step=10.0)
    log = open_log(tmp_path, clock=clock)
    history(clock, log)
    everything = log.list(limit=1000)
    times = sorted({r.time_epoch for r in everything})
    bounds: list[float | None] = [None, times[0] - 1, times[-1] + 1, *times[::5], *(t + 5 for t in times[2::7])]
    for since in bounds:
        for until in bounds:
            for tool in (None, "read_file"):
                flt = AuditFilter(since=since, until=until, tool=tool)
                expected = [r.seq for r in everything
                            if (since is None or r.time_epoch >= since) and (until is None or r.time_epoch < until)
                            and (tool is None or r.tool == tool)]
                assert [r.seq for r in pages(log, flt)] == expected, flt
                assert log.count(flt) == len(expected)


def pages(log: AuditLog, flt: AuditFilter) -> list[AuditRecord]:
    """Every matching record, fetched a page of 7 at a time."""
    got: list[AuditRecord] = []
    before: int | None = None
    while page := log.list(flt, limit=7, before_seq=before):
        got += page
        before = page[-1].seq
    return got
