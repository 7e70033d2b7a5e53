"""Run one sandbox command: stream its output, enforce the wall clock, kill its whole tree, report usage.

Why not ``asyncio.create_subprocess_exec``: its child watcher reaps the process with ``waitpid`` and throws
away the resource usage. Here the process is started with ``subprocess.Popen`` and reaped with ``os.wait4``,
whose rusage covers bubblewrap and every process it waited for: bwrap waits for the sandbox's pid 1
(``--as-pid-1``), and when that exits the kernel kills and reaps the rest of the namespace on its behalf.
That is where ``cpu_time`` and ``peak_memory`` come from. ``peak_memory`` is None when it cannot be told
apart from this app's own size (exec() folds the parent's peak RSS into the child's).

bwrap reports a sandboxed program killed by signal N as exit status 128+N, as shells do, so such statuses
are reported as that signal; a program that really exits with 129..192 is misread the same way a shell
would misread it.

The reaping is done in two steps so that killing is never aimed at a recycled id: a pidfd (or, on kernels
without one, ``waitid(WNOWAIT)`` in a thread) tells of the exit but leaves a zombie that keeps the pid and
process group reserved; then the group is killed (which removes leftovers in weak mode); only then ``wait4``
reaps.

rlimits are set by ``RlimitGate`` (core/backends/local_gate.py) before the sandboxed command may exec.

Output: both pipes are read concurrently on the event loop, each chunk is decoded incrementally and handed to
``on_output`` at once. At most ``output_bytes`` per stream are kept; beyond that the pipe is still drained and
discarded, so the child never blocks on a full pipe and our memory stays flat. The run is not killed for
printing too much: that would change what the program does, and the wall clock already bounds it.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import logging
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from core.backends.base import ExecResult, OutputCallback, Stream
from core.backends.local_gate import RlimitGate, kill_children, kill_group
from core.errors import BackendError

log = logging.getLogger(__name__)

_PIPE_GRACE = 2.0  # seconds to wait for the pipes to close after the process is gone
_KILL_GRACE = 1.0  # seconds each step of stopping a run may take before the next, harder one


@dataclass(frozen=True)
class RunRequest:
    """A fully prepared command: everything but the output and the clock."""

    language: str
    argv: Sequence[str]
    env: dict[str, str]
    timeout: float
    output_bytes: int
    cwd: str | None = None
    pass_fds: tuple[int, ...] = ()
    # Sent first to the started process's children at the deadline. SIGALRM asks an in-sandbox
    # ``timeout`` watchdog to end the run itself: it kills its group and reaps the program, so the
    # program's CPU time still reaches our rusage. A SIGKILL from outside lands on the pid-namespace
    # init, and the kernel then reaps the rest without accounting for it.
    stop_signal: int = signal.SIGKILL
    gate: RlimitGate | None = None  # bwrap's process to hold until its rlimits are set


class _StreamCollector:
    """Keeps the first ``cap`` bytes of one stream and passes decoded text on as it arrives."""

    def __init__(self, stream: Stream, cap: int, on_output: OutputCallback | None) -> None:
        self.stream: Stream = stream
        self.cap = cap
        self.kept = bytearray()
        self.truncated = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._on_output = on_output

    def feed(self, data: bytes) -> None:
        room = self.cap - len(self.kept)
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self.kept += data
            self._emit(self._decoder.decode(data))

    def finish(self) -> str:
        self._emit(self._decoder.decode(b"", final=True))
        return self.kept.decode("utf-8", errors="replace")

    def _emit(self, text: str) -> None:
        if not text or self._on_output is None:
            return
        try:
            self._on_output(self.stream, text)
        except Exception:  # a broken listener must not break the run, or leave the pipe undrained
            log.exception("output callback failed; no more output is passed to it")
            self._on_output = None


class _PipeReader(asyncio.Protocol):
    def __init__(self, collector: _StreamCollector, closed: asyncio.Future[None]) -> None:
        self._collector = collector
        self._closed = closed

    def data_received(self, data: bytes) -> None:
        self._collector.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)


def _watch_exit(loop: asyncio.AbstractEventLoop, pid: int) -> asyncio.Future[None]:
    """A future done when ``pid`` has exited, without reaping it: a pidfd turns readable then."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # Linux before 5.3: a thread waits instead
        return asyncio.ensure_future(asyncio.to_thread(_wait_exit, pid))
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, readable)
    return exited


def _wait_exit(pid: int) -> None:
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


async def run_command(request: RunRequest, on_output: OutputCallback | None) -> ExecResult:
    """Start ``request.argv`` in its own session and supervise it until every trace of it is gone."""
    loop = asyncio.get_running_loop()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    proc = _spawn(request)
    assert proc.stdout is not None and proc.stderr is not None
    if request.gate is not None:
        request.gate.spawned()
    exited = _watch_exit(loop, proc.pid)
    out = _StreamCollector("stdout", request.output_bytes, on_output)
    err = _StreamCollector("stderr", request.output_bytes, on_output)
    closed: list[asyncio.Future[None]] = [loop.create_future(), loop.create_future()]
    transports: list[asyncio.BaseTransport] = []
    timed_out = False
    try:
        transports.append(await _connect(loop, proc.stdout, out, closed[0]))
        transports.append(await _connect(loop, proc.stderr, err, closed[1]))
        try:
            if request.gate is not None:
                await asyncio.wait_for(request.gate.release(proc.pid), request.timeout)
            await asyncio.wait_for(asyncio.shield(exited), started + request.timeout - time.monotonic())
        except TimeoutError:
            timed_out = True
            await _stop(proc.pid, exited, request.stop_signal)
    except BackendError:  # refused at the gate, nothing ran: end bwrap and reap it before reporting
        try:
            await _stop(proc.pid, exited, signal.SIGKILL)
        except BaseException:
            _abandon(loop, proc, exited, transports)
            raise
        kill_group(proc.pid)
        _reap(proc)
        for transport in transports:
            transport.close()
        raise
    except BaseException:  # cancelled
        _abandon(loop, proc, exited, transports)
        raise
    kill_group(proc.pid)  # our unreaped child still holds the group id, so this cannot hit a stranger
    status, usage = _reap(proc)
    duration = time.monotonic() - started
    await _drain(closed, transports)
    return _result(request, status, usage, baseline, duration, timed_out, out, err)


