"""The audit review screen, pushed alone in a tiny host app over a real AuditLog in a temp dir."""

from __future__ import annotations

import builtins
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App
from textual.binding import Binding
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Select, Static

from core.audit import AuditFilter, AuditLog, AuditRecord
from core.commands import ReadFile, RunCode, WriteFile
from core.security.risk import RiskFinding
from tests.core.test_audit_helpers import CONTEXT, FakeClock, fill, open_log, raw_db, result
from tui.screens.audit import AuditScreen
from tui.screens.audit_dialogs import AuditRecordScreen, ExportScreen
from tui.screens.audit_filters import TYPING_PAUSE
from tui.screens.audit_pages import MAX_CACHED_PAGES, PAGE_SIZE
from tui.screens.audit_table import AuditTable
from tui.screens.stats import StatsScreen

START = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
AT_20 = datetime.fromtimestamp(START + 20, UTC)  # the time of record 20 (the clock ticks before each record)
HOSTILE = "[bold red]boom[/] \x1b]52;c;ZXZpbA==\x07\x1b[2J"


class ScreenHost(App[None]):
    """Pushes one screen over an empty default screen, as the app does."""

    def __init__(self, screen: Screen[None]) -> None:
        super().__init__()
        self.pushed = screen

    def on_mount(self) -> None:
        self.push_screen(self.pushed)


async def settle(pilot: Pilot[None]) -> None:
    """Let messages, workers and the messages they send run out (a page's arrival starts the count: two rounds)."""
    for _ in range(2):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_of(app: App[None]) -> AuditTable:
    return app.screen.query_one(AuditTable)


def loaded_seqs(table: AuditTable) -> list[int]:
    rows = (table.pages.record(row) for row in range(table.pages.known_rows))
    return [r.seq for r in rows if r is not None]


def screen_lines(app: App[None]) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    """30 records of mixed tools, actors and outcomes, one a second from START."""
    audit = open_log(tmp_path / "data", clock=FakeClock(START, step=1.0))
    fill(audit, 30)
    return audit


async def test_rows_are_shown_newest_first(log: AuditLog) -> None:
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert loaded_seqs(table) == list(range(30, 0, -1))
        assert table.total == 30 and table.pages.exhausted
        lines = screen_lines(app)
        header = next(line for line in lines if "time (UTC)" in line)
        assert all(title in header for title in ("seq", "actor", "tool", "status", "exit", "duration", "command"))
        newest = log.get(30)
        assert newest is not None
        row = next(line for line in lines if "     30 " in line)
        assert newest.time[:19].replace("T", " ") in row and newest.tool in row and newest.status in row
        assert newest.command.splitlines()[0][:20] in row
        assert str(app.screen.query_one("#position", Static).content) == "1 of 30"


FILTER_CASES: tuple[tuple[str, str, AuditFilter], ...] = (
    ("actor", "user", AuditFilter(actor="user")),
    ("tool", "execute_code", AuditFilter(tool="execute_code")),
    ("status", "blocked", AuditFilter(status="blocked")),
    ("text", "dir2/", AuditFilter(text="dir2/")),
    ("since", "2025-06-15T15:07:00", AuditFilter(since=AT_20)),
    ("until", "2025-06-15T15:07:00", AuditFilter(until=AT_20)),
    ("since", "1m", AuditFilter(since=AT_20)),  # an age, from the screen's clock at START + 80
)


async def set_filter(pilot: Pilot[None], widget: str, value: str | None) -> None:
    """Choose or type (and submit) one filter, or clear it with None."""
    control = pilot.app.screen.query_one(f"#{widget}")
    if isinstance(control, Select):
        control.value = Select.NULL if value is None else value
    else:
        assert isinstance(control, Input)
        control.value = value or ""
        await control.action_submit()
    await settle(pilot)


async def test_each_filter_narrows_the_records(log: AuditLog) -> None:
    app = ScreenHost(AuditScreen(log, clock=lambda: START + 80))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for widget, value, expected in FILTER_CASES:
            await set_filter(pilot, widget, value)
            table = table_of(app)
            wanted = [r.seq for r in log.list(expected, limit=100)]
            assert 0 < len(wanted) < 30, widget
            assert table.filters == expected, widget
            assert loaded_seqs(table) == wanted, widget
            assert table.total == len(wanted), widget
            await set_filter(pilot, widget, None)
            assert len(loaded_seqs(table)) == 30


