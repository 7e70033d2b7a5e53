"""Attacks on the local sandbox, each shown CONTAINED by its observed effect on the host, not by exit codes.

Each test runs as its own sandbox uid (when root), so "no process left" can be checked exactly: any process
of that uid that started during the test and still exists, even as a zombie, is a leak.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import select
import socket
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.backends.local import LocalSandbox, SandboxLimits
from core.errors import PathRejected

_TICKS = os.sysconf("SC_CLK_TCK")
_uids = iter(range(64700, 64800))


@pytest.fixture
def sandbox_uid() -> int:
    return next(_uids) if os.geteuid() == 0 else os.getuid()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def sandbox(workspace: Path, sandbox_uid: int) -> LocalSandbox:
    return LocalSandbox(workspace, sandbox_uid=sandbox_uid)


@pytest.fixture
def no_leftovers(sandbox_uid: int) -> Iterator[None]:
    """Fail the test if any process of the sandbox uid that started during it is still there afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a dedicated sandbox uid (to count its processes) needs root")
    since = time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS - 1
    yield
    assert _processes_of(sandbox_uid, since) == []


async def run(sandbox: LocalSandbox, code: str, seconds: float = 20, language: str = "python") -> str:
    result = await sandbox.execute_code(textwrap.dedent(code), language, seconds)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


async def test_host_secrets_and_home_are_absent(sandbox: LocalSandbox) -> None:
    assert _exists("/etc/shadow") and _exists("/root")  # there is something to hide
    report = json.loads(
        await run(
            sandbox,
            """
            import json, os
            def attempt(fn):
                try:
                    return repr(fn())[:60]
                except OSError as exc:
                    return type(exc).__name__
            print(json.dumps({
                "shadow": attempt(lambda: open("/etc/shadow").read()),
                "root": attempt(lambda: os.listdir("/root")),
                "home": attempt(lambda: os.listdir("/home")),
                "etc": sorted(os.listdir("/etc")),
                "passwd": open("/etc/passwd").read(),
            }))
            """,
        )
    )
    assert report["shadow"] == report["root"] == report["home"] == "FileNotFoundError"
    assert report["etc"] == sorted(
        ["alternatives", "group", "hosts", "ld.so.cache", "localtime", "nsswitch.conf", "os-release", "passwd"]
    )
    host_users = {line.split(":")[0] for line in _read("/etc/passwd").splitlines()}
    inside_users = {line.split(":")[0] for line in report["passwd"].splitlines()}
    assert inside_users <= {"root", "sandbox", "nobody"} and len(host_users - inside_users) > 0


async def test_nothing_outside_the_workspace_is_writable(sandbox: LocalSandbox, workspace: Path) -> None:
    marker = f"sandchat-{uuid.uuid4().hex}"
    report = json.loads(
        await run(
            sandbox,
            f"""
            import json
            results = {{}}
            for path in ["/usr/{marker}", "/etc/{marker}", "/{marker}", "/proc/{marker}", "/run/{marker}",
                         "/tmp/{marker}", "/workspace/{marker}"]:
                try:
                    open(path, "w").write("x")
                    results[path] = "written"
                except OSError as exc:
                    results[path] = type(exc).__name__
            print(json.dumps(results))
            """,
        )
    )
    written = {path for path, outcome in report.items() if outcome == "written"}
    assert written == {f"/tmp/{marker}", f"/workspace/{marker}"}
    assert not _exists(f"/tmp/{marker}")  # the sandbox's /tmp is its own
    assert not _exists(f"/usr/{marker}") and not _exists(f"/etc/{marker}")
    assert (workspace / marker).read_text() == "x"


async def test_symlink_to_etc_leads_nowhere(sandbox: LocalSandbox, workspace: Path) -> None:
    (workspace / "etc_link").symlink_to("/etc")
    with pytest.raises(PathRejected, match="symlink points outside the workspace"):
        await sandbox.read_file("etc_link/shadow", 1 << 20)
    out = await run(
        sandbox,
        """
        import os
        print(sorted(os.listdir("/workspace/etc_link")))
        try:
            open("/workspace/etc_link/shadow").read()
        except OSError as exc:
            print(type(exc).__name__)
        """,
    )
    listing, shadow = out.splitlines()
    assert "shadow" not in listing and "ssh" not in listing  # it is the sandbox's own tiny /etc
    assert shadow == "FileNotFoundError"


