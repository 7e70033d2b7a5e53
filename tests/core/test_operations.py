"""The one pipeline over a real local sandbox: validation, events, gate and recorder seams."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from core.backends.local import LocalSandbox
from core.commands import ReadFile, RunCode, WriteFile
from core.errors import SandchatError
from core.events import (
    Event,
    OperationBlocked,
    OperationFailed,
    OperationFinished,
    OperationStarted,
    OutputChunk,
)
from core.operations import Decision, Limits, OperationRequest, SecureOperations
from core.results import OperationResult


def workspace_of(ops: SecureOperations) -> Path:
    backend = ops.backend
    assert isinstance(backend, LocalSandbox)
    return backend.workspace


async def test_write_then_read_round_trips_and_emits_started_then_finished(ops: SecureOperations) -> None:
    seen: list[Event] = []
    ops.subscribe(seen.append)
    wrote = await ops.run("write file:notes/today.txt content:line one\nline two\n")
    assert wrote.status == "ok", wrote.message
    assert wrote.path == "/workspace/notes/today.txt"
    assert (workspace_of(ops) / "notes" / "today.txt").read_text() == "line one\nline two\n"
    read = await ops.read_file("/workspace/notes/today.txt")
    assert read.status == "ok" and read.output == "line one\nline two\n"
    assert read.content == b"line one\nline two\n" and read.bytes_out == len(read.content)
    assert [type(e) for e in seen] == [OperationStarted, OperationFinished, OperationStarted, OperationFinished]
    started = seen[0]
    assert isinstance(started, OperationStarted)
    assert started.command.startswith("write file:notes/today.txt content:") and started.actor == "user"


async def test_traversal_is_blocked_before_the_backend_and_nothing_outside_changes(
    ops: SecureOperations, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    seen: list[Event] = []
    ops.subscribe(seen.append)
    for text in ("write file:../outside.txt content:x", "read file:../../../etc/passwd", "read file:/etc/passwd",
                 "delete file:~/.bashrc", "list files:/workspace/../.."):
        result = await ops.run(text)
        assert result.status == "blocked", text
        assert "rejected" in result.message
    assert not outside.exists()
    assert sum(isinstance(e, OperationBlocked) for e in seen) == 5


async def test_content_over_the_limit_is_refused_before_any_byte_is_written(sandbox: LocalSandbox) -> None:
    ops = SecureOperations(sandbox, limits=Limits(max_file_bytes=1000))
    result = await ops.write_file("big.txt", "x" * 1001)
    assert result.status == "blocked" and "1,001" in result.message and "1,000" in result.message
    assert not (sandbox.workspace / "big.txt").exists()
    ok = await ops.write_file("small.txt", "x" * 1000)
    assert ok.status == "ok"


async def test_a_file_over_the_limit_is_not_read(sandbox: LocalSandbox) -> None:
    (sandbox.workspace / "huge.bin").write_bytes(b"a" * 5000)
    ops = SecureOperations(sandbox, limits=Limits(max_file_bytes=4096))
    result = await ops.read_file("huge.bin")
    assert result.status == "blocked" and result.content is None
    assert "5,000" in result.message


async def test_a_symlink_out_of_the_workspace_is_refused(ops: SecureOperations, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    os.symlink(secret, workspace_of(ops) / "link.txt")
    read = await ops.read_file("link.txt")
    assert read.status == "blocked" and "host secret" not in read.output
    write = await ops.write_file("link.txt", "overwritten")
    assert write.status == "blocked"
    assert secret.read_text() == "host secret"


async def test_syntax_errors_are_blocked_with_a_caret_and_a_suggestion(ops: SecureOperations) -> None:
    result = await ops.run("raed file:notes.txt")
    assert result.status == "blocked"
    assert "^" in result.message and "read file:" in result.message


async def test_code_runs_and_streams_output_without_escape_sequences(ops: SecureOperations) -> None:
    seen: list[Event] = []
    ops.subscribe(seen.append)
    result = await ops.run("run code:print('\\x1b[2Jhello'); import sys; sys.exit(3)")
    assert result.status == "error" and result.exec is not None and result.exec.exit_code == 3
    assert "exit code 3" in result.message
    assert "hello" in result.output and "\x1b" not in result.output
    chunks = [e for e in seen if isinstance(e, OutputChunk)]
    assert "".join(c.text for c in chunks).strip() == "hello"
    assert all("\x1b" not in c.text for c in chunks)


async def test_bash_runs_in_the_workspace(ops: SecureOperations) -> None:
    await ops.write_file("data.txt", "abc")
    result = await ops.run("run code[bash]:pwd; cat data.txt")
    assert result.status == "ok", result.output
    assert result.output.splitlines() == ["/workspace", "abc"]


async def test_dangerous_code_carries_findings_and_still_runs_only_in_the_sandbox(
    ops: SecureOperations, tmp_path: Path
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("alive")
    result = await ops.execute(RunCode("import os\nos.system('rm -rf / 2>/dev/null')\nprint('still here')"))
    assert any(f.severity == "critical" for f in result.findings)
    assert result.exec is not None and "still here" in result.exec.stdout
    assert canary.read_text() == "alive"  # the host is untouched


async def test_escapes_in_file_content_are_removed_from_output_but_kept_in_content(ops: SecureOperations) -> None:
    hostile = "\x1b]52;c;ZXZpbA==\x07[bold red]boo[/]\x1b[2J"
    await ops.write_file("hostile.txt", hostile)
    result = await ops.read_file("hostile.txt")
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "[bold red]boo[/]" in result.output
    assert result.content == hostile.encode()


async def test_list_info_delete(ops: SecureOperations) -> None:
    await ops.write_file("src/app.py", "print(1)\n")
    listing = await ops.run("list files:/workspace")
    assert [e.name for e in listing.entries] == ["src"] and "src/" in listing.output
    info = await ops.run("info file:src/app.py")
    assert info.info is not None and info.info.size == 9 and info.info.kind == "file"
    deleted = await ops.run("delete file:src/app.py")
    assert deleted.status == "ok"
    missing = await ops.run("read file:src/app.py")
    assert missing.status == "failed" and "src/app.py" in missing.message


async def test_web_search_without_a_provider_fails_with_an_explanation(ops: SecureOperations) -> None:
    seen: list[Event] = []
    ops.subscribe(seen.append)
    result = await ops.run("search web:AI security best practices")
    assert result.status == "failed" and "web search" in result.message
    assert isinstance(seen[-1], OperationFailed)


class ScriptedGate:
    """A gate whose answers the test sets: deny, allow or replace the command."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.requests: list[OperationRequest] = []

    async def decide(self, request: OperationRequest) -> Decision:
        self.requests.append(request)
        return self.decision


