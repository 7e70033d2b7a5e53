"""``sandchat ask "..."``: one assistant turn without the app.

The reply streams to stdout; the commands the assistant ran, approval questions and errors go to stderr, so
``sandchat ask ... > answer.txt`` keeps only the answer. With ``--json`` nothing streams: one JSON document is
printed at the end (reply, status, ``incomplete``, the tool calls with their status, the error if any).

Approvals follow the approval policy (core/security/policy.py) in the mode of ``--mode`` or
``assistant.approval_mode``. Questions are asked on the terminal when stdin is one; ``--approve`` answers yes to
every question (deny rules still win); with neither, every question is answered no, so nothing that needs
approval runs unattended.

Exit codes: 0 the reply is complete; 1 it is incomplete (cut off, step limit, cancelled); 2 usage error or no
model configured; 6 the model could not be asked (bad key, unknown model, server unreachable ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from core.assistant.client import ClientFactory
from core.assistant.events import (
    AssistantEvent,
    ReplyDelta,
    ReplyFinished,
    RetryCountdown,
    ToolCallCancelled,
    ToolCallFinished,
    ToolCallRejected,
    ToolCallStarted,
    TurnError,
)
from core.assistant.loop import Assistant
from core.assistant.turn import TurnResult
from core.backends.base import Backend
from core.config_model import AssistantConfig
from core.history import ConversationStore, HistoryError
from core.operations import Gate, SecureOperations
from core.security.policy import ApprovalAnswer, ApprovalPolicy, ApprovalRequest, Approver, AutoApprover, backend_reader
from core.security.sanitize import strip_terminal_escapes, visible_control_chars

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 6
_SHOWN_LINES = 20

#: Builds the gate for this run from the approval mode and whoever answers questions (None: nobody).
GateFactory = Callable[[str, Approver | None], Gate]


def policy_gate_factory(config: AssistantConfig, backend: Backend) -> GateFactory:
    """The real gate: the approval policy with the config's rules, reading files through ``backend`` for diffs."""

    def make(mode: str, approver: Approver | None) -> Gate:
        return ApprovalPolicy(mode, config.rules, approver, backend_reader(backend))

    return make


async def run_ask(
    args: argparse.Namespace,
    *,
    ops: SecureOperations,
    config: AssistantConfig,
    data_dir: Path | None,
    out: TextIO,
    err: TextIO,
    stdin: TextIO,
    gate_factory: GateFactory | None = None,
    interactive: bool | None = None,
    known_secrets: Sequence[str] = (),
    client_factory: ClientFactory | None = None,
) -> int:
    """Run one turn for ``args`` over an already built pipeline.

    With ``gate_factory`` the pipeline's gate is replaced by one for ``--mode`` and the approver of
    :func:`choose_approver` (``interactive`` defaults to :func:`is_interactive`); without it, ``ops`` keeps the
    gate it was built with. ``data_dir`` None (or ``--no-history``) saves nothing.
    """
    prompt = read_prompt(args.prompt, stdin)
    problem = usage_problem(args, prompt)
    if problem:
        err.write(f"sandchat ask: {problem}\n")
        return EXIT_USAGE
    if gate_factory is not None:
        interactive = is_interactive(args, stdin) if interactive is None else interactive
        ops.gate = gate_factory(args.mode or config.approval_mode, choose_approver(args, interactive, stdin, err))
    if args.max_steps is not None:
        config = replace(config, max_steps=args.max_steps)
    secrets = [config.api_key, *known_secrets]
    store = None if args.no_history or data_dir is None else ConversationStore.open(data_dir, known_secrets=secrets)
    try:
        assistant = Assistant(ops, config, history=store, client_factory=client_factory)
        return await _ask(args, prompt, assistant, out, err)
    finally:
        if store is not None:
            store.close()


def usage_problem(args: argparse.Namespace, prompt: str) -> str:
    """What is wrong with the command line, or ""."""
    if not prompt.strip():
        return "nothing to ask (give a prompt, or '-' to read it from stdin)"
    if args.max_steps is not None and args.max_steps < 1:
        return "--max-steps must be at least 1"
    return ""


def is_interactive(args: argparse.Namespace, stdin: TextIO) -> bool:
    """Questions can be asked when stdin is a terminal that the prompt was not read from."""
    return list(args.prompt) != ["-"] and stdin.isatty()


def read_prompt(words: Sequence[str], stdin: TextIO) -> str:
    """The prompt: the words joined by spaces, or all of stdin for a lone ``-``."""
    return stdin.read() if list(words) == ["-"] else " ".join(words)


def choose_approver(args: argparse.Namespace, interactive: bool, stdin: TextIO, err: TextIO) -> Approver | None:
    """``--approve`` says yes; a terminal asks the person; otherwise nobody answers (the policy says no)."""
    if args.approve:
        return AutoApprover("yes")
    return TerminalApprover(stdin, err) if interactive else None


async def _ask(args: argparse.Namespace, prompt: str, assistant: Assistant, out: TextIO, err: TextIO) -> int:
    printer = AskPrinter(out, err, as_json=args.json)
    assistant.subscribe(printer)
    try:
        if args.conversation is not None:
            try:
                assistant.resume(args.conversation)
            except HistoryError as error:
                err.write(f"sandchat ask: {error}\n")
                return EXIT_USAGE
        result = await assistant.send(prompt)
    finally:
        await assistant.close()
    if args.json:
        out.write(json.dumps(result_json(result), ensure_ascii=False) + "\n")
    return exit_code(result)