async def _stop(pid: int, exited: asyncio.Future[None], first: int) -> None:
    """End a run that is out of time: ask, then kill the sandbox's pid 1, then everything we started."""
    steps: list[Callable[[], None]] = [
        functools.partial(kill_children, pid, first),
        functools.partial(kill_children, pid, signal.SIGKILL),
        functools.partial(kill_group, pid),
    ]
    for step in steps:
        step()
        try:
            await asyncio.wait_for(asyncio.shield(exited), _KILL_GRACE)
            return
        except TimeoutError:
            continue
    await asyncio.shield(exited)


def _spawn(request: RunRequest) -> subprocess.Popen[bytes]:
    """Start the command. Synchronously on purpose: Popen uses vfork here, so this takes about a
    millisecond, and no cancellation can land between the start and the supervision."""
    try:
        return subprocess.Popen(
            list(request.argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=request.env,
            cwd=request.cwd,
            pass_fds=request.pass_fds,
            start_new_session=True,  # our own process group, so one killpg reaches everything we started
        )
    except OSError as exc:
        raise BackendError(f"could not start {request.argv[0]}: {exc.strerror or exc}") from exc


async def _connect(
    loop: asyncio.AbstractEventLoop, pipe: IO[bytes], collector: _StreamCollector, closed: asyncio.Future[None]
) -> asyncio.BaseTransport:
    transport, _ = await loop.connect_read_pipe(lambda: _PipeReader(collector, closed), pipe)
    return transport


def _abandon(
    loop: asyncio.AbstractEventLoop,
    proc: subprocess.Popen[bytes],
    exited: asyncio.Future[None],
    transports: list[asyncio.BaseTransport],
) -> None:
    """Kill a run we stop supervising, and reap it in the background so no zombie is left."""
    kill_children(proc.pid)
    loop.call_later(_KILL_GRACE, _kill_group_unless_exited, exited, proc.pid)
    exited.add_done_callback(lambda _: _finish_abandoned(proc))
    for transport in transports:
        transport.close()


def _kill_group_unless_exited(exited: asyncio.Future[None], pid: int) -> None:
    if not exited.done():
        kill_group(pid)


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, resource.struct_rusage]:
    """Reap an exited child (waitid said so) with its rusage; tell Popen, so it never waits for it again."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return status, usage


def _finish_abandoned(proc: subprocess.Popen[bytes]) -> None:
    """After a cancelled run exits: kill what is left in its group (weak mode), then reap it."""
    kill_group(proc.pid)
    with contextlib.suppress(ChildProcessError):
        _reap(proc)


async def _drain(closed: list[asyncio.Future[None]], transports: list[asyncio.BaseTransport]) -> None:
    """Let the pipes deliver what is still buffered; give up on a writer that somehow escaped the kill."""
    if not all(future.done() for future in closed):  # usually both have closed by the time it is reaped
        done, _ = await asyncio.wait(closed, timeout=_PIPE_GRACE)
        if len(done) < len(closed):
            log.warning("a sandboxed process kept its output open after the run; closing it")
    for transport in transports:
        transport.close()


def _result(
    request: RunRequest,
    status: int,
    usage: resource.struct_rusage,
    baseline: int,
    duration: float,
    timed_out: bool,
    out: _StreamCollector,
    err: _StreamCollector,
) -> ExecResult:
    exit_code, sig = _decode_status(status)
    cpu = usage.ru_utime + usage.ru_stime
    # exec() folds the spawning process's peak RSS (this app's) into the child's ru_maxrss, so a value
    # not above our own peak cannot be told apart from it: report None ("small") rather than a wrong number.
    peak = usage.ru_maxrss * 1024 if usage.ru_maxrss > baseline else None  # KiB on Linux
    if timed_out:
        exit_code, reason = None, f"wall-clock timeout of {request.timeout:g} s"
    else:
        reason = _signal_reason(sig)
    return ExecResult(
        language=request.language,
        exit_code=exit_code,
        stdout=out.finish(),
        stderr=err.finish(),
        duration=duration,
        cpu_time=cpu,
        peak_memory=peak,
        timed_out=timed_out,
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
        signal=sig,
        killed_reason=reason,
    )


def _decode_status(status: int) -> tuple[int | None, int | None]:
    """(exit code, signal). bubblewrap reports a signal death as 128+N, the way shells do; so do we."""
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    if 128 < code < 128 + signal.NSIG:
        return None, code - 128
    return code, None


def _signal_reason(sig: int | None) -> str:
    if sig is None:
        return ""
    known: dict[int, str] = {
        signal.SIGXCPU: "CPU time limit",
        signal.SIGXFSZ: "file size limit",
        signal.SIGSYS: "forbidden system call",
    }
    if sig in known:
        return known[sig]
    try:
        return f"killed by {signal.Signals(sig).name}"
    except ValueError:
        return f"killed by signal {sig}"
