"""The execution log: live rows, output of code, blocked rows standing out, the filter, and many entries."""

from __future__ import annotations

import gc
import random
import time

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input

from core.backends.base import ExecResult
from core.commands import RunCode
from core.events import OperationBlocked, OperationFinished, OperationStarted, OutputChunk
from core.operations import SecureOperations
from core.results import OperationResult
from tests.tui.helpers import focused, settle, submit
from tui.app import SandchatApp
from tui.widgets import exec_log
from tui.widgets.exec_log import ExecLogPane, ExecutionLog, LogEntry, LogFilter, OutputLine


def started(op_id: int, actor: str = "user", command: str = "read file:a.txt",
            tool: str = "read_file") -> OperationStarted:
    return OperationStarted(op_id, actor, command, tool, 0.0)  # type: ignore[arg-type]


def finished(op_id: int, status: str, actor: str = "user", command: str = "read file:a.txt",
             tool: str = "read_file", message: str = "done") -> OperationFinished:
    result = OperationResult(op_id, actor, command, tool, status, message, duration=0.012)  # type: ignore[arg-type]
    return OperationBlocked(result) if status in ("blocked", "denied") else OperationFinished(result)


class LogHost(App[None]):
    def compose(self) -> ComposeResult:
        yield ExecLogPane(id="log-pane", time_format=lambda at: "12:00:00")


def rendered(log: ExecutionLog) -> list[str]:
    return [log.render_line(y).text.rstrip() for y in range(log.size.height)]


async def test_rows_update_in_place_and_output_lines_follow() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(ExecutionLog)
        log.show(started(1, command="run code:print(1)", tool="execute_code"))
        log.show(OutputChunk(1, "stdout", "one\ntwo\n"))
        log.show(OutputChunk(1, "stderr", "\x1b[31mbad\x1b[0m [bold]x[/]\n"))
        exec_result = ExecResult("python", 3, "", "", 0.5)
        result = OperationResult(1, "user", "run code:print(1)", "execute_code", "error", "python: exit code 3",
                                 duration=0.5, exec=exec_result, command=RunCode("print(1)"))
        log.show(OperationFinished(result))
        await pilot.pause()
        lines = rendered(log)
        assert lines[0].startswith("12:00:00 ERROR   you run code:print(1)  500 ms exit 3 #1 — python: exit code 3")
        assert [line.strip() for line in lines[1:4]] == ["│ one", "│ two", "│ bad [bold]x[/]"]
        assert all("\x1b" not in line for line in lines)
        assert [type(r) for r in log.rows] == [LogEntry, OutputLine, OutputLine, OutputLine]


async def test_the_filter_keeps_matching_rows_and_knows_statuses_and_actors() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(ExecutionLog)
        for n, (status, actor) in enumerate([("ok", "user"), ("blocked", "assistant"), ("denied", "assistant"),
                                             ("ok", "app")], 1):
            log.show(started(n, actor, command=f"read file:f{n}.txt"))
            log.show(finished(n, status, actor, command=f"read file:f{n}.txt"))
        await pilot.pause()
        log.set_filter("status:blocked,denied")
        assert [e.op_id for e in log.visible_rows() if isinstance(e, LogEntry)] == [2, 3]
        log.set_filter("actor:ai f3")
        assert [e.op_id for e in log.visible_rows() if isinstance(e, LogEntry)] == [3]
        log.set_filter("actor:you")
        assert [e.op_id for e in log.visible_rows() if isinstance(e, LogEntry)] == [1]
        log.set_filter("")
        assert len(log.visible_rows()) == 4
        # a running operation that ends blocked joins a status filter when it ends
        log.set_filter("status:blocked")
        log.show(started(5))
        log.show(finished(5, "blocked"))
        assert [e.op_id for e in log.visible_rows() if isinstance(e, LogEntry)] == [2, 5]
        assert LogFilter.parse("tool:read_file Hello").words == ("hello",)


