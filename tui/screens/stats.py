"""Statistics: how the tools were used, from the audit log, as a per-day sparkline and bars per tool."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rich import box
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Select, Sparkline, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.audit import AuditFilter, AuditLog, ToolStats
from tui.screens.audit_table import format_duration, one_line
from tui.screens.screen_commands import PaletteEntry, ScreenActions

__all__ = ["StatsScreen", "UsageReport", "gather_usage"]

RANGES: tuple[int, ...] = (7, 14, 30, 90)
DEFAULT_RANGE = 14
BAR_WIDTH = 40
#: (label, style) of the bar segments: succeeded, went wrong, refused.
SEGMENTS = (("ok", "green"), ("error or failed", "yellow"), ("blocked or denied", "red"))


@dataclass(frozen=True)
class UsageReport:
    """Tool usage over the last ``days`` UTC days, today included."""

    days: int
    first_day: datetime  # midnight UTC
    per_day: list[int]  # operations (outcome records) per day, oldest first
    tools: list[ToolStats]

    @property
    def operations(self) -> int:
        return sum(t.count for t in self.tools)


def gather_usage(audit: AuditLog, days: int, now: datetime) -> UsageReport:
    """Count operations per day (one pair of indexed counts a day) and per tool; blocking, for a thread."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - timedelta(days=days - 1)
    per_day = []
    for offset in range(days):
        day = AuditFilter(since=first_day + timedelta(days=offset), until=first_day + timedelta(days=offset + 1))
        # Intent records ("started") precede the outcomes of allowed operations; an operation is its outcome.
        per_day.append(audit.count(day) - audit.count(replace(day, status="started")))
    tools = sorted(audit.stats(AuditFilter(since=first_day)), key=lambda t: (-t.count, t.tool))
    return UsageReport(days, first_day, per_day, tools)


def summary_text(report: UsageReport) -> Text:
    total = report.operations
    if total == 0:
        return Text(f"No operations in the last {report.days} days.", style="dim", end="")
    ok = sum(t.ok for t in report.tools) / total
    refused = sum(t.blocked + t.denied for t in report.tools) / total
    return Text.assemble(
        (f"{total:,}", "bold"), f" operations in the last {report.days} days · ",
        (f"{ok:.0%}", "bold green"), " succeeded · ", (f"{refused:.0%}", "bold red"), " blocked or denied",
        end="",
    )


def tool_bar(stats: ToolStats, widest: int) -> Text:
    """A bar as long as the tool's share of the busiest tool, split into ok / went wrong / refused."""
    length = round(BAR_WIDTH * stats.count / widest) if widest else 0
    parts = (stats.ok, stats.error + stats.failed, stats.blocked + stats.denied)
    bar = Text(end="")
    used = 0
    for index, ((_, style), part) in enumerate(zip(SEGMENTS, parts, strict=True)):
        cells = length - used if index == len(parts) - 1 else round(length * part / stats.count)
        bar.append("█" * max(cells, 0), style=style)
        used += max(cells, 0)
    return bar


def tools_table(report: UsageReport) -> Table:
    """Per tool: operations, the bar, success and blocked rates, p50/p95 duration; cells are plain Text."""
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False)
    table.add_column("tool", no_wrap=True)
    table.add_column("operations", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, ratio=3)  # the bars take the room that is left
    for title in ("success", "blocked", "p50", "p95"):
        table.add_column(title, justify="right", no_wrap=True)
    widest = max((t.count for t in report.tools), default=0)
    for t in report.tools:
        table.add_row(Text(one_line(t.tool)), Text(f"{t.count:,}"), tool_bar(t, widest),
                      Text(f"{t.success_rate:.0%}"), Text(f"{t.blocked_rate:.0%}"),
                      Text(format_duration(t.p50_ms) or "-"), Text(format_duration(t.p95_ms) or "-"))
    return table


