"""The approval-mode matrix: every mode x every tool x actor, with and without risk, with allow/ask/deny rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, cast

import pytest

from core.commands import Command
from core.config_model import TOOL_NAMES, ApprovalRule
from core.events import Actor
from core.operations import OperationRequest
from core.security.policy import MODES, ApprovalPolicy
from core.security.risk import RiskFinding
from tests.core.test_policy_helpers import COMMANDS, CRITICAL, MEDIUM, TOOLS, answers, request

READS = {"read_file", "list_files", "get_file_info", "search_web"}

# The mode table of the module docstring, written out again independently of the code.
EXPECTED_FOR_ASSISTANT: dict[str, dict[str, str]] = {
    "read-only": {t: "allow" if t in READS else "deny" for t in TOOLS},
    "ask": {t: "allow" if t in READS else "ask" for t in TOOLS},
    "auto-edit": {t: "allow" if t in READS | {"write_file"} else "ask" for t in TOOLS},
    "full-auto": dict.fromkeys(TOOLS, "allow"),
}


async def outcome(policy: ApprovalPolicy, req: OperationRequest) -> str:
    """"allow", "deny" or "ask": what happened, seen from outside (the approver answers no)."""
    approver = answers("no")
    policy.approver = approver
    decision = await policy.decide(req)
    if approver.asked:
        assert not decision.allowed and "said no" in decision.reason
        return "ask"
    return "allow" if decision.allowed else "deny"


async def outcome_of(
    mode: str, tool: str, *, actor: Actor = "assistant", rules: Sequence[ApprovalRule] = (),
    findings: Sequence[RiskFinding] = (),
) -> str:
    return await outcome(ApprovalPolicy(mode, rules), request(COMMANDS[tool], actor=actor, findings=findings))


def test_the_matrix_covers_every_tool_the_config_knows() -> None:
    assert set(TOOLS) == set(TOOL_NAMES) - {"*"}
    assert set(EXPECTED_FOR_ASSISTANT) == set(MODES)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tool", TOOLS)
async def test_mode_decides_for_the_assistant(mode: str, tool: str) -> None:
    assert await outcome_of(mode, tool) == EXPECTED_FOR_ASSISTANT[mode][tool]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("actor", ["user", "app"])
async def test_the_persons_own_commands_run_in_every_mode(mode: str, tool: str, actor: Actor) -> None:
    assert await outcome_of(mode, tool, actor=actor) == "allow"


@pytest.mark.parametrize("mode", MODES)
async def test_risky_code_always_asks_the_assistant_even_in_full_auto(mode: str) -> None:
    expected = "deny" if mode == "read-only" else "ask"
    assert await outcome_of(mode, "execute_code", findings=[CRITICAL]) == expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("actor", ["user", "app"])
async def test_risky_code_typed_by_the_person_is_confirmed(mode: str, actor: Actor) -> None:
    assert await outcome_of(mode, "execute_code", actor=actor, findings=[CRITICAL]) == "ask"
    policy = ApprovalPolicy(mode, confirm_user_risk=False)
    assert await outcome(policy, request(COMMANDS["execute_code"], actor=actor, findings=[CRITICAL])) == "allow"


async def test_medium_findings_do_not_force_a_question_unless_the_threshold_says_so() -> None:
    assert await outcome_of("full-auto", "execute_code", findings=[MEDIUM]) == "allow"
    strict = ApprovalPolicy("full-auto", risk_threshold="medium")
    assert await outcome(strict, request(COMMANDS["execute_code"], findings=[MEDIUM])) == "ask"


async def test_risk_overrides_an_allow_rule() -> None:
    rules = [ApprovalRule("execute_code", "allow")]
    assert await outcome_of("ask", "execute_code", rules=rules) == "allow"
    assert await outcome_of("ask", "execute_code", rules=rules, findings=[CRITICAL]) == "ask"


# -- rules x modes x actors ----------------------------------------------------------------------------


def expected_with_rule(mode: str, tool: str, action: str, actor: Actor) -> str:
    if action == "deny":
        return "deny"  # deny rules bind the person too
    if actor != "assistant":
        return "allow"
    if mode == "read-only" and tool not in READS:
        return "deny"  # read-only is a ceiling
    return action


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("action", ["allow", "ask", "deny"])
@pytest.mark.parametrize("actor", ["assistant", "user"])
async def test_a_tool_rule_refines_the_mode(mode: str, tool: str, action: str, actor: Actor) -> None:
    rules = [ApprovalRule(tool, action)]
    assert await outcome_of(mode, tool, actor=actor, rules=rules) == expected_with_rule(mode, tool, action, actor)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("action", ["allow", "ask", "deny"])
@pytest.mark.parametrize("actor", ["assistant", "user"])
async def test_a_path_rule_applies_only_where_its_glob_matches(mode: str, action: str, actor: Actor) -> None:
    inside = [ApprovalRule("*", action, "src/**")]
    elsewhere = [ApprovalRule("*", action, "docs/**")]
    for tool in ("read_file", "write_file", "delete_file"):
        assert await outcome_of(mode, tool, actor=actor, rules=inside) == expected_with_rule(mode, tool, action, actor)
        unruled = EXPECTED_FOR_ASSISTANT[mode][tool] if actor == "assistant" else "allow"
        assert await outcome_of(mode, tool, actor=actor, rules=elsewhere) == unruled


async def test_path_rules_never_match_code_or_search() -> None:
    rules = [ApprovalRule("*", "deny", "**")]
    assert await outcome_of("full-auto", "execute_code", rules=rules) == "allow"
    assert await outcome_of("full-auto", "search_web", rules=rules) == "allow"
    assert await outcome_of("full-auto", "read_file", rules=rules) == "deny"


@dataclass(frozen=True)
class FutureCommand:
    """A command added after the policy was written."""

    tool: ClassVar[str] = "send_email"


@pytest.mark.parametrize(("mode", "expected"), [("read-only", "deny"), ("ask", "ask"), ("full-auto", "ask")])
def test_a_tool_the_policy_does_not_know_asks_instead_of_running(mode: str, expected: str) -> None:
    req = OperationRequest(1, "assistant", cast(Command, FutureCommand()), "send email:x", "", ())
    assert ApprovalPolicy(mode).evaluate(req).action == expected


# -- precedence ----------------------------------------------------------------------------------------


async def test_deny_wins_over_a_more_specific_allow() -> None:
    rules = [ApprovalRule("*", "deny", "src/**"), ApprovalRule("read_file", "allow", "src/app.py")]
    assert await outcome_of("full-auto", "read_file", rules=rules) == "deny"
    assert await outcome_of("full-auto", "read_file", actor="user", rules=rules) == "deny"


async def test_the_most_specific_rule_decides_between_allow_and_ask() -> None:
    broad_ask = ApprovalRule("write_file", "ask")
    scratch_allow = ApprovalRule("write_file", "allow", "src/**")
    assert await outcome_of("auto-edit", "write_file", rules=[broad_ask]) == "ask"
    assert await outcome_of("auto-edit", "write_file", rules=[broad_ask, scratch_allow]) == "allow"
    narrow_ask = ApprovalRule("*", "ask", "src/app.py")
    assert await outcome_of("auto-edit", "write_file", rules=[scratch_allow, narrow_ask]) == "ask"


async def test_a_named_tool_beats_the_wildcard_and_ties_go_to_ask() -> None:
    rules = [ApprovalRule("*", "ask", "src/**"), ApprovalRule("write_file", "allow", "src/**")]
    assert await outcome_of("ask", "write_file", rules=rules) == "allow"
    tie = [ApprovalRule("write_file", "allow", "src/**"), ApprovalRule("write_file", "ask", "src/**")]
    assert await outcome_of("full-auto", "write_file", rules=tie) == "ask"
    assert await outcome_of("full-auto", "write_file", rules=list(reversed(tie))) == "ask"


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("src/**", "/workspace/src/app.py", True),
        ("src/**", "/workspace/src/a/b/c.py", True),
        ("src/**", "/workspace/src", True),
        ("src/**", "/workspace/srcx/app.py", False),
        ("/workspace/src/**", "/workspace/src/app.py", True),
        ("./src/*.py", "/workspace/src/app.py", True),
        ("src/*.py", "/workspace/src/a/app.py", False),
        ("**/*.env", "/workspace/.env", True),  # like gitignore: * may match nothing
        ("**/*.env", "/workspace/prod.env", True),
        ("**/*.env", "/workspace/deploy/prod.env", True),
        ("*.env", "/workspace/deploy/prod.env", False),
        ("secret?.txt", "/workspace/secret1.txt", True),
        ("secret?.txt", "/workspace/secret/.txt", False),
        ("notes.txt", "/workspace/notes.txt", True),
        ("notes.txt", "/workspace/Notes.txt", False),
        ("a+b(1).txt", "/workspace/a+b(1).txt", True),
        ("**", "/workspace", True),  # "**" is everything, the root listing included
        ("/workspace", "/workspace", True),
    ],
)
def test_rule_globs(glob: str, path: str, matches: bool) -> None:
    policy = ApprovalPolicy("full-auto", [ApprovalRule("*", "deny", glob)])
    req = request(COMMANDS["list_files"])
    req = OperationRequest(req.op_id, "assistant", req.command, req.text, path, ())
    assert (policy.evaluate(req).action == "deny") is matches


def test_unknown_modes_and_actions_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown approval mode"):
        ApprovalPolicy("yolo")
    with pytest.raises(ValueError, match="unknown rule action"):
        ApprovalPolicy("ask", [ApprovalRule("*", "maybe")])
