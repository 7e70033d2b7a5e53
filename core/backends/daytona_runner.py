"""The small Python program sandchat runs inside a Daytona sandbox, and reading what it reports.

Why a runner rather than handing the snippet to ``process.code_run`` as it is: Daytona's daemon merges
stdout into stderr, cannot run bash or node from a python sandbox, starts in the home directory rather
than the workspace, throws the output away when its timeout fires, and leaves background processes
running. The runner, sent as the code of one ``code_run`` call, fixes all of that in the sandbox itself:

* it writes the snippet to a private temp file and starts the right interpreter in the workspace, in its
  own process group, with stdout and stderr on separate pipes (each kept up to a cap, the rest drained);
* it enforces the wall clock by killing the group, keeps the output printed so far, and kills the group
  again when the program ends, so nothing it started is left running (except what escaped with setsid);
* it lists the workspace's symlinks afterwards (see daytona_links.py);
* it prints one report after a random marker, which is how its answer is told apart from anything else
  on the daemon's output. The report is a Python literal, read back with ``ast.literal_eval``, and the
  snippet arrives in base64 decoded by the built-in binascii: the runner imports neither json nor base64,
  whose imports (and re's) would add a third to its start-up time.

It is written for any Python 3.8+, the oldest a sandbox image is likely to carry, and needs only the
standard library. The daemon's own timeout (a little longer) is the backstop if the runner itself hangs.
"""

from __future__ import annotations

import ast
import base64
import math
import secrets
import signal
from dataclasses import dataclass
from typing import Any

from core.backends.base import ExecResult

WORKSPACE_DIR = "workspace"  # the workspace, relative to the sandbox user's home directory
SCAN_LIMITS = (200_000, 5.0)  # entries and seconds a symlink scan may take before it gives up
DAEMON_GRACE = 10  # seconds the daemon waits past the runner's own deadline before it kills the runner

RUNNER_SOURCE = r'''
import binascii, os, resource, selectors, signal, subprocess, sys, time


def killpg(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def workspace(spec):
    ws = os.path.join(os.path.expanduser("~"), spec["ws"])
    os.makedirs(ws, exist_ok=True)
    return ws


def scan(ws, limits):
    links, seen, stack = {}, 0, [""]
    deadline = time.monotonic() + limits[1]
    while stack:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(ws, rel) if rel else ws))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limits[0] or time.monotonic() > deadline:
                return links, False
            path = rel + "/" + entry.name if rel else entry.name
            try:
                if entry.is_symlink():
                    links[path] = [os.readlink(entry.path), entry.stat(follow_symlinks=False).st_mtime]
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(path)
            except OSError:
                pass
    return links, True


def along(ws, path):
    """The links met while resolving path, for a workspace too big to scan whole."""
    links, pending, stack, hops = {}, [p for p in path.split("/") if p not in ("", ".")], [], 0
    while pending and hops < 40:
        part = pending.pop(0)
        if part == "..":
            if not stack:
                break
            stack.pop()
            continue
        rel = "/".join(stack + [part])
        full = os.path.join(ws, rel)
        if not os.path.islink(full):
            stack.append(part)
            continue
        target = os.readlink(full)
        links[rel] = [target, os.lstat(full).st_mtime]
        hops += 1
        if target.startswith("/"):
            root = next((r for r in (ws, "/workspace") if (target + "/").startswith(r + "/")), None)
            if root is None:
                break
            stack, target = [], target[len(root):]
        pending[:0] = [p for p in target.split("/") if p not in ("", ".")]
    return links


def collect(proc, timeout, cap):
    sel = selectors.DefaultSelector()
    kept = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    cut = {proc.stdout: False, proc.stderr: False}
    for pipe in kept:
        sel.register(pipe, selectors.EVENT_READ)
    deadline, timed_out, finished = time.monotonic() + timeout, False, False
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            if timed_out or finished:
                break
            timed_out = True
            killpg(proc.pid)
            deadline = time.monotonic() + 2
            continue
        for key, _ in sel.select(min(left, 0.1)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buf = kept[key.fileobj]
            room = max(cap - len(buf), 0)
            cut[key.fileobj] = cut[key.fileobj] or len(chunk) > room
            buf += chunk[:room]
        if not finished and not timed_out and proc.poll() is not None:
            finished = True
            killpg(proc.pid)
            deadline = min(deadline, time.monotonic() + 0.5)
    if proc.poll() is None:
        try:
            proc.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            timed_out = True
    killpg(proc.pid)
    proc.wait()
    return kept[proc.stdout], kept[proc.stderr], cut[proc.stdout], cut[proc.stderr], timed_out


def which(name):
    for folder in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def run(ws, spec):
    exe = which(spec["argv"][0])
    if exe is None:
        return {"missing": spec["argv"][0]}
    tmp = os.path.join(os.environ.get("TMPDIR") or "/tmp", "sandchat-" + os.urandom(8).hex())
    os.mkdir(tmp, 0o700)
    snippet = os.path.join(tmp, "snippet" + spec["suffix"])
    with open(snippet, "wb") as f:
        f.write(binascii.a2b_base64(spec["code"]))
    start = time.monotonic()
    try:
        proc = subprocess.Popen([exe] + spec["argv"][1:] + [snippet], cwd=ws, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        out, err, out_cut, err_cut, timed_out = collect(proc, spec["timeout"], spec["cap"])
    finally:
        os.remove(snippet)
        os.rmdir(tmp)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"rc": proc.returncode, "stdout": out.decode("utf-8", "replace"), "stderr": err.decode("utf-8", "replace"),
            "stdout_cut": out_cut, "stderr_cut": err_cut, "timed_out": timed_out,
            "duration": time.monotonic() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss * 1024}


def main(spec):
    ws = workspace(spec)
    report = {"ws": ws}
    if spec["op"] == "run":
        report.update(run(ws, spec))
    elif spec["op"] == "unlink":
        full = os.path.join(ws, spec["path"])
        report["unlinked"] = os.path.islink(full)
        if report["unlinked"]:
            os.unlink(full)
    elif spec["op"] == "along":
        report["links"] = along(ws, spec["path"])
    if spec["op"] != "along":
        report["links"], report["complete"] = scan(ws, spec["limits"])
    sys.stdout.write("\n" + spec["marker"] + repr(report) + "\n")
    sys.stdout.flush()
'''