async def test_writing_through_a_symlink_to_the_host_fails(
    sandbox: LocalSandbox, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("original")
    (workspace / "out").symlink_to(outside)
    with pytest.raises(PathRejected):
        await sandbox.write_file("out/victim.txt", b"pwned by the app")
    out = await run(
        sandbox,
        """
        for path in ("/workspace/out/victim.txt", "/workspace/out/new.txt"):
            try:
                open(path, "w").write("pwned by code")
                print("written")
            except OSError as exc:
                print(type(exc).__name__)
        """,
    )
    assert "written" not in out
    assert (outside / "victim.txt").read_text() == "original"
    assert [p.name for p in outside.iterdir()] == ["victim.txt"]


async def test_no_network_not_even_the_hosts_loopback(sandbox: LocalSandbox) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    try:
        report = json.loads(
            await run(
                sandbox,
                f"""
                import json, socket
                def connect(addr):
                    try:
                        socket.create_connection(addr, timeout=3).close()
                        return "connected"
                    except OSError as exc:
                        return type(exc).__name__ + ": " + str(exc)
                print(json.dumps({{
                    "loopback": connect(("127.0.0.1", {port})),
                    "internet": connect(("1.1.1.1", 53)),
                    "interfaces": [name for _, name in socket.if_nameindex()],
                }}))
                """,
            )
        )
        readable, _, _ = select.select([listener], [], [], 0.2)
        assert readable == []  # nothing ever reached the host's listener
    finally:
        listener.close()
    assert report["loopback"].startswith("ConnectionRefusedError")  # its own, empty loopback
    assert "unreachable" in report["internet"]
    assert report["interfaces"] == ["lo"]


@pytest.mark.usefixtures("no_leftovers")
async def test_fork_bomb_is_contained(sandbox: LocalSandbox) -> None:
    code = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
    """
    started = time.monotonic()
    result = await sandbox.execute_code(textwrap.dedent(code), "python", 2)
    assert result.timed_out and time.monotonic() - started < 8
    host = await asyncio.create_subprocess_exec("/bin/true")  # the host can still start processes
    assert await host.wait() == 0


async def test_fork_bomb_hits_the_process_limit(sandbox: LocalSandbox) -> None:
    code = """
    import os, sys, time
    children = 0
    try:
        while children < 1000:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError as exc:
        print(children, exc.errno)
    """
    out = await run(sandbox, code, seconds=20)
    children, errno_value = map(int, out.split())
    assert errno_value == 11 and children < SandboxLimits().processes  # EAGAIN from RLIMIT_NPROC


async def test_allocating_4_gib_fails_inside(sandbox: LocalSandbox) -> None:
    out = await run(
        sandbox,
        """
        import mmap
        for name, grab in (("heap", lambda: bytearray(4 << 30)), ("shared", lambda: mmap.mmap(-1, 4 << 30))):
            try:
                grab()
                print(name, "allocated")
            except (MemoryError, OSError) as exc:
                print(name, type(exc).__name__)
        """,
    )
    assert out.splitlines() == ["heap MemoryError", "shared OSError"]


@pytest.mark.usefixtures("no_leftovers")
async def test_infinite_loop_with_a_child_is_killed_at_the_timeout(sandbox: LocalSandbox) -> None:
    code = """
    import subprocess
    subprocess.Popen(["sleep", "1000"])
    print("looping", flush=True)
    while True:
        pass
    """
    started = time.monotonic()
    result = await sandbox.execute_code(textwrap.dedent(code), "python", 2)
    assert result.timed_out and result.exit_code is None
    assert result.killed_reason == "wall-clock timeout of 2 s"
    assert result.stdout == "looping\n"  # output printed before the kill is kept
    assert result.cpu_time is not None and result.cpu_time > 0.5  # the loop's CPU time is still accounted
    assert 2 <= time.monotonic() - started < 6


async def test_file_size_limit_stops_a_100_mb_file(sandbox: LocalSandbox, workspace: Path) -> None:
    limit = SandboxLimits().file_size_bytes
    out = await run(
        sandbox,
        """
        try:
            with open("/workspace/big.bin", "wb") as f:
                for _ in range(100):
                    f.write(b"x" * (1 << 20))
            print("complete")
        except OSError as exc:
            print(exc.strerror)
        """,
    )
    assert out.strip() == "File too large"
    assert (workspace / "big.bin").stat().st_size <= limit
    result = await sandbox.execute_code("head -c 100000000 /dev/zero > big2.bin; echo $?", "bash", 20)
    assert result.stdout.strip() == str(128 + 25)  # head died of SIGXFSZ
    assert (workspace / "big2.bin").stat().st_size <= limit


async def test_50_mb_of_output_is_capped_and_memory_stays_flat(sandbox: LocalSandbox) -> None:
    seen = 0

    def count(stream: str, text: str) -> None:
        nonlocal seen
        seen += len(text)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = (
        "import sys\nfor _ in range(50):\n    sys.stdout.buffer.write(b'x' * (1 << 20))\nprint('done', file=sys.stderr)"
    )
    result = await sandbox.execute_code(code, "python", 30, count)
    growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    cap = SandboxLimits().output_bytes
    assert result.ok and result.stdout_truncated and not result.stderr_truncated
    assert len(result.stdout) == cap and seen == cap + len("done\n")
    assert result.stderr == "done\n"  # the whole program ran: the rest was drained, not blocked
    assert growth_kib < 30 * 1024


@pytest.mark.usefixtures("no_leftovers")
async def test_background_processes_die_with_the_script(sandbox: LocalSandbox) -> None:
    code = """
    import os, subprocess
    subprocess.Popen(["sleep", "1000"], start_new_session=True)
    os.system("nohup sleep 1000 >/dev/null 2>&1 &")
    if os.fork() == 0:  # a daemon-style double fork
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "1000"])
        os._exit(0)
    print("bye")
    """
    started = time.monotonic()
    result = await sandbox.execute_code(textwrap.dedent(code), "python", 20)
    assert result.ok and result.stdout == "bye\n"
    assert time.monotonic() - started < 5  # no waiting for the stragglers


@pytest.mark.skipif(os.geteuid() != 0, reason="tests the root path")
async def test_code_never_runs_as_root(sandbox: LocalSandbox, sandbox_uid: int) -> None:
    report = json.loads(
        await run(
            sandbox,
            """
            import json, os
            status = dict(line.split(":", 1) for line in open("/proc/self/status"))
            try:
                os.setuid(0)
                regained = True
            except PermissionError:
                regained = False
            print(json.dumps({
                "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()],
                "caps": {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
                "nnp": status["NoNewPrivs"].strip(), "regained": regained,
            }))
            """,
        )
    )
    assert report["ids"] == [sandbox_uid, sandbox_uid, sandbox_uid, []]
    assert set(report["caps"].values()) == {"0000000000000000"}
    assert report["nnp"] == "1" and report["regained"] is False


async def test_seccomp_refuses_dangerous_syscalls(sandbox: LocalSandbox) -> None:
    # Numbers typed in again here (not imported) so a wrong table in seccomp.py cannot pass by itself.
    # Without the filter ptrace(PTRACE_TRACEME) and unshare(0) would succeed and clone3 would not be
    # ENOSYS on this kernel, so those answers come from seccomp; for the rest EPERM shows refusal either way.
    numbers = {
        "x86_64": {"ptrace": 101, "unshare": 272, "mount": 165, "keyctl": 250, "bpf": 321, "userfaultfd": 323},
        "aarch64": {"ptrace": 117, "unshare": 97, "mount": 40, "keyctl": 219, "bpf": 280, "userfaultfd": 282},
    }
    clone3 = 435  # the same on both
    machine = os.uname().machine
    if machine not in numbers:
        pytest.skip(f"no seccomp filter on {machine}")
    code = f"""
    import ctypes, errno, json, subprocess, threading
    libc = ctypes.CDLL(None, use_errno=True)
    out = {{}}
    for name, nr in {numbers[machine]!r}.items():
        libc.syscall(nr, 0, 0, 0, 0, 0)
        out[name] = errno.errorcode.get(ctypes.get_errno())
    libc.syscall({clone3}, 0, 0)
    out["clone3"] = errno.errorcode.get(ctypes.get_errno())
    out["unshare_cmd"] = subprocess.run(["unshare", "-U", "true"], capture_output=True, text=True).stderr
    out["seccomp"] = [line.split()[1] for line in open("/proc/self/status") if line.startswith("Seccomp:")]
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    out["thread_and_subprocess"] = subprocess.run(["echo", "ok"], capture_output=True, text=True).stdout
    print(json.dumps(out))
    """
    report = json.loads(await run(sandbox, code))
    for name in numbers[machine]:
        assert report[name] == "EPERM", name
    assert report["clone3"] == "ENOSYS"  # so that glibc falls back to clone, whose flags BPF can check
    assert "Operation not permitted" in report["unshare_cmd"]
    assert report["seccomp"] == ["2"]  # SECCOMP_MODE_FILTER
    assert report["thread_and_subprocess"] == "ok\n"  # ordinary programs still work


async def test_host_environment_is_not_visible(sandbox: LocalSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-do-not-leak-1234")
    monkeypatch.setenv("DAYTONA_API_KEY", "dtn-secret-5678")
    out = await run(sandbox, "import json, os\nprint(json.dumps(dict(os.environ)))")
    env = json.loads(out)
    assert "sk-test-do-not-leak-1234" not in out and "dtn-secret-5678" not in out
    allowed = {"PATH", "HOME", "LANG", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PWD", "LC_CTYPE"}
    assert set(env) <= allowed
    shell = await run(sandbox, "env", language="bash")
    assert "OPENAI_API_KEY" not in shell and "DAYTONA" not in shell


async def test_host_processes_are_invisible(sandbox: LocalSandbox) -> None:
    out = await run(sandbox, "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    pids = json.loads(out)
    assert pids[0] == 1 and len(pids) <= 3  # the watchdog as pid 1 and the interpreter: nothing of the host


def _exists(path: str) -> bool:
    return os.path.lexists(path)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _processes_of(uid: int, since_ticks: float) -> list[str]:
    """Processes of ``uid`` that started after ``since_ticks`` (clock ticks since boot), zombies included."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, start = fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
        if start >= since_ticks:
            found.append(f"pid {entry.name} state {state}")
    return found