async def test_the_filter_line_is_typed_into(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await submit(pilot, "read file:../secret")
        await submit(pilot, "list files:")
        await pilot.press("ctrl+f")
        assert app.focused is app.main.query_one("#log-filter", Input)
        app.main.query_one("#log-filter", Input).insert_text_at_cursor("status:blocked")
        await pilot.pause()
        rows = app.main.query_one(ExecutionLog).visible_rows()
        assert rows and all(isinstance(r, LogEntry) and r.status == "blocked" for r in rows)
        await pilot.press("enter")
        assert focused(app) is app.main.query_one(ExecutionLog)


async def test_blocked_and_denied_rows_stand_out() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(ExecutionLog)
        log.show(started(1))
        log.show(finished(1, "ok"))
        log.show(started(2))
        log.show(finished(2, "blocked", message="goes above the workspace"))
        await pilot.pause()
        ok_styles = {str(seg.style.bgcolor) for seg in log.render_line(0) if seg.style and seg.text.strip()}
        blocked = [seg for seg in log.render_line(1) if seg.text.strip()]
        assert all(seg.style is not None and seg.style.bgcolor is not None for seg in blocked)
        assert {str(seg.style.bgcolor) for seg in blocked if seg.style} != ok_styles


async def test_a_hundred_thousand_entries_are_taken_quickly() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(ExecutionLog)
        begin = time.perf_counter()
        for n in range(1, 100_001):
            log.show(started(n, command=f"write file:f{n}.txt content:{n}", tool="write_file"))
            log.show(finished(n, "ok" if n % 10 else "blocked", command=f"write file:f{n}.txt content:{n}",
                              tool="write_file"))
        await pilot.pause()
        took = time.perf_counter() - begin
        await pilot.pause()
        assert log.entry_count == 100_000 and took < 5.0
        assert rendered(log)[-1].startswith("12:00:00 BLOCKED you write file:f100000.txt")
        log.set_filter("status:blocked")
        assert len(log.visible_rows()) == 10_000


async def test_security_events_of_the_person_raise_a_notification(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await submit(pilot, "delete file:/etc/passwd")
        notes = [n for n in app._notifications if n.severity == "warning"]
        assert notes and "delete_file" in (notes[-1].title or "")


async def test_a_burst_of_refusals_is_one_notification(ops: SecureOperations) -> None:
    app = SandchatApp(ops)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        events = [e for n in range(100, 120) for e in (started(n, "assistant"), finished(n, "denied", "assistant"))]
        app.main.show_pipeline_events(events)
        await pilot.pause()
        notes = [n for n in app._notifications if n.severity == "warning"]
        assert len(notes) == 1 and notes[0].message.startswith("20 operations were blocked or denied")


async def test_the_filter_follows_operations_that_end_late_and_rows_that_are_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exec_log, "MAX_ROWS", 60)  # the oldest rows go often
    app = LogHost()
    async with app.run_test(size=(100, 12)):
        log = app.query_one(ExecutionLog)
        log.set_filter("status:blocked,running")
        text = "status:blocked,running"
        chance = random.Random(6)
        running: list[int] = []
        for n in range(1, 400):
            log.show(started(n, "assistant", command=f"run code:{n}", tool="execute_code"))
            running.append(n)
            for _ in range(chance.randrange(3)):  # output of the running operations, interleaved
                log.show(OutputChunk(chance.choice(running), "stdout", f"line of {n}\n"))
            while running and chance.random() < 0.5:  # operations end in any order, some long after they began
                op = running.pop(chance.randrange(len(running)))
                log.show(finished(op, chance.choice(["ok", "blocked", "denied"]), "assistant",
                                  command=f"run code:{op}", tool="execute_code"))
            expected = [row for row in log.rows if LogFilter.parse(text).matches(row)]
            assert log.visible_rows() == expected, n
        assert any(isinstance(row, OutputLine) for row in log.visible_rows())


async def test_the_log_keeps_to_the_newest_row_unless_scrolled_back() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(ExecutionLog)
        for n in range(1, 6):
            log.show(started(n))
        await pilot.pause()
        assert not log.show_vertical_scrollbar and log.scroll_y == 0
        for n in range(6, 200):
            log.show(started(n))
        await pilot.pause()
        assert log.show_vertical_scrollbar and log.scroll_y == log.max_scroll_y > 0
        assert log.vertical_scrollbar.position == log.scroll_y  # the thumb at the bottom, not at the top
        assert "#199" in rendered(log)[-1]
        log.scroll_to(y=10, animate=False)
        for step in (200, 300):
            for n in range(step, step + 100):
                log.show(started(n))
            await pilot.pause()
            assert log.scroll_y == 10 and log.max_scroll_y == n - log.scrollable_content_region.height
            assert log.vertical_scrollbar.window_virtual_size == n  # the bar knows the rows it scrolls over
        log.focus()
        await pilot.press("end")
        log.show(started(400))
        await pilot.pause()
        assert "#400" in rendered(log)[-1]


async def test_after_clear_a_running_operation_still_filters_right() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 12)):
        log = app.query_one(ExecutionLog)
        for n in range(1, 30):
            log.show(started(n))
        log.show(started(30, command="run code:x", tool="execute_code"))
        log.set_filter("status:blocked")
        log.clear()
        log.show(OutputChunk(30, "stdout", "after the clear\n"))
        log.show(finished(30, "blocked", command="run code:x", tool="execute_code"))
        shown = log.visible_rows()  # the entry went with the clear; its later output stays, and now matches
        assert len(shown) == 1 and isinstance(shown[0], OutputLine) and shown[0].entry.op_id == 30


