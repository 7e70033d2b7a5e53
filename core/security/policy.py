"""The approval policy: which validated operations run at once, which wait for the person, which never run.

``ApprovalPolicy`` is the pipeline's gate (``core.operations.Gate``). It decides in this order:

1. **Deny rules win.** A matching ``deny`` rule refuses the operation for every actor, the person included, in
   every mode. No allow rule, "always" answer or ``--approve`` gets past it: to open a hole, narrow the deny.
2. **The person's own commands** (actor ``user``, and ``app`` for the file browser) run without a question: the
   mode and allow/ask rules govern the assistant only. One exception: code with a risk finding (high or
   critical) is confirmed, because a person also runs commands they pasted or picked from the model's reply
   with one key. ``confirm_user_risk=False`` turns that off (``sandchat exec``, where the person scripted it).
3. **The mode** sets the assistant's default per tool:

   ==============  ==============================  ==========  ===========================
   mode            read, list, info, search web    write file  delete file, run code
   ==============  ==============================  ==========  ===========================
   ``read-only``   allow                           deny        deny
   ``ask``         allow                           ask         ask
   ``auto-edit``   allow                           allow       ask
   ``full-auto``   allow                           allow       allow
   ==============  ==============================  ==========  ===========================

   ``read-only`` is a ceiling: rules may make reads stricter but never let anything else run.
4. **Allow and ask rules** replace the mode's default. Of several matching rules the most specific wins: a rule
   with a path beats one without, a longer literal path part beats a shorter one, a named tool beats ``*``; on a
   tie the stricter one (ask) wins.
5. **Risk findings** at or above ``risk_threshold`` (default high: medium flags ordinary code such as
   ``shell=True`` or ``sudo`` and would make full-auto ask all the time) force a question, even in full-auto,
   over allow rules and over "always". In read-only mode code never runs, so risky code is simply denied.
6. **"Always"** answers allow the rest of that tool's questions for the session (unless risky). An **edited**
   command comes back through the pipeline, is validated again and is let through once without a second
   question (deny rules and risk findings still apply to it).

Rule paths are globs over the ``/workspace/...`` path the validator produced (``..`` already resolved):
``src/**`` and ``/workspace/src/**`` are the same (globs are anchored at the workspace root: ``*.env`` is only the
top level, ``**/*.env`` any depth); ``*`` and ``?`` stay within one name and ``*`` may match nothing (``*.env``
matches ``.env``); ``**`` crosses names and ``dir/**`` also matches ``dir`` itself. Matching is case-sensitive.
A rule with a path never matches run code or search web, which have no path, and it sees the name that was asked
for, not where a symlink leads (a symlink inside the workspace to a denied file is not caught by the rule).

With no approver (headless, no terminal) every question is answered no; the reason says how to allow it.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from core.backends.base import WORKSPACE, Backend
from core.commands import Command, WriteFile
from core.config_model import ApprovalRule
from core.errors import NotFound, SandchatError
from core.operations import Decision, OperationRequest
from core.security.risk import RiskFinding, Severity
from core.security.sanitize import CONTROL_CHARS, visible_control_chars

__all__ = [
    "MODES",
    "READ_TOOLS",
    "ApprovalAnswer",
    "ApprovalPolicy",
    "ApprovalRequest",
    "Approver",
    "AutoApprover",
    "Reader",
    "Verdict",
    "backend_reader",
    "make_diff",
]

log = logging.getLogger(__name__)

Action = Literal["allow", "ask", "deny"]
Answer = Literal["yes", "no", "always", "edit"]
MODES: tuple[str, ...] = ("read-only", "ask", "auto-edit", "full-auto")
READ_TOOLS = frozenset({"read_file", "list_files", "get_file_info", "search_web"})
_MODE_DEFAULTS: dict[str, dict[str, Action]] = {  # for the tools that are not reads
    "read-only": {"write_file": "deny", "delete_file": "deny", "execute_code": "deny"},
    "ask": {"write_file": "ask", "delete_file": "ask", "execute_code": "ask"},
    "auto-edit": {"write_file": "allow", "delete_file": "ask", "execute_code": "ask"},
    "full-auto": {"write_file": "allow", "delete_file": "allow", "execute_code": "allow"},
}
_MODE_REASONS = {
    "read-only": "mode read-only: only read, list, info and search run",
    "ask": "mode ask: writes, deletes and code need approval",
    "auto-edit": "mode auto-edit: deletes and code need approval",
    "full-auto": "mode full-auto",
}
_RANK: dict[Severity, int] = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_STRICTNESS: dict[str, int] = {"allow": 0, "ask": 1, "deny": 2}

#: Reads a file for a diff: workspace-relative path in, bytes out, None when the file does not exist.
Reader = Callable[[str], Awaitable[bytes | None]]


@dataclass(frozen=True)
class ApprovalRequest:
    """What the person needs to decide: the operation, why it asks, the risks and, for a write, the diff."""

    request: OperationRequest
    reason: str  # e.g. "mode ask: writes, deletes and code need approval" or "risk: critical recursive-delete"
    findings: tuple[RiskFinding, ...]
    diff: str | None  # unified diff against the current file (writes only), control characters made visible
    command_text: str


@dataclass(frozen=True)
class ApprovalAnswer:
    """The person's answer; "edit" carries the edited command, which is validated and decided again."""

    answer: Answer
    command: Command | None = None
    note: str = ""