def legend() -> Text:
    return Text.assemble(*(part for label, style in SEGMENTS for part in (("█ ", style), (f"{label}   ", ""))),
                         end="")


class StatsScreen(Screen[None]):
    """Tool usage from the audit log: operations per day and, per tool, counts, rates and durations."""

    CSS_PATH = "stats.tcss"
    TITLE = "Statistics"
    COMMANDS = {ScreenActions}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="stats.close"),
        Binding("d", "next_range", "Range", id="stats.next_range"),
        Binding("r", "refresh", "Refresh", id="stats.refresh"),
    ]
    PALETTE: ClassVar[tuple[PaletteEntry, ...]] = (
        ("Statistics: next time range", "7, 14, 30 or 90 days", "next_range"),
        ("Statistics: refresh", "count again", "refresh"),
    )

    def __init__(self, audit: AuditLog, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.audit = audit
        self._clock = clock
        self.report: UsageReport | None = None
        self._counting = 0  # the range last asked for, in days

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="range-bar"):
            yield Label("Time range", id="range-label")
            yield Select([(f"last {d} days", d) for d in RANGES], value=DEFAULT_RANGE, allow_blank=False,
                         id="range", compact=True)
            yield Static("", id="summary")
        with Vertical(id="per-day"):
            yield Sparkline([], id="per-day-chart")
            with Horizontal(id="per-day-axis"):
                yield Label("", id="first-day", markup=False)
                yield Label("", id="busiest", markup=False)
                yield Label("", id="last-day", markup=False)
        with Vertical(id="per-tool"):
            yield Static("", id="tools")
            yield Static(legend(), id="legend")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#per-day").border_title = "Operations per day (UTC)"
        self.query_one("#per-tool").border_title = "Per tool"
        self.refresh_stats()

    @property
    def days(self) -> int:
        value = self.query_one("#range", Select).value
        return value if isinstance(value, int) else DEFAULT_RANGE

    def refresh_stats(self) -> None:
        """Count again for the chosen range, in a thread."""
        self._counting = self.days
        self.query_one("#summary", Static).update(Text(f"counting the last {self.days} days…", style="italic"))
        self.load_usage(self.days, datetime.fromtimestamp(self._clock(), UTC))

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def load_usage(self, days: int, now: datetime) -> UsageReport:
        report = gather_usage(self.audit, days, now)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, report)
        return report

    def _show(self, report: UsageReport) -> None:
        if report.days != self.days or not self.is_mounted:
            return  # counted for a range no longer chosen
        self.report = report
        self.query_one("#summary", Static).update(summary_text(report))
        self.query_one(Sparkline).data = [float(n) for n in report.per_day]
        last_day = report.first_day + timedelta(days=report.days - 1)
        self.query_one("#first-day", Label).update(report.first_day.strftime("%Y-%m-%d"))
        self.query_one("#last-day", Label).update(last_day.strftime("%Y-%m-%d"))
        busiest = max(range(report.days), key=lambda i: report.per_day[i])
        day = (report.first_day + timedelta(days=busiest)).strftime("%Y-%m-%d")
        peak = f"busiest: {day}, {report.per_day[busiest]:,} operations" if report.per_day[busiest] else ""
        self.query_one("#busiest", Label).update(peak)
        self.query_one("#tools", Static).update(tools_table(report) if report.tools else Text("no operations"))

    @on(Select.Changed, "#range")
    def _range_chosen(self) -> None:
        if self.days != self._counting:  # the Select also reports its first value, already being counted
            self.refresh_stats()

    def action_next_range(self) -> None:
        select = self.query_one("#range", Select)
        select.value = RANGES[(RANGES.index(self.days) + 1) % len(RANGES)]  # Select.Changed counts again

    def action_refresh(self) -> None:
        self.refresh_stats()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.query_one("#summary", Static).update(Text("statistics could not be read", style="bold red"))
            self.notify(str(event.worker.error), title="Statistics", severity="error", markup=False)
