"""Process control for local runs: the rlimit gate that holds bwrap's child, and killing what a run started.

rlimits (``RlimitGate``): bwrap writes the host pid of the process it is about to turn into the sandboxed
command to ``--info-fd``, and holds it just before exec until a byte arrives on ``--block-fd``. We set its
rlimits with ``prlimit()`` meanwhile and only then write that byte. If anything goes wrong on the way the
process is killed before the gate opens (closing the pipe unwritten would release it too), and the run fails:
code never runs without its limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import resource
import signal
from collections.abc import Sequence

from core.errors import BackendError


class RlimitGate:
    """bwrap's --info-fd and --block-fd: hold the sandboxed process before its exec until its rlimits are set.

    Use as a context manager around the run; pass ``child_fds`` to the child and ``bwrap_args`` to bwrap.
    """

    def __init__(self, rlimits: Sequence[tuple[int, int, int]]) -> None:
        self.rlimits = tuple(rlimits)
        self._info_r, self._info_w = os.pipe2(os.O_CLOEXEC)  # Popen's pass_fds makes them inheritable
        self._block_r, self._block_w = os.pipe2(os.O_CLOEXEC)
        self._open = [self._info_r, self._info_w, self._block_r, self._block_w]

    @property
    def child_fds(self) -> tuple[int, int]:
        return self._info_w, self._block_r

    def bwrap_args(self) -> list[str]:
        return ["--info-fd", str(self._info_w), "--block-fd", str(self._block_r)]

    def __enter__(self) -> RlimitGate:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in self._open:
            os.close(fd)
        self._open.clear()

    def spawned(self) -> None:
        """Drop our copies of bwrap's ends, so that a bwrap that dies reads as end-of-file."""
        self._close(self._info_w)
        self._close(self._block_r)

    async def release(self, bwrap_pid: int) -> None:
        """Set the rlimits of bwrap's sandboxed process and let it exec; on any failure kill it and raise.

        A bwrap that exits before it reports a process (it could not build the sandbox) is left to be
        reaped and reported as usual.
        """
        info = await self._read_info()
        try:
            child = int(json.loads(info)["child-pid"]) if info else None
        except (ValueError, KeyError, TypeError) as exc:
            kill_children(bwrap_pid)
            raise BackendError(f"bubblewrap reported no sandbox process: {info[:200]!r}") from exc
        if child is None:
            kill_children(bwrap_pid)  # nothing should be there; nothing may run unlimited if it is
            return
        try:
            _set_rlimits(bwrap_pid, child, self.rlimits)
            os.write(self._block_w, b"x")  # fails only if the process is gone
        except OSError as exc:
            kill_children(bwrap_pid)
            raise BackendError(f"could not set the sandbox's resource limits: {exc}") from exc
        self._close(self._block_w)

    async def _read_info(self) -> bytes:
        """bwrap's JSON, up to the end-of-file it gives by closing the fd once written."""
        loop = asyncio.get_running_loop()
        fd, done = self._info_r, loop.create_future()
        data = bytearray()

        def readable() -> None:
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            data.extend(chunk)
            if not chunk or len(data) > 65536:
                loop.remove_reader(fd)
                if not done.done():
                    done.set_result(None)

        os.set_blocking(fd, False)
        loop.add_reader(fd, readable)
        try:
            await done
        finally:
            loop.remove_reader(fd)
        return bytes(data)

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.remove(fd)
            os.close(fd)


def _set_rlimits(bwrap_pid: int, child: int, rlimits: Sequence[tuple[int, int, int]]) -> None:
    """prlimit() ``child``, making sure it is bwrap's sandboxed process and was the same one throughout.

    bwrap forks exactly one child. The pidfd is opened first; the pid being bwrap's child after that
    shows the pidfd is that process, and the pidfd still live after the prlimit calls shows the pid was
    not recycled meanwhile. On any failure the process is killed through the pidfd.
    """
    pidfd = _pidfd_open(child)
    try:
        _check_parent(child, bwrap_pid)
        for res, soft, hard in rlimits:
            _, ours = resource.getrlimit(res)  # it inherited our limits; lowering a hard limit needs no privilege
            if ours != resource.RLIM_INFINITY:
                hard = min(hard, ours)
            resource.prlimit(child, res, (min(soft, hard), hard))
        if pidfd is None:
            _check_parent(child, bwrap_pid)
        else:
            signal.pidfd_send_signal(pidfd, 0)
    except OSError:
        if pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        raise
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _pidfd_open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError as exc:
        if exc.errno == errno.ENOSYS:  # Linux before 5.3: bwrap's unreaped child keeps its pid meanwhile
            return None
        raise


def _check_parent(pid: int, parent: int) -> None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            ppid = int(handle.read().rsplit(")", 1)[1].split()[1])  # field 4 of proc(5)
    except (IndexError, ValueError) as exc:
        raise ProcessLookupError(f"cannot read process {pid}") from exc
    if ppid != parent:
        raise ProcessLookupError(f"process {pid} is not bubblewrap's")


def kill_children(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal ``pid``'s direct children: under bwrap, the sandbox's pid 1, whose death makes the kernel kill
    everything else in the pid namespace; in weak mode, the program under its watchdog.

    ``pid`` itself is left alive on purpose: bwrap must live to reap the sandbox's pid 1, or that process
    would become a zombie of whatever reaps orphans on this host (and some hosts never do).
    """
    for child in _children(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, sig)


def kill_group(pid: int) -> None:
    """SIGKILL the process group ``pid`` leads: the stragglers of weak mode, or a bwrap that will not exit."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(part) for part in handle.read().split()]
    except (OSError, ValueError):
        return []
