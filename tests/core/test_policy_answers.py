"""Approval answers (yes, no, always, edit), headless denial, diffs for writes and the policy hash."""

from __future__ import annotations

import pytest

from core.commands import DeleteFile, RunCode, WriteFile
from core.config_model import ApprovalRule
from core.errors import BackendError, SandchatError
from core.security.policy import ApprovalAnswer, ApprovalPolicy, ApprovalRequest, AutoApprover, make_diff
from tests.core.test_policy_helpers import COMMANDS, CRITICAL, ScriptedApprover, answers, request

# -- answers ---------------------------------------------------------------------------------------


async def test_yes_allows_once_and_the_question_says_why() -> None:
    approver = answers("yes", 2)
    policy = ApprovalPolicy("ask", approver=approver)
    for _ in range(2):
        assert (await policy.decide(request(COMMANDS["delete_file"]))).allowed
    assert len(approver.asked) == 2
    asked = approver.asked[0]
    assert asked.reason == "mode ask: writes, deletes and code need approval"
    assert asked.command_text == "delete file:src/app.py" and asked.findings == () and asked.diff is None


async def test_no_denies_with_a_reason_the_model_can_be_told() -> None:
    approver = ScriptedApprover(ApprovalAnswer("no", note="not that file"))
    decision = await ApprovalPolicy("ask", approver=approver).decide(request(COMMANDS["write_file"]))
    assert not decision.allowed
    assert decision.reason == "denied: the person said no: not that file"


async def test_always_allows_the_tool_for_the_rest_of_the_session_but_not_other_tools() -> None:
    approver = answers("always")
    policy = ApprovalPolicy("ask", approver=approver)
    assert (await policy.decide(request(COMMANDS["write_file"]))).allowed
    assert policy.grants == {"write_file"}
    second = await policy.decide(request(WriteFile("other.txt", "x")))
    assert second.allowed and "answered always" in second.reason
    assert len(approver.asked) == 1
    approver.answers.append(ApprovalAnswer("no"))
    assert not (await policy.decide(request(COMMANDS["delete_file"]))).allowed
    assert len(approver.asked) == 2


async def test_always_does_not_override_risk_findings_or_deny_rules() -> None:
    approver = ScriptedApprover(ApprovalAnswer("always"), ApprovalAnswer("no"))
    policy = ApprovalPolicy("ask", [ApprovalRule("execute_code", "deny", None)], approver=approver)
    assert not (await policy.decide(request(RunCode("print(1)")))).allowed  # the deny rule: nobody asked
    policy = ApprovalPolicy("ask", approver=approver)
    assert (await policy.decide(request(RunCode("print(1)")))).allowed
    risky = await policy.decide(request(RunCode("rm -rf /", "bash"), findings=[CRITICAL]))
    assert not risky.allowed and len(approver.asked) == 2
    assert approver.asked[1].reason == "risk: critical recursive-delete"
    assert approver.asked[1].findings == (CRITICAL,)


async def test_edit_returns_the_replacement_which_runs_without_asking_again_once() -> None:
    edited = WriteFile("src/app.py", "print(2)\n")
    approver = ScriptedApprover(ApprovalAnswer("edit", command=edited), ApprovalAnswer("no"))
    policy = ApprovalPolicy("ask", approver=approver)
    decision = await policy.decide(request(COMMANDS["write_file"]))
    assert decision.allowed and decision.command == edited
    again = await policy.decide(request(edited))  # the pipeline validates the edit and asks the gate again
    assert again.allowed and len(approver.asked) == 1
    assert not (await policy.decide(request(edited))).allowed  # once, not for the rest of the session
    assert len(approver.asked) == 2


async def test_an_edit_that_is_risky_is_still_asked_about() -> None:
    risky = RunCode("rm -rf /", "bash")
    approver = ScriptedApprover(ApprovalAnswer("edit", command=risky), ApprovalAnswer("no"))
    policy = ApprovalPolicy("ask", approver=approver)
    assert (await policy.decide(request(COMMANDS["execute_code"]))).command == risky
    assert not (await policy.decide(request(risky, findings=[CRITICAL]))).allowed
    assert len(approver.asked) == 2