# -- rows kept out of the garbage collector's sight ------------------------------------------------------------------
async def test_the_rows_are_not_tracked_by_the_garbage_collector() -> None:
    def add(ops: range) -> None:
        for n in ops:
            log.show(started(n, command=f"run code:print({n})", tool="execute_code"))
            log.show(OutputChunk(n, "stdout", f"{n}\nsecond line\n"))
            if n % 7:  # the rest stay running
                log.show(finished(n, "blocked" if n % 10 == 0 else "ok", command=f"run code:print({n})",
                                  tool="execute_code"))

    app = LogHost()
    async with app.run_test(size=(100, 12)) as pilot:
        log = app.query_one(ExecutionLog)
        log.set_filter("status:blocked")
        add(range(1, 1_001))  # the app's first frames of the log (Textual's caches) before counting
        await pilot.pause()
        gc.collect()
        before = len(gc.get_objects())
        add(range(1_001, 11_001))
        await pilot.pause()
        gc.collect()
        rows = log._rows
        assert len(rows) == 33_000
        assert not [row for row in rows if gc.is_tracked(row)]
        assert gc.is_tracked(rows)  # the list itself: one object for the collector, whatever the log holds
        # 30,000 more rows, 1,429 of them of running operations: the objects the collector walks do not grow with them
        grew = len(gc.get_objects()) - before
        assert grew < 3_000  # (Textual caches a few hundred objects more as it draws)
        assert len(log.visible_rows()) == 3 * len([n for n in range(1, 11_001) if n % 10 == 0 and n % 7])


async def test_output_lines_match_by_their_operations_status_when_it_ends() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 12)):
        log = app.query_one(ExecutionLog)
        log.set_filter("status:ok")
        log.show(started(1, command="run code:x", tool="execute_code"))
        log.show(OutputChunk(1, "stdout", "hello\nworld\n"))
        assert log.visible_rows() == []  # running: neither the entry nor its lines
        log.show(finished(1, "ok", command="run code:x", tool="execute_code"))
        shown = log.visible_rows()
        assert [type(row) for row in shown] == [LogEntry, OutputLine, OutputLine]
        assert all(isinstance(row, OutputLine) and row.entry.status == "ok" for row in shown[1:])
        # words of a line: the entry does not match them, its lines do once its status does
        log.set_filter("status:ok hello")
        log.show(started(2, command="run code:y", tool="execute_code"))
        log.show(OutputChunk(2, "stdout", "hello again\nbye\n"))
        assert [row.text for row in log.visible_rows() if isinstance(row, OutputLine)] == ["hello"]
        log.show(finished(2, "ok", command="run code:y", tool="execute_code"))
        assert [row.text for row in log.visible_rows() if isinstance(row, OutputLine)] == ["hello", "hello again"]
        # and the other way: lines shown while running go when it ends
        log.set_filter("status:running")
        log.show(started(3, command="run code:z", tool="execute_code"))
        log.show(OutputChunk(3, "stderr", "oops\n"))
        assert [type(row) for row in log.visible_rows()] == [LogEntry, OutputLine]
        log.show(finished(3, "error", command="run code:z", tool="execute_code"))
        assert log.visible_rows() == []