class Approver(Protocol):
    """Whoever answers approval questions: a modal in the TUI, a prompt on a terminal, a flag on the CLI."""

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer: ...


class AutoApprover:
    """Answers every question the same way (``--approve`` answers yes)."""

    def __init__(self, answer: Literal["yes", "no"] = "yes") -> None:
        self.answer = answer

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        return ApprovalAnswer(self.answer, note=f"answered {self.answer} automatically")


@dataclass(frozen=True)
class Verdict:
    """What the policy would do before anyone is asked; ``risky`` marks a question forced by risk findings."""

    action: Action
    reason: str
    risky: bool = False


def backend_reader(backend: Backend, max_bytes: int = 1024 * 1024) -> Reader:
    """A Reader over ``backend``: the current file for a diff, None when it does not exist."""

    async def read(path: str) -> bytes | None:
        try:
            return await backend.read_file(path, max_bytes)
        except NotFound:
            return None

    return read


class ApprovalPolicy:
    """The approval policy as one object: mode, rules, session grants and whoever answers questions."""

    def __init__(
        self,
        mode: str = "ask",
        rules: Sequence[ApprovalRule] = (),
        approver: Approver | None = None,
        reader: Reader | None = None,
        *,
        risk_threshold: Severity = "high",
        confirm_user_risk: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown approval mode {mode!r}: expected one of {', '.join(MODES)}")
        for rule in rules:
            if rule.action not in _STRICTNESS:
                raise ValueError(f"unknown rule action {rule.action!r} in {rule!r}")
        self.mode = mode
        self.rules = tuple(rules)
        self.approver = approver
        self.reader = reader
        self.risk_threshold: Severity = risk_threshold
        self.confirm_user_risk = confirm_user_risk
        self._grants: set[str] = set()
        self._edited: Command | None = None  # an edit the person just made, approved once as it comes back

    @property
    def grants(self) -> frozenset[str]:
        """Tools answered "always" in this session."""
        return frozenset(self._grants)

    def grant(self, tool: str) -> None:
        """Allow ``tool``'s questions for the rest of the session, as an "always" answer does."""
        self._grants.add(tool)

    def revoke_grants(self) -> None:
        """Forget every "always" answer."""
        self._grants.clear()

    def policy_hash(self) -> str:
        """A stable hash of what decides: mode, rules, risk settings and the session's "always" grants.

        Grants are included because they change what runs unasked; the hash changes when one is given.
        """
        state = {
            "mode": self.mode,
            # sorted: the decision never depends on the order of the rules, so neither does the hash
            "rules": sorted([r.tool, r.action, r.path or ""] for r in self.rules),
            "risk_threshold": self.risk_threshold,
            "confirm_user_risk": self.confirm_user_risk,
            "grants": sorted(self._grants),
        }
        return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]

    # -- deciding --------------------------------------------------------------------------------
    async def decide(self, request: OperationRequest) -> Decision:
        """The Gate: allow, deny, or ask the approver and turn the answer into a Decision."""
        edited, self._edited = self._edited, None
        verdict = self.evaluate(request)
        if verdict.action == "ask" and not verdict.risky and edited == request.command:
            return Decision(True, "the person edited and approved this command")
        if verdict.action == "allow":
            return Decision(True, verdict.reason)
        if verdict.action == "deny":
            return Decision(False, f"denied: {verdict.reason}")
        return await self._ask(request, verdict)

    def evaluate(self, request: OperationRequest) -> Verdict:
        """What the policy does with ``request`` before anyone is asked (pure: no I/O, no state change)."""
        tool = request.command.tool
        rule = _deciding_rule(self.rules, tool, request.path)
        if rule is not None and rule.action == "deny":
            return Verdict("deny", f"a rule denies it ({describe_rule(rule)})")
        risk = self._risk_reason(request.findings)
        if request.actor != "assistant":
            if risk and self.confirm_user_risk:
                return Verdict("ask", f"{risk} (your own command: please confirm)", risky=True)
            return Verdict("allow", "the person's own command")
        if self.mode == "read-only" and tool not in READ_TOOLS:
            return Verdict("deny", _MODE_REASONS["read-only"])
        if risk:
            return Verdict("ask", risk, risky=True)
        if rule is not None:
            action: Action = "allow" if rule.action == "allow" else "ask"
            reason = f"rule {describe_rule(rule)}"
        else:
            # a tool this table does not know (a future command) asks rather than runs: fail closed
            action = "allow" if tool in READ_TOOLS else _MODE_DEFAULTS[self.mode].get(tool, "ask")
            reason = _MODE_REASONS[self.mode]
        if action == "ask" and tool in self._grants:
            return Verdict("allow", f"{tool} allowed for this session (answered always)")
        return Verdict(action, reason)

    def _risk_reason(self, findings: Sequence[RiskFinding]) -> str:
        """'risk: critical recursive-delete, high ...' for findings at or above the threshold, else ''."""
        serious = [f for f in findings if _RANK[f.severity] >= _RANK[self.risk_threshold]]
        serious.sort(key=lambda f: -_RANK[f.severity])
        names = list(dict.fromkeys(f"{f.severity} {f.rule}" for f in serious))
        return "risk: " + ", ".join(names) if names else ""

    async def _ask(self, request: OperationRequest, verdict: Verdict) -> Decision:
        if self.approver is None:
            how = "--approve" if verdict.risky else "--approve, --mode or an allow rule (assistant.rules)"
            return Decision(False, f"denied: {verdict.reason}, and there is no one to ask here; allow it with {how}")
        question = ApprovalRequest(
            request, verdict.reason, request.findings, await self._diff(request.command), request.text
        )
        try:
            answer = await self.approver.approve(question)
        except Exception as err:  # a broken approver must not run anything, nor stop the pipeline: fail closed
            log.exception("approver %r failed", self.approver)
            return Decision(False, f"denied: the approval could not be asked ({type(err).__name__}: {err})")
        return self._apply(request, answer)

    def _apply(self, request: OperationRequest, answer: ApprovalAnswer) -> Decision:
        note = f": {answer.note}" if answer.note else ""
        match answer.answer:
            case "yes":
                return Decision(True, f"approved by the person{note}")
            case "edit" if answer.command == request.command:  # unchanged: a plain yes, nothing to remember
                return Decision(True, f"approved by the person{note}")
            case "always":
                self._grants.add(request.command.tool)
                return Decision(True, f"approved by the person for the rest of the session{note}")
            case "edit" if answer.command is not None:
                self._edited = answer.command
                return Decision(True, f"edited by the person{note}", command=answer.command)
            case "no":
                return Decision(False, f"denied: the person said no{note}")
        return Decision(False, f"denied: unusable approval answer {answer.answer!r}")

    async def _diff(self, command: Command) -> str | None:
        if not isinstance(command, WriteFile) or self.reader is None:
            return None
        rel, shown = _workspace_paths(command.path)
        try:
            old = await self.reader(rel)
        except (SandchatError, OSError) as err:
            return f"(could not read the current {shown} for a diff: {err})"
        return make_diff(shown, old, command.content)