async def test_an_unchanged_edit_is_a_yes_and_remembers_nothing() -> None:
    approver = ScriptedApprover(ApprovalAnswer("edit", command=COMMANDS["write_file"]), ApprovalAnswer("no"))
    policy = ApprovalPolicy("ask", approver=approver)
    decision = await policy.decide(request(COMMANDS["write_file"]))
    assert decision.allowed and decision.command is None
    assert not (await policy.decide(request(COMMANDS["write_file"]))).allowed


async def test_edit_without_a_command_is_a_denial() -> None:
    policy = ApprovalPolicy("ask", approver=ScriptedApprover(ApprovalAnswer("edit")))
    decision = await policy.decide(request(COMMANDS["write_file"]))
    assert not decision.allowed and "unusable approval answer" in decision.reason


class BrokenApprover:
    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        raise SandchatError("the terminal went away")


async def test_a_failing_approver_denies() -> None:
    decision = await ApprovalPolicy("ask", approver=BrokenApprover()).decide(request(COMMANDS["write_file"]))
    assert not decision.allowed and "the terminal went away" in decision.reason


async def test_auto_approver_answers_as_told() -> None:
    assert (await ApprovalPolicy("ask", approver=AutoApprover()).decide(request(COMMANDS["delete_file"]))).allowed
    risky = request(RunCode("rm -rf /", "bash"), findings=[CRITICAL])
    assert (await ApprovalPolicy("ask", approver=AutoApprover("yes")).decide(risky)).allowed
    assert not (await ApprovalPolicy("ask", approver=AutoApprover("no")).decide(risky)).allowed


# -- headless ----------------------------------------------------------------------------------------


async def test_with_no_approver_questions_are_denied_and_say_how_to_allow() -> None:
    decision = await ApprovalPolicy("ask").decide(request(COMMANDS["write_file"]))
    assert not decision.allowed
    assert "no one to ask" in decision.reason and "--approve" in decision.reason and "--mode" in decision.reason
    risky = await ApprovalPolicy("full-auto").decide(request(RunCode("rm -rf /", "bash"), findings=[CRITICAL]))
    assert not risky.allowed and "--approve" in risky.reason and "--mode" not in risky.reason
    assert (await ApprovalPolicy("ask").decide(request(COMMANDS["read_file"]))).allowed


async def test_denials_by_mode_and_rule_name_the_cause() -> None:
    by_mode = await ApprovalPolicy("read-only").decide(request(COMMANDS["write_file"]))
    assert by_mode.reason == "denied: mode read-only: only read, list, info and search run"
    rules = [ApprovalRule("write_file", "deny", "src/**")]
    by_rule = await ApprovalPolicy("full-auto", rules).decide(request(COMMANDS["write_file"], actor="user"))
    assert by_rule.reason == "denied: a rule denies it (deny write_file on src/**)"


# -- diffs --------------------------------------------------------------------------------------------