def exit_code(result: TurnResult) -> int:
    """See the module docstring."""
    if result.status == "complete":
        return EXIT_OK
    if result.error is not None and result.error.kind == "not_configured":
        return EXIT_USAGE
    return EXIT_MODEL if result.status == "failed" else EXIT_INCOMPLETE


def result_json(result: TurnResult) -> dict[str, Any]:
    """The ``--json`` document."""
    error = result.error
    return {
        "reply": result.reply,
        "status": result.status,
        "incomplete": result.incomplete,
        "steps": result.steps,
        "conversation_id": result.conversation_id,
        "tool_calls": [
            {"call_id": c.call_id, "tool": c.tool, "command": c.command_text, "status": c.status,
             "message": c.message, "arguments": c.arguments}
            for c in result.tool_calls
        ],
        "error": None if error is None else {
            "kind": error.kind, "message": error.message, "hint": error.hint, "retryable": error.retryable,
        },
    }


def one_line(text: str, limit: int = 160) -> str:
    """A command shown on one line: control characters made visible, long or multi-line text shortened."""
    first, _, rest = text.partition("\n")
    shown = visible_control_chars(first)
    if len(shown) > limit:
        shown = shown[:limit] + "…"
    if rest:
        shown += f" … ({text.count(chr(10)) + 1} lines, {len(text):,} characters)"
    return shown


class AskPrinter:
    """Listens to the assistant: reply text to stdout (unless JSON), everything else to stderr."""

    def __init__(self, out: TextIO, err: TextIO, *, as_json: bool) -> None:
        self.out, self.err, self.as_json = out, err, as_json
        self._step = 0
        self._last = "\n"  # the last character written to stdout
        self._counting: tuple[int, str] | None = None

    def __call__(self, event: AssistantEvent) -> None:
        match event:
            case ReplyDelta(text, step):
                self._reply(text, step)
            case ToolCallStarted(_, _, command):
                self._note(f"→ {one_line(command)}")
            case ToolCallFinished(_, result):
                self._note(f"  [{result.status}] {one_line(result.message)}")
            case ToolCallRejected(_, tool, _, problem):
                self._note(f"→ {one_line(tool or '(no tool name)')}: not run: {one_line(problem)}")
            case ToolCallCancelled(_, tool, command):
                self._note(f"  [cancelled] {one_line(command or tool)}")
            case RetryCountdown(reason, seconds, attempt, most):
                self._countdown(reason, seconds, attempt, most)
            case TurnError(_, message, hint, _):
                self._note(f"sandchat ask: {strip_terminal_escapes(message)}" + (f"\n{hint}" if hint else ""))
            case ReplyFinished():
                self._end_line()

    def _reply(self, text: str, step: int) -> None:
        if self.as_json:
            return
        if step != self._step and self._step:
            self._end_line()
            self.out.write("\n")
        self._step = step
        clean = strip_terminal_escapes(text)  # the model's text is not trusted to drive the terminal
        if clean:
            self.out.write(clean)
            self.out.flush()
            self._last = clean[-1]

    def _countdown(self, reason: str, seconds: int, attempt: int, most: int) -> None:
        if self._counting != (attempt, reason):  # one line per wait, not one per second
            self._counting = (attempt, reason)
            self._note(f"{strip_terminal_escapes(reason)}; retrying in {seconds} s (retry {attempt} of {most})")

    def _note(self, line: str) -> None:
        self._end_line()
        self.err.write(line + "\n")
        self.err.flush()

    def _end_line(self) -> None:
        if self._last != "\n" and not self.as_json:
            self.out.write("\n")
            self.out.flush()
            self._last = "\n"


class TerminalApprover:
    """Asks approval questions on the terminal: the command, why it asks, risks and diff on stderr; y/n/a."""

    def __init__(self, stdin: TextIO, err: TextIO) -> None:
        self.stdin, self.err = stdin, err

    async def approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        """Show the question on stderr and read one line: y/yes, a/always, anything else (or nothing) is no."""
        self.err.write(self.question(request))
        self.err.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return ApprovalAnswer("yes", note="answered on the terminal")
        if answer in ("a", "always"):
            return ApprovalAnswer("always", note="answered on the terminal")
        return ApprovalAnswer("no", note="answered on the terminal" if line else "no answer (end of input)")

    @staticmethod
    def question(request: ApprovalRequest) -> str:
        """The question as printed: why it asks, the command, risks and diff, then the choices."""
        lines = [f"approval needed ({request.reason}):"]
        lines += [f"  {visible_control_chars(line)}" for line in request.command_text.splitlines()[:_SHOWN_LINES]]
        for f in request.findings:
            lines.append(f"  risk [{f.severity}] {f.rule}: {f.message}")
        if request.diff:
            lines += [f"  {line}" for line in request.diff.splitlines()[: _SHOWN_LINES * 2]]
        lines.append("run it? [y]es, [n]o, [a]lways for this tool this session: ")
        return "\n".join(lines)