async def test_filters_combine_and_a_bad_time_is_refused(log: AuditLog) -> None:
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#actor", Select).value = "assistant"
        app.screen.query_one("#status", Select).value = "ok"
        await settle(pilot)
        assert loaded_seqs(table_of(app)) == [r.seq for r in log.list(AuditFilter(actor="assistant", status="ok"))]
        since = app.screen.query_one("#since", Input)
        since.value = "last tuesday"
        await since.action_submit()
        await settle(pilot)
        assert since.has_class("-invalid")
        assert any("not a time" in (n.title or "") for n in app._notifications)
        assert table_of(app).filters == AuditFilter(actor="assistant", status="ok")


async def test_typing_text_filters_after_a_pause(log: AuditLog) -> None:
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"file7")
        await pilot.pause(TYPING_PAUSE + 0.1)
        await settle(pilot)
        assert table_of(app).filters.text == "file7"
        assert loaded_seqs(table_of(app)) == [r.seq for r in log.list(AuditFilter(text="file7"))]
        await pilot.press("escape")  # leaves the filter first ...
        assert isinstance(app.screen, AuditScreen) and app.screen.focused is table_of(app)
        await pilot.press("escape")  # ... then closes the screen
        assert not isinstance(app.screen, AuditScreen)


async def test_enter_opens_the_record_in_full(tmp_path: Path) -> None:
    log = open_log(tmp_path / "data", clock=FakeClock(START))
    code = "import os\nos.system('rm -rf /')"
    finding = RiskFinding("shell", "high", "runs a shell command", 10, 31)
    log.after(replace(result(RunCode(code), "denied", message="denied by policy"), findings=(finding,)))
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AuditRecordScreen)
        shown = app.screen.query_one("#record", Static).content
        assert isinstance(shown, Text)
        record = log.get(1)
        assert record is not None
        for field in ("seq", "session_id", "decision", "prev_mac", "mac", "policy_hash", "findings"):
            assert field in shown.plain
        assert record.mac in shown.plain and record.prev_mac in shown.plain
        assert "shell (high) at 10-31" in shown.plain
        assert "os.system('rm -rf /')" in shown.plain  # the second line of the code, not cut off
        await pilot.press("escape")
        assert isinstance(app.screen, AuditScreen)


async def test_verify_says_ok_then_names_the_tampered_record(log: AuditLog, tmp_path: Path) -> None:
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        chain = app.screen.query_one("#chain", Static).render()
        assert str(chain) == "chain OK: 30 records verified"
        with raw_db(tmp_path / "data") as db:
            db.execute("UPDATE records SET message = 'nothing to see' WHERE seq = 17")
        await pilot.press("v")
        await settle(pilot)
        chain = app.screen.query_one("#chain", Static).render()
        assert str(chain).startswith("chain BROKEN at record 17: record 17: content changed")
        assert table_of(app).broken_seq == 17
        assert any("BROKEN" in (n.title or "") for n in app._notifications)


async def test_export_writes_the_filtered_records_as_json_lines(log: AuditLog, tmp_path: Path) -> None:
    out = tmp_path / "export.jsonl"
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one("#tool", Select).value = "write_file"
        await settle(pilot)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)
        lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [r["seq"] for r in lines] == sorted(r.seq for r in log.list(AuditFilter(tool="write_file")))
        assert {r["tool"] for r in lines} == {"write_file"} and all(r["mac"] for r in lines)
        assert out.stat().st_mode & 0o777 == 0o600
        assert any("records written to" in n.message for n in app._notifications)
        # A second export to the same file is refused, and the first one is left as it was.
        before = out.read_bytes()
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        assert out.read_bytes() == before
        assert any("already exists" in n.message for n in app._notifications)


async def test_paging_fetches_pages_as_the_user_scrolls_and_keeps_few(tmp_path: Path) -> None:
    log = open_log(tmp_path / "data", clock=FakeClock(START))
    fill(log, 1_000)
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert table.pages.fetched_rows == PAGE_SIZE  # the first screenful needs one page, not the log
        assert table.total == 1_000 and table.pages.known_rows == PAGE_SIZE
        for _ in range(4):
            await pilot.press("pagedown")
            await settle(pilot)
        assert table.pages.known_rows == 2 * PAGE_SIZE and table.pages.fetched_rows == 2 * PAGE_SIZE
        while not table.pages.exhausted:
            await pilot.press("end")
            await settle(pilot)
        assert table.pages.known_rows == 1_000
        assert table.pages.cached_rows <= MAX_CACHED_PAGES * PAGE_SIZE  # the oldest pages were let go
        assert table.current is not None and table.current.seq == 1
        await pilot.press("home")
        await settle(pilot)
        assert table.current is not None and table.current.seq == 1_000  # page 0 fetched again by its cursor
        assert table.pages.cached_rows <= MAX_CACHED_PAGES * PAGE_SIZE


