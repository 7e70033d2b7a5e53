"""The statistics screen, pushed alone in a tiny host app over a real AuditLog in a temp dir."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Select, Sparkline

from core.audit import AuditFilter, AuditLog
from core.commands import ReadFile
from tests.core.test_audit_helpers import FakeClock, fill, open_log, raw_db, request
from tests.tui.test_screens_audit import ScreenHost, screen_lines, settle
from tui.screens.stats import BAR_WIDTH, StatsScreen, tool_bar

START = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC
STEP = 3 * 3600 + 17  # 60 records span about a week


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START, step=STEP)


@pytest.fixture
def log(tmp_path: Path, clock: FakeClock) -> AuditLog:
    """60 outcomes of mixed tools and statuses, and 3 intents (which are not operations of their own)."""
    audit = open_log(tmp_path / "data", clock=clock)
    fill(audit, 60)
    for name in ("a", "b", "c"):
        audit.before(request(ReadFile(name)))
    return audit


def stats_screen(app: ScreenHost) -> StatsScreen:
    screen = app.screen
    assert isinstance(screen, StatsScreen)
    return screen


async def test_numbers_per_day_and_per_tool(log: AuditLog, clock: FakeClock) -> None:
    app = ScreenHost(StatsScreen(log, clock=lambda: clock.now))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        report = stats_screen(app).report
        assert report is not None and report.days == 14
        today = datetime.fromtimestamp(clock.now, UTC).date()
        assert report.first_day.date() == today - timedelta(days=13)
        outcomes = [r for r in log.list(limit=1_000) if r.status != "started"]
        by_day = Counter(datetime.fromtimestamp(r.time_epoch, UTC).date() for r in outcomes)
        assert report.per_day == [by_day[report.first_day.date() + timedelta(days=i)] for i in range(14)]
        assert sum(report.per_day) == 60 == report.operations
        assert app.screen.query_one(Sparkline).data == [float(n) for n in report.per_day]
        assert report.tools == sorted(log.stats(AuditFilter(since=report.first_day)), key=lambda t: (-t.count, t.tool))
        lines = screen_lines(app)
        assert any("60 operations in the last 14 days" in line for line in lines)
        for t in report.tools:
            row = next(line for line in lines if f" {t.tool} " in line)
            assert f" {t.count:,} " in row and f"{t.success_rate:.0%}" in row and f"{t.blocked_rate:.0%}" in row
        assert any("█" * BAR_WIDTH in line for line in lines)  # the busiest tool's bar is full length


def test_bars_are_split_by_outcome(log: AuditLog) -> None:
    stats = {t.tool: t for t in log.stats()}
    busiest = max(t.count for t in stats.values())
    for t in stats.values():
        bar = tool_bar(t, busiest)
        assert bar.cell_len == round(BAR_WIDTH * t.count / busiest)
        by_style: Counter[str] = Counter()
        for span in bar.spans:
            by_style[str(span.style)] += span.end - span.start
        assert by_style["green"] == round(bar.cell_len * t.ok / t.count)


async def test_the_range_selector_counts_again(log: AuditLog, clock: FakeClock) -> None:
    app = ScreenHost(StatsScreen(log, clock=lambda: clock.now))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        report = stats_screen(app).report
        assert report is not None and report.days == 30 and len(report.per_day) == 30
        assert app.screen.query_one("#range", Select).value == 30
        app.screen.query_one("#range", Select).value = 7
        await settle(pilot)
        report = stats_screen(app).report
        assert report is not None and report.days == 7 and sum(report.per_day) < 60


async def test_hostile_tool_names_are_inert_and_failures_are_shown(
    log: AuditLog, clock: FakeClock, tmp_path: Path
) -> None:
    with raw_db(tmp_path / "data") as db:
        db.execute("UPDATE records SET tool = '[bold red]evil\x1b[2J' WHERE seq = 5")
    app = ScreenHost(StatsScreen(log, clock=lambda: clock.now))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert any("[bold red]evil" in line for line in lines) and not any("\x1b" in line for line in lines)
        log.close()
        await pilot.press("r")
        await settle(pilot)
        assert any("could not be read" in line for line in screen_lines(app))
        assert any("closed" in n.message for n in app._notifications)


def test_stats_screen_snapshot(log: AuditLog, clock: FakeClock, snap_compare: Callable[..., bool]) -> None:
    now = clock.now

    async def loaded(pilot: Pilot[None]) -> None:
        await settle(pilot)

    assert snap_compare(ScreenHost(StatsScreen(log, clock=lambda: now)), terminal_size=(120, 40), run_before=loaded)