async def test_a_row_drawn_while_running_is_drawn_again_when_its_operation_ends() -> None:
    app = LogHost()
    async with app.run_test(size=(100, 30)) as pilot:
        log = app.query_one(ExecutionLog)
        status: dict[int, str] = {}
        for n in range(1, 21):
            log.show(started(n))
            status[n] = "running"
        await pilot.pause()
        labels = {"running": "…", "ok": "OK", "blocked": "BLOCKED", "error": "ERROR"}

        def check() -> None:
            lines = rendered(log)
            for n in range(1, 21):  # each row at the pane's width, many of them from the cache
                assert lines[n - 1].startswith(f"12:00:00 {labels[status[n]]}") and f"#{n} " in lines[n - 1] + " ", n

        check()
        order = list(range(1, 21))
        random.Random(3).shuffle(order)
        for k, n in enumerate(order):  # each end makes a new row and lets the old one go (a new row may take its id)
            status[n] = ["ok", "blocked", "error"][k % 3]
            log.show(finished(n, status[n]))
            check()


async def test_rows_dropped_at_max_rows_leave_the_output_lines_of_their_operations_matching(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exec_log, "MAX_ROWS", 50)
    app = LogHost()
    async with app.run_test(size=(100, 12)):
        log = app.query_one(ExecutionLog)
        log.set_filter("status:blocked")
        chance = random.Random(8)
        status: dict[int, str] = {}  # what each operation is, known apart from the log

        def check(n: int) -> None:
            rows = log.rows
            assert len(rows) <= 50
            for row in rows:
                entry = row if isinstance(row, LogEntry) else row.entry
                assert entry.status == status[entry.op_id], n
                if isinstance(row, OutputLine):
                    assert row.text == f"line of {entry.op_id}"
            assert log.visible_rows() == [row for row in rows if (row if isinstance(row, LogEntry) else row.entry)
                                          .status == "blocked"], n

        def run(op: int) -> None:
            log.show(started(op, command=f"run code:{op}", tool="execute_code"))
            status[op] = "running"

        def end(op: int, how: str) -> None:
            status[op] = how
            log.show(finished(op, how, command=f"run code:{op}", tool="execute_code"))

        def say(op: int) -> None:
            log.show(OutputChunk(op, "stdout", f"line of {op}\n"))

        run(1)  # runs all along: its row goes long before it ends; it prints now and then
        running: list[int] = []
        for n in range(2, 600):
            run(n)
            running.append(n)
            for _ in range(chance.randrange(4)):  # lines of operations whose rows may have gone
                say(chance.choice(running[:3]))
            if n % 97 == 0:
                say(1)
            while len(running) > 3 or (running and chance.random() < 0.3):
                end(running.pop(chance.randrange(len(running))), chance.choice(["ok", "blocked"]))
            check(n)
        say(1)
        end(1, "blocked")
        check(600)
        assert 1 not in [entry.op_id for entry in log.entries]  # its row went long ago; its last lines are left
        ones = [row for row in log.visible_rows() if isinstance(row, OutputLine) and row.entry.op_id == 1]
        assert ones and all(row == OutputLine(LogEntry(1, "user", "execute_code", "run code:1", 0.0, "blocked", 0.012,
                                                       None, "done", 0), "stdout", "line of 1") for row in ones)
        # dropped operations are kept only while running or while their lines are left
        lines = [row for row in log.rows if isinstance(row, OutputLine)]
        assert len(log._gone) <= len(running) + len({row.entry.op_id for row in lines})