class GatedLog(AuditLog):
    """A real log whose unfiltered listing waits for the test to open a gate (a slow query, scripted)."""

    gate = threading.Event()

    def list(
        self, filters: AuditFilter | None = None, *, limit: int = 50, before_seq: int | None = None
    ) -> builtins.list[AuditRecord]:
        if filters is None or filters.actor is None:
            self.gate.wait(timeout=10)
        return super().list(filters, limit=limit, before_seq=before_seq)


async def test_a_page_for_a_filter_no_longer_chosen_is_dropped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = GatedLog(data / "audit.db", key_path=data / "audit.key", anchor_path=data / "audit.anchor",
                   context=CONTEXT, clock=FakeClock(START))
    fill(log, 30)
    GatedLog.gate.clear()
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = table_of(app)
        assert table.pages.known_rows == 0  # the first page is held at the gate
        table.show(AuditFilter(actor="user"))
        while table.pages.known_rows == 0:
            await pilot.pause()
        GatedLog.gate.set()  # now the unfiltered page arrives, late
        await settle(pilot)
        assert table.filters == AuditFilter(actor="user")
        assert loaded_seqs(table) == [r.seq for r in log.list(AuditFilter(actor="user"))]
        assert table.total == log.count(AuditFilter(actor="user"))


def test_every_binding_has_an_id() -> None:
    for owner in (AuditScreen, AuditTable, AuditRecordScreen, ExportScreen, StatsScreen):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding) and binding.id, (owner.__name__, binding)


async def test_records_written_meanwhile_appear_on_refresh_only(log: AuditLog) -> None:
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        log.after(result(ReadFile("late.txt")))
        await pilot.press("down")
        await settle(pilot)
        assert loaded_seqs(table_of(app))[0] == 30
        await pilot.press("r")
        await settle(pilot)
        assert loaded_seqs(table_of(app))[0] == 31


async def test_hostile_record_text_is_inert(tmp_path: Path) -> None:
    log = open_log(tmp_path / "data", clock=FakeClock(START))
    log.after(result(WriteFile(f"{HOSTILE}.txt", "x"), "error", message=HOSTILE))
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        row = table_of(app).render_line(1)
        assert "[bold red]boom[/]" in row.text and "\x1b" not in row.text and "\x07" not in row.text
        assert not any(seg.style is not None and seg.style.bold and "boom" in seg.text for seg in row)
        await pilot.press("enter")
        await pilot.pause()
        shown = app.screen.query_one("#record", Static).content
        assert isinstance(shown, Text)
        assert "\x1b" not in shown.plain and "\\x1b]52;c;ZXZpbA==\\x07" in shown.plain  # visible, not live
        assert all(span.style in ("bold", "") for span in shown.spans)  # only the labels are styled
        lines = screen_lines(app)
        assert not any("\x1b" in line for line in lines)


def snapshot_log(data_dir: Path) -> AuditLog:
    """Fixed records at fixed times: what the snapshots show must not depend on the run."""
    log = open_log(data_dir, clock=FakeClock(START, step=2 * 3600 + 17))
    fill(log, 60)
    log.after(result(ReadFile("notes/[bold]todo[/].md"), message="read 12 bytes"))
    return log


def test_audit_screen_snapshot(tmp_path: Path, snap_compare: Callable[..., bool]) -> None:
    log = snapshot_log(tmp_path / "data")

    async def loaded(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("down", "down")

    assert snap_compare(ScreenHost(AuditScreen(log)), terminal_size=(120, 40), run_before=loaded)


def test_record_detail_snapshot(tmp_path: Path, snap_compare: Callable[..., bool]) -> None:
    log = snapshot_log(tmp_path / "data")
    record = log.get(7)
    assert record is not None
    fixed = replace(record, mac="m" * 64, prev_mac="p" * 64, op_id=7)
    assert snap_compare(ScreenHost(AuditRecordScreen(fixed)), terminal_size=(120, 40))


async def test_verify_shows_how_far_it_is(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.audit_verify

    monkeypatch.setattr(core.audit_verify, "PROGRESS_EVERY", 10)
    shown: list[str] = []
    original = AuditScreen._show_chain

    def watched(self: AuditScreen, text: Text) -> None:
        shown.append(text.plain)
        original(self, text)

    monkeypatch.setattr(AuditScreen, "_show_chain", watched)
    app = ScreenHost(AuditScreen(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
    progress = [line for line in shown if " of 30 records" in line]
    assert progress == [f"verifying the chain… {n} of 30 records ({n * 100 // 30}%)" for n in (0, 10, 20, 30)]
    assert shown[-1] == "chain OK: 30 records verified"