async def test_a_denying_gate_keeps_the_operation_from_the_backend(sandbox: LocalSandbox) -> None:
    gate = ScriptedGate(Decision(False, "the user said no"))
    ops = SecureOperations(sandbox, gate=gate)
    result = await ops.write_file("a.txt", "x")
    assert result.status == "denied" and result.message == "the user said no"
    assert not (sandbox.workspace / "a.txt").exists()
    assert gate.requests[0].path == "/workspace/a.txt"


async def test_an_edited_command_is_validated_again(sandbox: LocalSandbox) -> None:
    ops = SecureOperations(sandbox, gate=ScriptedGate(Decision(True, "edited", WriteFile("../evil", "x"))))
    result = await ops.execute(ReadFile("a.txt"))
    assert result.status == "blocked" and result.tool == "write_file"


class FailingRecorder:
    def __init__(self) -> None:
        self.after_results: list[OperationResult] = []

    def before(self, request: OperationRequest) -> None:
        raise SandchatError("audit log is not writable")

    def after(self, result: OperationResult) -> None:
        self.after_results.append(result)


async def test_a_recorder_that_cannot_write_stops_the_operation(sandbox: LocalSandbox) -> None:
    recorder = FailingRecorder()
    ops = SecureOperations(sandbox, recorder=recorder)
    result = await ops.write_file("a.txt", "x")
    assert result.status == "failed" and "audit log" in result.message
    assert not (sandbox.workspace / "a.txt").exists()
    assert recorder.after_results[-1].status == "failed"


async def test_a_broken_listener_does_not_break_the_pipeline(ops: SecureOperations) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    seen: list[Event] = []
    ops.subscribe(broken)
    unsubscribe = ops.subscribe(seen.append)
    result = await ops.write_file("a.txt", "x")
    assert result.status == "ok" and len(seen) == 2
    unsubscribe()
    await ops.write_file("b.txt", "y")
    assert len(seen) == 2


@pytest.mark.parametrize("code", ["", "   \n  "])
async def test_empty_code_is_blocked(ops: SecureOperations, code: str) -> None:
    result = await ops.execute_code(code)
    assert result.status == "blocked"


class ListRecorder:
    def __init__(self) -> None:
        self.before_ops: list[int] = []
        self.after_results: list[OperationResult] = []

    def before(self, request: OperationRequest) -> None:
        self.before_ops.append(request.op_id)

    def after(self, result: OperationResult) -> None:
        self.after_results.append(result)


async def test_a_cancelled_run_still_records_its_outcome(sandbox: LocalSandbox) -> None:
    recorder = ListRecorder()
    ops = SecureOperations(sandbox, recorder=recorder)
    started = asyncio.Event()
    ops.subscribe(lambda e: started.set() if isinstance(e, OutputChunk) else None)
    task = asyncio.create_task(ops.execute_code("import time\nprint('go', flush=True)\ntime.sleep(30)"))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(recorder.before_ops) == 1
    assert [r.status for r in recorder.after_results] == ["failed"]
    assert "cancelled" in recorder.after_results[0].message
