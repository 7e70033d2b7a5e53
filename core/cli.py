"""The headless command line: ``sandchat exec`` and ``sandchat doctor``.

Exit codes of ``exec``: 0 every command succeeded; 1 a program ran and failed (non-zero exit or
timeout); 2 usage error; 3 blocked by validation; 4 the sandbox failed; 5 denied by policy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TextIO

from core.errors import SandchatError
from core.operations import SecureOperations
from core.paths import AppPaths, check_sandbox_name
from core.results import OperationResult
from core.security.sanitize import strip_terminal_escapes
from core.services import choose_backend, open_local_backend

EXIT_OK, EXIT_PROGRAM, EXIT_USAGE, EXIT_BLOCKED, EXIT_FAILED, EXIT_DENIED = 0, 1, 2, 3, 4, 5
_EXIT_BY_STATUS = {"ok": EXIT_OK, "error": EXIT_PROGRAM, "blocked": EXIT_BLOCKED,
                   "failed": EXIT_FAILED, "denied": EXIT_DENIED}
_MARK = {"ok": "ok", "error": "error", "blocked": "BLOCKED", "failed": "FAILED", "denied": "DENIED"}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; with no subcommand, ``sandchat`` opens the app."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--sandbox", default="default", help="the named sandbox to use (default: default)")
    common.add_argument("--backend", default="auto", choices=["auto", "local"], help="which sandbox backend")
    parser = argparse.ArgumentParser(
        prog="sandchat", parents=[common],
        description="Work with an AI assistant that acts on files and code only inside a sandbox.",
    )
    sub = parser.add_subparsers(dest="subcommand")
    ex = sub.add_parser("exec", parents=[common], help="run commands through the pipeline and print results")
    ex.add_argument("commands", nargs="+", metavar="COMMAND",
                    help="e.g. 'read file:notes.txt'; '-' reads one command per line from stdin")
    ex.add_argument("--json", action="store_true", help="print one JSON object per command")
    ex.add_argument("--keep-going", action="store_true", help="run the remaining commands after a failure")
    doc = sub.add_parser("doctor", parents=[common], help="show the backend, its isolation and the directories")
    doc.add_argument("--json", action="store_true", help="print machine-readable output")
    return parser


def read_commands(items: Sequence[str], stdin: TextIO) -> list[str]:
    """Arguments as given; ``-`` stands for the non-blank lines of stdin."""
    commands: list[str] = []
    for item in items:
        if item == "-":
            commands.extend(line.rstrip("\n") for line in stdin if line.strip())
        else:
            commands.append(item)
    return commands


def result_json(result: OperationResult) -> dict[str, Any]:
    """A result as plain JSON; file content as text, or base64 when it is not UTF-8."""
    out: dict[str, Any] = {
        "op_id": result.op_id, "command": result.text, "tool": result.tool, "status": result.status,
        "message": result.message, "path": result.path, "duration": round(result.duration, 6),
        "findings": [asdict(f) for f in result.findings],
    }
    if result.exec is not None:
        out["exec"] = asdict(result.exec)
    if result.info is not None:
        out["info"] = asdict(result.info)
    if result.entries:
        out["entries"] = [asdict(e) for e in result.entries]
    if result.tool == "list_files" and result.ok:
        out.setdefault("entries", [])
    if result.content is not None:
        try:
            out["content"] = result.content.decode("utf-8")
        except UnicodeDecodeError:
            out["content_base64"] = base64.b64encode(result.content).decode("ascii")
    return out


def print_result(result: OperationResult, out: TextIO, err: TextIO) -> None:
    """Human output: the body on stdout, a status line and any risk findings on stderr."""
    for f in result.findings:
        err.write(f"risk [{f.severity}] {f.rule}: {f.message} (characters {f.start}-{f.end})\n")
    if result.output:
        out.write(result.output if result.output.endswith("\n") else result.output + "\n")
        out.flush()
    err.write(f"[{_MARK[result.status]}] {strip_terminal_escapes(result.message)}\n")


async def run_exec(ops: SecureOperations, commands: list[str], *, as_json: bool, keep_going: bool,
                   out: TextIO, err: TextIO) -> int:
    """Run commands in order; the exit code is that of the first one that did not succeed."""
    code = EXIT_OK
    for text in commands:
        result = await ops.run(text, actor="user")
        if as_json:
            out.write(json.dumps(result_json(result), ensure_ascii=False) + "\n")
        else:
            print_result(result, out, err)
        status_code = _EXIT_BY_STATUS[result.status]
        if status_code != EXIT_OK:
            code = code or status_code
            if not keep_going:
                break
    return code


async def _exec_main(args: argparse.Namespace, paths: AppPaths) -> int:
    commands = read_commands(args.commands, sys.stdin)
    if not commands:
        sys.stderr.write("sandchat exec: no commands given (pass them as arguments or '-' for stdin)\n")
        return EXIT_USAGE
    backend = open_local_backend(paths, args.sandbox)
    try:
        ops = SecureOperations(backend)
        return await run_exec(ops, commands, as_json=args.json, keep_going=args.keep_going,
                              out=sys.stdout, err=sys.stderr)
    finally:
        await backend.close()


async def doctor_report(paths: AppPaths, sandbox: str, backend_name: str) -> dict[str, Any]:
    """What ``sandchat doctor`` shows: backend and why, isolation and why, where files live."""
    choice = choose_backend(backend_name)
    backend = open_local_backend(paths, sandbox)
    try:
        iso = await backend.probe() if hasattr(backend, "probe") else backend.isolation()
    finally:
        await backend.close()
    return {
        "backend": choice.name, "backend_reason": choice.reason, "sandbox": sandbox,
        "workspace": str(paths.workspace(sandbox)), "isolation": iso.level, "isolation_summary": iso.summary,
        "isolation_details": list(iso.details), "can_execute": iso.can_execute, "reason": iso.reason,
        "config_file": str(paths.config_file), "config_exists": paths.config_file.exists(),
        "data_dir": str(paths.data_dir),
    }


def print_doctor(report: dict[str, Any], out: TextIO) -> None:
    """The doctor report for people."""
    config_state = "present" if report["config_exists"] else "not created yet"
    lines = [
        f"backend:    {report['backend']} ({report['backend_reason']})",
        f"sandbox:    {report['sandbox']}",
        f"workspace:  {report['workspace']}",
        f"isolation:  {report['isolation']}: {report['isolation_summary']}",
        *(f"  - {d}" for d in report["isolation_details"]),
        f"code runs:  {'yes' if report['can_execute'] else 'refused: ' + report['reason']}",
        f"config:     {report['config_file']} ({config_state})",
        f"data:       {report['data_dir']}",
    ]
    out.write("\n".join(lines) + "\n")


def run_cli(args: argparse.Namespace, paths: AppPaths | None = None) -> int:
    """Run a headless subcommand; errors are printed as one clear message, never a traceback."""
    paths = paths or AppPaths.from_environment()
    try:
        check_sandbox_name(args.sandbox)
        choose_backend(args.backend)
        if args.subcommand == "exec":
            return asyncio.run(_exec_main(args, paths))
        report = asyncio.run(doctor_report(paths, args.sandbox, args.backend))
        if args.json:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
        else:
            print_doctor(report, sys.stdout)
        return EXIT_OK if report["can_execute"] else EXIT_FAILED
    except SandchatError as err:
        sys.stderr.write(f"sandchat: {err}\n")
        return EXIT_USAGE
