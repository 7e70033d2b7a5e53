"""Builders shared by the policy tests: a scripted approver and requests made directly."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Literal

from core.commands import (
    Command,
    DeleteFile,
    GetFileInfo,
    ListFiles,
    ReadFile,
    RunCode,
    SearchWeb,
    WriteFile,
    format_command,
)
from core.events import Actor
from core.operations import OperationRequest
from core.security.policy import ApprovalAnswer, ApprovalRequest
from core.security.risk import RiskFinding

_ids = itertools.count(1)

#: One command per tool, each on a path under src/ where the tool takes one.
COMMANDS: dict[str, Command] = {
    "read_file": ReadFile("src/app.py"),
    "write_file": WriteFile("src/app.py", "print(1)\n"),
    "delete_file": DeleteFile("src/app.py"),
    "list_files": ListFiles("src"),
    "get_file_info": GetFileInfo("src/app.py"),
    "execute_code": RunCode("print(1)"),
    "search_web": SearchWeb("textual modal screens"),
}
TOOLS = tuple(COMMANDS)
CRITICAL = RiskFinding("recursive-delete", "critical", "deletes the root", 0, 8)
MEDIUM = RiskFinding("dangerous-python", "medium", "runs a command through the shell", 0, 10)


def workspace_path(command: Command) -> str:
    """The /workspace/... path the validator would give the command ("" for code and search)."""
    match command:
        case ReadFile(p) | WriteFile(p, _) | DeleteFile(p) | GetFileInfo(p) | ListFiles(p):
            return "/workspace/" + p.strip("/") if p.strip("/") else "/workspace"
    return ""


def request(
    command: Command, *, actor: Actor = "assistant", findings: Sequence[RiskFinding] = ()
) -> OperationRequest:
    """An OperationRequest as the pipeline builds it after validation."""
    return OperationRequest(
        next(_ids), actor, command, format_command(command), workspace_path(command), tuple(findings)
    )


class ScriptedApprover:
    """Answers questions from a script, in order, and records what it was asked (test only)."""

    def __init__(self, *answers: ApprovalAnswer) -> None:
        self.answers = list(answers)
        self.asked: list[ApprovalRequest] = []

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        self.asked.append(request)
        if not self.answers:
            raise AssertionError(f"asked more often than scripted: {request.command_text!r}")
        return self.answers.pop(0)


def answers(word: Literal["yes", "no", "always"], count: int = 1) -> ScriptedApprover:
    """An approver scripted with ``count`` plain answers ``word``."""
    return ScriptedApprover(*(ApprovalAnswer(word) for _ in range(count)))
