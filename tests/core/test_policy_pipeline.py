"""The policy as the gate of a real SecureOperations over a real LocalSandbox: the pipeline honours it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.backends.local import LocalSandbox
from core.commands import ListFiles, WriteFile
from core.config_model import ApprovalRule
from core.events import Event, OperationBlocked
from core.operations import Limits, SecureOperations
from core.security.policy import ApprovalAnswer, ApprovalPolicy, backend_reader
from tests.core.test_policy_helpers import ScriptedApprover, answers


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[LocalSandbox]:
    sandbox = LocalSandbox(tmp_path / "ws", name="policy-test")
    yield sandbox
    await sandbox.close()


def pipeline(box: LocalSandbox, policy: ApprovalPolicy) -> SecureOperations:
    if policy.reader is None:
        policy.reader = backend_reader(box)
    return SecureOperations(box, limits=Limits(exec_timeout=10.0), gate=policy)


async def test_a_denied_write_leaves_no_file_and_is_reported_as_denied(box: LocalSandbox) -> None:
    approver = answers("no")
    ops = pipeline(box, ApprovalPolicy("ask", approver=approver))
    seen: list[Event] = []
    ops.subscribe(seen.append)
    result = await ops.write_file("notes.txt", "hello", actor="assistant")
    assert result.status == "denied" and result.message == "denied: the person said no"
    assert not (box.workspace / "notes.txt").exists()
    assert any(isinstance(event, OperationBlocked) for event in seen)
    assert approver.asked[0].diff is not None and approver.asked[0].diff.startswith("new file /workspace/notes.txt")


async def test_an_approved_write_happens_and_its_diff_was_read_through_the_backend(box: LocalSandbox) -> None:
    (box.workspace / "app.py").write_text("a = 1\nb = 2\n")
    approver = answers("yes")
    ops = pipeline(box, ApprovalPolicy("ask", approver=approver))
    result = await ops.write_file("/workspace/app.py", "a = 1\nb = 3\n", actor="assistant")
    assert result.status == "ok", result.message
    assert (box.workspace / "app.py").read_text() == "a = 1\nb = 3\n"
    diff = approver.asked[0].diff or ""
    assert "-b = 2" in diff and "+b = 3" in diff


async def test_an_edited_command_is_validated_again(box: LocalSandbox, tmp_path: Path) -> None:
    escape = WriteFile("../outside.txt", "gotcha")
    approver = ScriptedApprover(ApprovalAnswer("edit", command=escape))
    ops = pipeline(box, ApprovalPolicy("ask", approver=approver))
    result = await ops.write_file("inside.txt", "x", actor="assistant")
    assert result.status == "blocked" and "rejected" in result.message
    assert not (tmp_path / "outside.txt").exists() and not (box.workspace / "inside.txt").exists()


async def test_an_edited_command_runs_instead_of_the_original_without_a_second_question(box: LocalSandbox) -> None:
    approver = ScriptedApprover(ApprovalAnswer("edit", command=WriteFile("better.txt", "edited")))
    ops = pipeline(box, ApprovalPolicy("ask", approver=approver))
    result = await ops.write_file("first.txt", "original", actor="assistant")
    assert result.status == "ok", result.message
    assert result.text == "write file:better.txt content:edited"
    assert (box.workspace / "better.txt").read_text() == "edited"
    assert not (box.workspace / "first.txt").exists() and len(approver.asked) == 1


async def test_an_edit_that_a_deny_rule_forbids_is_denied(box: LocalSandbox) -> None:
    approver = ScriptedApprover(ApprovalAnswer("edit", command=WriteFile("secrets/key", "x")))
    policy = ApprovalPolicy("ask", [ApprovalRule("*", "deny", "secrets/**")], approver=approver)
    result = await pipeline(box, policy).write_file("notes.txt", "x", actor="assistant")
    assert result.status == "denied" and "deny * on secrets/**" in result.message
    assert not (box.workspace / "secrets").exists()


async def test_deny_rules_bind_the_persons_own_commands(box: LocalSandbox) -> None:
    (box.workspace / "secrets").mkdir()
    (box.workspace / "secrets" / "key").write_text("s3cret")
    policy = ApprovalPolicy("full-auto", [ApprovalRule("*", "deny", "secrets/**")])
    ops = pipeline(box, policy)
    for text in ("read file:secrets/key", "delete file:secrets/key", "list files:secrets",
                 "write file:secrets/../secrets/new content:x"):
        result = await ops.run(text, actor="user")
        assert result.status == "denied", text
    assert (box.workspace / "secrets" / "key").read_text() == "s3cret"
    assert not (box.workspace / "secrets" / "new").exists()
    assert (await ops.run("write file:public.txt content:ok", actor="user")).status == "ok"


async def test_headless_the_assistant_cannot_delete_and_the_file_stays(box: LocalSandbox) -> None:
    (box.workspace / "keep.txt").write_text("keep")
    ops = pipeline(box, ApprovalPolicy("auto-edit"))
    result = await ops.delete_file("keep.txt", actor="assistant")
    assert result.status == "denied" and "--approve" in result.message
    assert (box.workspace / "keep.txt").read_text() == "keep"
    assert (await ops.write_file("new.txt", "ok", actor="assistant")).status == "ok"


async def test_read_only_denies_code_before_the_sandbox_runs_it(box: LocalSandbox) -> None:
    ops = pipeline(box, ApprovalPolicy("read-only"))
    result = await ops.execute_code("open('made.txt', 'w').write('x')", actor="assistant")
    assert result.status == "denied" and result.exec is None
    assert not (box.workspace / "made.txt").exists()
    listed = await ops.execute(ListFiles(""), actor="assistant")
    assert listed.status == "ok"


async def test_risky_code_reaches_the_approver_with_its_findings(box: LocalSandbox) -> None:
    approver = answers("no")
    ops = pipeline(box, ApprovalPolicy("full-auto", approver=approver))
    result = await ops.execute_code("rm -rf ~", "bash", actor="assistant")
    assert result.status == "denied"
    asked = approver.asked[0]
    assert asked.reason.startswith("risk: critical recursive-delete")
    assert [finding.rule for finding in asked.findings] == ["recursive-delete"]


async def test_the_pipeline_hash_carries_the_policy_and_its_grants(box: LocalSandbox) -> None:
    policy = ApprovalPolicy("ask", approver=answers("always"))
    ops = pipeline(box, policy)
    before = ops.policy_hash()
    assert before != pipeline(box, ApprovalPolicy("full-auto")).policy_hash()
    assert (await ops.write_file("a.txt", "x", actor="assistant")).status == "ok"
    assert ops.policy_hash() != before
    assert (await ops.write_file("b.txt", "y", actor="assistant")).status == "ok"