@dataclass(frozen=True)
class RunnerCall:
    """One runner invocation: the program to send and the marker its report will follow."""

    code: str
    marker: str


def runner_call(op: str, **params: Any) -> RunnerCall:
    """The runner program for ``op`` ("run", "scan", "unlink", "along") with its parameters baked in."""
    marker = f"\x1esandchat-report-{secrets.token_hex(8)}:"
    spec = {"op": op, "ws": WORKSPACE_DIR, "marker": marker, "limits": list(SCAN_LIMITS), **params}
    return RunnerCall(f"{RUNNER_SOURCE}\nmain({spec!r})\n", marker)


def run_params(code: str, argv: tuple[str, ...], suffix: str, timeout: float, cap: int) -> dict[str, Any]:
    """The parameters of a "run" call."""
    return {
        # base64, so the daemon's scan of the program for "import matplotlib" (it then wraps the program to
        # collect charts) never matches the user's code inside the runner
        "code": base64.b64encode(code.encode("utf-8", "replace")).decode(),
        "argv": list(argv),
        "suffix": suffix,
        "timeout": timeout,
        "cap": cap,
    }


def daemon_timeout(timeout: float) -> int:
    """The whole seconds the daemon is told to allow: the runner's deadline plus room to report."""
    return math.ceil(timeout) + DAEMON_GRACE


def read_report(result: str, marker: str) -> dict[str, Any] | None:
    """The runner's report from the daemon's output, or None when the runner did not get to print one."""
    at = result.rfind(marker)
    if at < 0:
        return None
    try:
        report = ast.literal_eval(result[at + len(marker) :].strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return report if isinstance(report, dict) else None


def exec_result(report: dict[str, Any], language: str, timeout: float) -> ExecResult:
    """The ExecResult of a "run" report."""
    rc = report.get("rc")
    exit_code = rc if isinstance(rc, int) and rc >= 0 else None
    sig = -rc if isinstance(rc, int) and rc < 0 else None
    timed_out = bool(report.get("timed_out"))
    reason = f"wall-clock timeout of {timeout:g} s" if timed_out else _signal_reason(sig)
    return ExecResult(
        language=language,
        exit_code=None if timed_out else exit_code,
        stdout=str(report.get("stdout", "")),
        stderr=str(report.get("stderr", "")),
        duration=float(report.get("duration", 0.0)),
        cpu_time=_number(report.get("cpu")),
        peak_memory=int(report["rss"]) if isinstance(report.get("rss"), int) and report["rss"] > 0 else None,
        timed_out=timed_out,
        stdout_truncated=bool(report.get("stdout_cut")),
        stderr_truncated=bool(report.get("stderr_cut")),
        signal=sig,
        killed_reason=reason,
    )


def lost_run(language: str, timeout: float, why: str) -> ExecResult:
    """A run that hit the wall clock with its output lost (the daemon or the connection gave up first)."""
    return ExecResult(
        language=language,
        exit_code=None,
        stdout="",
        stderr="",
        duration=timeout,
        timed_out=True,
        killed_reason=f"wall-clock timeout of {timeout:g} s ({why}; the output is lost)",
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _signal_reason(sig: int | None) -> str:
    if sig is None:
        return ""
    try:
        return f"killed by {signal.Signals(sig).name}"
    except ValueError:
        return f"killed by signal {sig}"