class FakeFiles:
    """A reader over a dict, recording the paths it was asked for."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.read: list[str] = []

    async def __call__(self, path: str) -> bytes | None:
        self.read.append(path)
        if path == "broken.txt":
            raise BackendError("I/O error")
        return self.files.get(path)


async def asked_diff(command: WriteFile | DeleteFile, files: dict[str, bytes]) -> str | None:
    approver = answers("yes")
    reader = FakeFiles(files)
    await ApprovalPolicy("ask", approver=approver, reader=reader).decide(request(command))
    return approver.asked[0].diff


async def test_a_write_to_a_new_file_shows_it_as_new() -> None:
    diff = await asked_diff(WriteFile("/workspace/src/new.py", "a = 1\nb = 2\n"), {})
    assert diff is not None
    assert diff.splitlines() == [
        "new file /workspace/src/new.py (12 bytes)", "--- /dev/null", "+++ /workspace/src/new.py",
        "@@ -0,0 +1,2 @@", "+a = 1", "+b = 2",
    ]


async def test_a_write_to_an_existing_file_shows_a_unified_diff() -> None:
    diff = await asked_diff(WriteFile("src/app.py", "a = 1\nb = 3\n"), {"src/app.py": b"a = 1\nb = 2\n"})
    assert diff is not None
    lines = diff.splitlines()
    assert lines[:2] == ["--- /workspace/src/app.py", "+++ /workspace/src/app.py"]
    assert "-b = 2" in lines and "+b = 3" in lines and " a = 1" in lines


async def test_diff_edge_cases() -> None:
    assert await asked_diff(WriteFile("same.txt", "x\n"), {"same.txt": b"x\n"}) == (
        "no change: /workspace/same.txt already holds exactly this content"
    )
    binary = await asked_diff(WriteFile("img.png", "text"), {"img.png": b"\x89PNG\x00\x01"})
    assert binary is not None and "binary" in binary
    broken = await asked_diff(WriteFile("broken.txt", "x"), {})
    assert broken is not None and "could not read" in broken and "I/O error" in broken
    assert await asked_diff(DeleteFile("src/app.py"), {"src/app.py": b"x"}) is None


async def test_without_a_reader_there_is_no_diff() -> None:
    approver = answers("yes")
    await ApprovalPolicy("ask", approver=approver).decide(request(COMMANDS["write_file"]))
    assert approver.asked[0].diff is None


def test_diffs_are_truncated_and_show_control_characters() -> None:
    big = "".join(f"line {n}\n" for n in range(2000))
    diff = make_diff("/workspace/big.txt", None, big)
    assert diff.endswith("more lines not shown") and len(diff.splitlines()) == 401
    hidden = make_diff("/workspace/a.sh", b"echo hi\n", "echo hi\x1b[2K\rrm -rf ~\n\tend\u202e")
    assert "\\x1b[2K" in hidden and "\\r" in hidden and "\\u202e" in hidden and "\tend" in hidden
    assert "\\ No newline at end of file" in hidden
    long_line = make_diff("/workspace/min.js", None, "x" * 5000)
    assert "(4,001 more characters)" in long_line
    huge = make_diff("/workspace/huge.txt", b"a\n" * 200_000, "b\n" * 10)
    assert "too large to diff" in huge and "+b" in huge


# -- hash ------------------------------------------------------------------------------------------------


def test_policy_hash_is_stable_and_changes_with_what_decides() -> None:
    rules = [ApprovalRule("write_file", "allow", "src/**"), ApprovalRule("*", "deny", "secrets/**")]
    base = ApprovalPolicy("ask", rules)
    assert base.policy_hash() == ApprovalPolicy("ask", list(reversed(rules))).policy_hash()
    assert base.policy_hash() == ApprovalPolicy("ask", rules, approver=AutoApprover()).policy_hash()
    assert len(base.policy_hash()) == 16
    others = [
        ApprovalPolicy("auto-edit", rules),
        ApprovalPolicy("ask", rules[:1]),
        ApprovalPolicy("ask", [ApprovalRule("write_file", "ask", "src/**"), rules[1]]),
        ApprovalPolicy("ask", rules, risk_threshold="medium"),
        ApprovalPolicy("ask", rules, confirm_user_risk=False),
    ]
    hashes = {policy.policy_hash() for policy in others}
    assert base.policy_hash() not in hashes and len(hashes) == len(others)


async def test_an_always_answer_changes_the_hash_and_revoking_restores_it() -> None:
    policy = ApprovalPolicy("ask", approver=answers("always"))
    before = policy.policy_hash()
    await policy.decide(request(COMMANDS["write_file"]))
    assert policy.policy_hash() != before
    policy.revoke_grants()
    assert policy.policy_hash() == before


@pytest.mark.parametrize("word", ["yes", "no", "always"])
async def test_the_person_is_never_asked_for_their_own_plain_commands(word: str) -> None:
    approver = ScriptedApprover()
    policy = ApprovalPolicy("read-only", approver=approver)
    for command in COMMANDS.values():
        assert (await policy.decide(request(command, actor="user"))).allowed
    assert approver.asked == []