# -- rules -------------------------------------------------------------------------------------------


def describe_rule(rule: ApprovalRule) -> str:
    """A rule as the person wrote it, e.g. ``deny write_file on secrets/**``."""
    return f"{rule.action} {rule.tool}" + (f" on {rule.path}" if rule.path else "")


def _deciding_rule(rules: Sequence[ApprovalRule], tool: str, path: str) -> ApprovalRule | None:
    """The rule that decides: any matching deny, else the most specific match (ties: the stricter)."""
    matching = [r for r in rules if r.tool in (tool, "*") and (r.path is None or _path_matches(r.path, path))]
    if not matching:
        return None
    return max(matching, key=lambda r: (r.action == "deny", *_specificity(r), _STRICTNESS[r.action]))


def _specificity(rule: ApprovalRule) -> tuple[bool, int, bool]:
    literal = len(re.sub(r"[*?]", "", _anchored(rule.path))) if rule.path else 0
    return (rule.path is not None, literal, rule.tool != "*")


def _path_matches(pattern: str, path: str) -> bool:
    return bool(path) and _glob_regex(_anchored(pattern)).fullmatch(path) is not None


def _anchored(pattern: str) -> str:
    """The glob as an absolute /workspace/... pattern; relative globs start at the workspace root."""
    if pattern == WORKSPACE or pattern.startswith(WORKSPACE + "/"):
        return pattern
    return WORKSPACE + "/" + pattern.removeprefix("./").lstrip("/")


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` within one name, ``**`` across names, ``x/**`` matching ``x`` too."""
    out: list[str] = []
    for token in re.split(r"(/\*\*$|\*\*/|\*\*|\*|\?)", pattern):
        out.append(_GLOB_TOKENS.get(token, re.escape(token)))
    return re.compile("".join(out))


_GLOB_TOKENS = {"/**": "(?:/.*)?", "**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


def _workspace_paths(path: str) -> tuple[str, str]:
    """(workspace-relative path, /workspace/... path) of a path the validator already accepted."""
    rel = path.removeprefix(WORKSPACE).strip("/") if path.startswith(WORKSPACE) else path.strip("/")
    rel = "/".join(part for part in rel.split("/") if part not in ("", "."))
    return rel, f"{WORKSPACE}/{rel}" if rel else WORKSPACE


# -- diffs -------------------------------------------------------------------------------------------

_DIFF_MAX_LINES = 400
_DIFF_MAX_LINE = 1000
_DIFF_INPUT_LIMIT = 256 * 1024  # difflib is slow on big inputs; beyond this the new text is shown instead


def make_diff(path: str, old: bytes | None, new: str) -> str:
    """A unified diff of ``new`` against ``old`` (None: a new file), control characters made visible."""
    new_lines = _lines(new)
    if old is None:
        header = [f"new file {path} ({len(new.encode('utf-8')):,} bytes)\n", "--- /dev/null\n", f"+++ {path}\n"]
        body = [f"@@ -0,0 +1,{len(new_lines)} @@\n", *("+" + line for line in new_lines)] if new_lines else []
        return _limit(header + body)
    text = _text_of(old)
    if text is None:
        return f"the current {path} is binary ({len(old):,} bytes); it would become {len(new):,} characters of text"
    if text == new:
        return f"no change: {path} already holds exactly this content"
    if len(old) > _DIFF_INPUT_LIMIT or len(new) > _DIFF_INPUT_LIMIT:
        size = f"{len(old):,} -> {len(new.encode('utf-8')):,} bytes"
        head = f"{path} is too large to diff ({size}); the new content:\n"
        return _limit([head, *("+" + line for line in new_lines)])
    old_lines = _lines(text)
    return _limit(list(difflib.unified_diff(old_lines, new_lines, fromfile=path, tofile=path)))


def _lines(text: str) -> list[str]:
    """Lines split at ``\n`` only: str.splitlines would also split at \r, \x1c or U+2028 and hide them."""
    return _LINE.findall(text)


_LINE = re.compile(r"[^\n]*\n|[^\n]+$")


def _text_of(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _limit(lines: list[str]) -> str:
    """At most _DIFF_MAX_LINES visible lines, each cut at _DIFF_MAX_LINE characters, with markers."""
    out = [_visible_line(line) for line in lines[:_DIFF_MAX_LINES]]
    if len(lines) > _DIFF_MAX_LINES:
        out.append(f"… diff truncated: {len(lines) - _DIFF_MAX_LINES:,} more lines not shown")
    return "\n".join(out)


def _visible_line(line: str) -> str:
    """One diff line without its line break; other control characters shown as escapes, tabs kept."""
    ended = line.endswith("\n")
    body = line[:-1] if ended else line
    if len(body) > _DIFF_MAX_LINE:
        body = body[:_DIFF_MAX_LINE] + f"… ({len(body) - _DIFF_MAX_LINE:,} more characters)"
    shown = CONTROL_CHARS.sub(lambda m: m.group() if m.group() == "\t" else visible_control_chars(m.group()), body)
    return shown if ended or not body else shown + "\n\\ No newline at end of file"
