"""Pipeline events on their way to the app: a message at most every PERIOD, batches of bounded size, none lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from textual import events
from textual.message import Message

from core.events import Event, OperationBlocked, OperationFinished, OperationStarted
from core.operations import SecureOperations
from core.results import OperationResult
from tests.tui.fakes import FixedBackend
from tests.tui.helpers import settle, wait_until
from tui.app import SandchatApp
from tui.messages import PERIOD, PipelineBatcher, PipelineEvents
from tui.widgets.exec_log import ExecutionLog
from tui.widgets.prompt import PromptArea

FIRST_ID = 1_000_001  # apart from the ids of the app's own operations (listing the files)


class ScriptedLater:
    """Stands in for the event loop's call_later: the test runs each callback when it chooses."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.calls.append((delay, callback))

    def run_next(self) -> float:
        delay, callback = self.calls.pop(0)
        callback()
        return delay


def started(n: int) -> OperationStarted:
    return OperationStarted(n, "assistant", f"read file:f{n}.txt", "read_file", 0.0)


def operation(n: int, blocked: bool = False) -> list[Event]:
    result = OperationResult(n, "assistant", f"read file:f{n}.txt", "read_file", "blocked" if blocked else "ok",
                             "path rejected" if blocked else "done", duration=0.001)
    return [started(n), OperationBlocked(result) if blocked else OperationFinished(result)]


def ids(batch: list[Event]) -> list[int]:
    started_only = [e for e in batch if isinstance(e, OperationStarted)]
    assert len(started_only) == len(batch)
    return [e.op_id for e in started_only]


def messages(posted: list[Message]) -> list[PipelineEvents]:
    return [m for m in posted if isinstance(m, PipelineEvents)]


def test_events_wait_in_one_message_and_the_next_comes_a_frame_after_a_take() -> None:
    posted: list[Message] = []
    later = ScriptedLater()
    batcher = PipelineBatcher(posted.append, period=0.02, most=100, later=later)
    for n in range(3):
        batcher(started(n))
    assert len(posted) == 1  # the first event posted it; the others joined it while it waited
    first = messages(posted)[0]
    assert ids(first.take()) == [0, 1, 2]
    assert first.take() == []  # taken already
    assert [delay for delay, _ in later.calls] == [0.02]
    batcher(started(3))
    batcher(started(4))
    assert len(posted) == 1  # held until the frame is over
    later.run_next()
    assert len(posted) == 2 and ids(messages(posted)[1].take()) == [3, 4]
    later.run_next()  # a frame with nothing new: no message, and the next event goes at once
    assert len(posted) == 2
    batcher(started(5))
    assert len(posted) == 3 and ids(messages(posted)[2].take()) == [5]


def test_a_backlog_comes_in_batches_of_at_most_most_one_turn_apart() -> None:
    posted: list[Message] = []
    later = ScriptedLater()
    batcher = PipelineBatcher(posted.append, period=0.02, most=3, later=later)
    for n in range(10):
        batcher(started(n))
    taken: list[int] = []
    delays: list[float] = []
    while len(messages(posted)) > len(delays):
        batch = messages(posted)[-1].take()
        assert len(batch) <= 3
        taken += ids(batch)
        delays.append(later.run_next())
    assert taken == list(range(10))
    assert delays == [0.0, 0.0, 0.0, 0.02]  # at the next turn while events are left, then a frame


async def test_events_from_threads_all_arrive_once_and_in_their_order() -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Message] = asyncio.Queue()
    batcher = PipelineBatcher(lambda m: loop.call_soon_threadsafe(queue.put_nowait, m), most=500)
    threads, each = 4, 5_000

    def report(thread: int) -> None:
        for n in range(each):
            batcher(started(thread * each + n))

    workers = [threading.Thread(target=report, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    got: list[int] = []
    handled = 0
    while len(got) < threads * each:
        message = await asyncio.wait_for(queue.get(), 10)
        assert isinstance(message, PipelineEvents)
        got += ids(message.take())
        handled += 1
    for worker in workers:
        worker.join()
    assert sorted(got) == list(range(threads * each))
    for t in range(threads):
        assert [n for n in got if n // each == t] == list(range(t * each, (t + 1) * each))
    assert handled < threads * each // 10  # many events to a message
    assert PERIOD <= 1 / 30  # short enough not to be seen


async def test_through_the_app_every_operation_is_logged_once_in_order_and_notified_once() -> None:
    app = SandchatApp(SecureOperations(FixedBackend()))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.main.notify_gap = 3600.0  # the first refusals at once, the rest in a summary much later
        log = app.main.query_one(ExecutionLog)
        listener = PipelineBatcher(app.post_message)  # what the app subscribes to the pipeline
        count = 3_000
        for n in range(FIRST_ID, FIRST_ID + count):
            for event in operation(n, blocked=n % 10 == 0):
                listener(event)
            if n % 25 == 0:
                await asyncio.sleep(0)  # the app gets a turn, as it does while a pipeline runs
        await wait_until(pilot, lambda: sum(e.op_id >= FIRST_ID for e in log.entries) == count, "every entry")
        ours = [e for e in log.entries if e.op_id >= FIRST_ID]
        assert [e.op_id for e in ours] == list(range(FIRST_ID, FIRST_ID + count))
        assert [e.status for e in ours] == ["blocked" if e.op_id % 10 == 0 else "ok" for e in ours]
        assert len([n for n in app._notifications if n.severity == "warning"]) == 1
        log.set_filter("status:blocked")
        assert len(log.visible_rows()) == count // 10


async def test_a_key_press_is_answered_while_a_burst_is_still_being_logged() -> None:
    app = SandchatApp(SecureOperations(FixedBackend()))
    logged: list[ExecutionLog] = []
    shown_at_key: list[int] = []  # entries in the log each time the key reached a handler (the app, the prompt)

    def hook(message: Message) -> None:
        if isinstance(message, events.Key) and logged:
            shown_at_key.append(logged[0].entry_count)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await settle(pilot)
        log = app.main.query_one(ExecutionLog)
        logged.append(log)
        assert app.focused is app.main.query_one(PromptArea)
        before = log.entry_count
        listener = PipelineBatcher(app.post_message, most=1_000)
        count = 20_000
        for n in range(FIRST_ID, FIRST_ID + count):
            for event in operation(n):
                listener(event)
        app.post_message(events.Key("x", "x"))  # as the driver does, after the whole burst
        await wait_until(pilot, lambda: log.entry_count - before == count, "the burst")
        await pilot.pause()
        assert app.main.query_one(PromptArea).text == "x"
        assert shown_at_key and shown_at_key[-1] - before < count // 2  # between batches, not after them all
