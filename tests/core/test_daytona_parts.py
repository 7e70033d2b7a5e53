"""The Daytona backend's pure parts: symlink resolution, failure classification, retries, the runner's report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.backends.daytona_errors import Failure, classify, redact, user_error
from core.backends.daytona_links import Link, LinkMap, kind_of, permissions, timestamp
from core.backends.daytona_runner import exec_result, read_report, runner_call
from core.backends.daytona_session import retry_delay
from core.errors import BackendError, NotFound, PathRejected, SandboxUnavailable

ROOT = Path(__file__).resolve().parents[2]
WS = "/home/daytona/workspace"


def links(**targets: str) -> LinkMap:
    return LinkMap(WS, {path.replace("__", "/"): Link(t, 0.0) for path, t in targets.items()})


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.txt", "a/b.txt"),
        ("in/f.txt", "sub/f.txt"),
        ("abs_in", "sub/f.txt"),
        ("user_abs", "sub/f.txt"),
        ("sub/up/sub", "sub"),
        ("chain", "sub/f.txt"),
        ("x/../in", "sub"),
    ],
)
def test_links_inside_resolve_to_their_real_path(path: str, expected: str) -> None:
    targets = {"in": "sub", "abs_in": f"{WS}/sub/f.txt", "user_abs": "/workspace/sub/f.txt", "sub__up": ".."}
    linkmap = links(**targets, chain="in/f.txt")
    assert linkmap.resolve(path, follow_last=True).real == expected


@pytest.mark.parametrize("path", ["out", "climb/x", "sub/deep", "../x", "a/../../x"])
def test_ways_out_are_refused(path: str) -> None:
    linkmap = links(out="/etc/passwd", climb="../..", sub__deep="../../../etc")
    with pytest.raises(PathRejected):
        linkmap.resolve(path, follow_last=True)


def test_the_last_link_is_kept_when_not_followed() -> None:
    resolved = links(out="/etc/passwd").resolve("out", follow_last=False)
    assert resolved.real == "out" and resolved.link == Link("/etc/passwd", 0.0)


def test_link_loops_are_an_error_not_a_hang() -> None:
    with pytest.raises(BackendError, match="too many levels"):
        links(a="b", b="a").resolve("a", follow_last=True)


def test_children_and_forget() -> None:
    linkmap = links(a="x", d__b="y", d__e__c="z")
    assert set(linkmap.children("d")) == {"b"} and set(linkmap.children("")) == {"a"}
    linkmap.forget("d")
    assert set(linkmap.links) == {"a"}


def test_toolbox_file_facts() -> None:
    assert [kind_of(m, False) for m in ("-rw-r--r--", "drwxr-xr-x", "Lrwxrwxrwx", "prw-------")] == [
        "file", "dir", "symlink", "other",
    ]
    assert permissions("0644", "") == 0o644 and permissions(None, "-rwxr-x---") == 0o750
    assert timestamp("2024-05-01T10:00:00.5Z") == 1714557600.5
    assert timestamp("2024-05-01 12:00:00.5 +0200 CEST") == 1714557600.5
    assert timestamp("garbage") == 0.0


class FakeApiException(Exception):
    """Shaped like the generated client's ApiException, which code_run lets through."""

    def __init__(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"({status})\nReason: x\nHTTP response headers: {headers}")
        self.status, self.body, self.headers, self.reason = status, body, headers or {}, "Bad Gateway"


class DaytonaTimeoutError(Exception):
    pass


def test_classify_reads_every_dialect() -> None:
    envelope = json.dumps({"statusCode": 404, "message": "gone", "code": "FILE_NOT_FOUND", "source": "DAYTONA_DAEMON"})
    found = classify(FakeApiException(404, envelope))
    assert (found.kind, found.status, found.code, found.from_daemon, found.message) == (
        "not_found", 404, "FILE_NOT_FOUND", True, "gone",
    )
    bare = classify(FakeApiException(502, ""))
    assert (bare.kind, bare.message, bare.from_daemon) == ("gateway", "Bad Gateway", False)
    limited = classify(FakeApiException(429, "{}", {"Retry-After": "3"}))
    assert (limited.kind, limited.retry_after) == ("rate_limited", 3.0)
    assert classify(DaytonaTimeoutError("slow")).kind == "timeout"
    assert classify(ConnectionResetError("reset")).kind == "connection"
    try:
        try:
            raise FakeApiException(503, "")
        except FakeApiException as cause:
            raise RuntimeError("Failed to download file: x") from cause
    except RuntimeError as wrapped:
        assert classify(wrapped).status == 503


def test_retry_policy_never_repeats_code_on_ambiguous_failures() -> None:
    delays = (0.1, 0.2)
    gateway = Failure("gateway", 502, "")
    assert retry_delay(gateway, 0, idempotent=True, delays=delays) == 0.1
    assert retry_delay(gateway, 0, idempotent=False, delays=delays) is None
    assert retry_delay(gateway, 2, idempotent=True, delays=delays) is None
    limited = Failure("rate_limited", 429, "", retry_after=1.5)
    assert retry_delay(limited, 0, idempotent=False, delays=delays) == 1.5
    assert retry_delay(Failure("auth", 401, ""), 0, idempotent=True, delays=delays) is None
    assert retry_delay(Failure("timeout", None, ""), 0, idempotent=True, delays=delays) is None


def test_user_errors_name_the_cause_and_hide_secrets() -> None:
    assert "Bearer ***" in redact("Authorization: Bearer abc.def") and "s3cr3t" not in redact("k=s3cr3t", ("s3cr3t",))
    auth = user_error(Failure("auth", 401, ""), "reading x", api_url="u")
    assert isinstance(auth, SandboxUnavailable) and "DAYTONA_API_KEY" in str(auth)
    missing = user_error(Failure("not_found", 404, ""), "reading x", api_url="u", shown_path="/workspace/x")
    assert isinstance(missing, NotFound) and str(missing) == "/workspace/x: no such file or directory"
    down = user_error(Failure("connection", None, "refused"), "starting", api_url="https://api.example")
    assert "https://api.example" in str(down)


def test_runner_report_is_found_after_its_marker() -> None:
    call = runner_call("scan")
    report = {"rc": -9, "stdout": "o", "stderr": "e", "timed_out": False, "duration": 0.5, "cpu": 0.1, "rss": 1024}
    output = f"noise {call.marker}fake\n{call.marker}{report!r}\n"
    parsed = read_report(output, call.marker)
    assert parsed == report
    result = exec_result(report, "python", 5)
    assert (result.exit_code, result.signal, result.killed_reason) == (None, 9, "killed by SIGKILL")
    assert result.peak_memory == 1024
    assert read_report("no marker at all", call.marker) is None


def test_the_runner_runs_under_a_plain_python3(tmp_path: Path) -> None:
    """The runner program itself, as the sandbox runs it: code on stdin, HOME as the sandbox's home."""
    from core.backends.daytona_runner import run_params

    call = runner_call("run", **run_params("import os; print(os.getcwd())", ("python3", "-u"), ".py", 5, 1000))
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-"], input=call.code, capture_output=True, text=True, env=env, check=False)
    report = read_report(done.stdout, call.marker)
    assert report is not None, done.stderr
    assert report["rc"] == 0 and report["stdout"] == f"{tmp_path}/workspace\n" and report["complete"] is True


def test_importing_the_backend_does_not_import_the_sdk() -> None:
    code = "import sys, core.backends.daytona, core.backends.daytona_doctor\nprint('daytona' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
