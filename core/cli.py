"""The headless command line: ``sandchat exec`` and ``sandchat doctor``.

Exit codes of ``exec``: 0 every command succeeded; 1 a program ran and failed (non-zero exit or
timeout); 2 usage error; 3 blocked by validation; 4 the sandbox failed; 5 denied by policy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TextIO

from core.cli_args import EXIT_USAGE, build_parser
from core.cli_audit import run_audit
from core.cli_config import run_config
from core.errors import SandchatError
from core.operations import SecureOperations
from core.paths import AppPaths
from core.results import OperationResult
from core.security.sanitize import strip_terminal_escapes
from core.services import Services, build_services, load_settings, open_audit

EXIT_OK, EXIT_PROGRAM, EXIT_BLOCKED, EXIT_FAILED, EXIT_DENIED = 0, 1, 3, 4, 5
__all__ = ["EXIT_USAGE", "build_parser", "run_cli"]
_EXIT_BY_STATUS = {"ok": EXIT_OK, "error": EXIT_PROGRAM, "blocked": EXIT_BLOCKED,
                   "failed": EXIT_FAILED, "denied": EXIT_DENIED}
_MARK = {"ok": "ok", "error": "error", "blocked": "BLOCKED", "failed": "FAILED", "denied": "DENIED"}


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


def services_from_args(args: argparse.Namespace, paths: AppPaths) -> Services:
    """Build the services the way the command line asked for them."""
    return build_services(
        paths,
        sandbox=getattr(args, "sandbox", None),
        backend=getattr(args, "backend", None),
        strict_config=getattr(args, "strict_config", False),
    )


def warn_config(services: Services, err: TextIO) -> None:
    """A broken config file does not stop a command, but it is never silent."""
    if services.config_error is not None:
        err.write(f"sandchat: warning: using the default settings: {services.config_error}\n")


async def _exec_main(args: argparse.Namespace, paths: AppPaths) -> int:
    commands = read_commands(args.commands, sys.stdin)
    if not commands:
        sys.stderr.write("sandchat exec: no commands given (pass them as arguments or '-' for stdin)\n")
        return EXIT_USAGE
    services = services_from_args(args, paths)
    warn_config(services, sys.stderr)
    try:
        await services.start()
        return await run_exec(services.ops, commands, as_json=args.json, keep_going=args.keep_going,
                              out=sys.stdout, err=sys.stderr)
    finally:
        await services.close()


async def doctor_report(services: Services) -> dict[str, Any]:
    """What ``sandchat doctor`` shows: backend and why, isolation and why, where files live."""
    backend = services.backend
    iso = await backend.probe() if hasattr(backend, "probe") else backend.isolation()
    paths = services.paths
    daytona: list[list[object]] = []
    if services.choice.name == "daytona" or services.config.daytona.api_key:
        from core.backends.daytona_doctor import check_connection

        checks = await check_connection(services.config.daytona, services.config.daytona.api_key)
        daytona = [[name, ok, message] for name, ok, message in checks]
    audit = "disabled (audit.enabled = false)"
    if services.audit is not None:
        check = await asyncio.to_thread(services.audit.verify)
        audit = (f"{services.audit.db_path}: {check.records_checked} records, chain verified" if check.ok
                 else f"{services.audit.db_path}: BROKEN at record {check.first_bad_seq}: {check.problem}")
    return {
        "backend": services.choice.name, "backend_reason": services.choice.reason, "sandbox": services.sandbox,
        "workspace": str(paths.workspace(services.sandbox)), "isolation": iso.level,
        "isolation_summary": iso.summary, "isolation_details": list(iso.details), "can_execute": iso.can_execute,
        "reason": iso.reason, "config_file": str(paths.config_file), "config_exists": paths.config_file.exists(),
        "config_error": str(services.config_error) if services.config_error else None,
        "env_overrides": dict(services.loaded.env_overrides), "data_dir": str(paths.data_dir), "audit": audit,
        "daytona_checks": daytona,
    }


def print_doctor(report: dict[str, Any], out: TextIO) -> None:
    """The doctor report for people."""
    config_state = "present" if report["config_exists"] else "not created yet"
    if report["config_error"]:
        config_state = "BROKEN, defaults in use: " + report["config_error"]
    lines = [
        f"backend:    {report['backend']} ({report['backend_reason']})",
        f"sandbox:    {report['sandbox']}",
        f"workspace:  {report['workspace']}",
        f"isolation:  {report['isolation']}: {report['isolation_summary']}",
        *(f"  - {d}" for d in report["isolation_details"]),
        f"code runs:  {'yes' if report['can_execute'] else 'refused: ' + report['reason']}",
        f"config:     {report['config_file']} ({config_state})",
        *(f"  - {key} from ${var}" for key, var in sorted(report["env_overrides"].items())),
        f"data:       {report['data_dir']}",
        f"audit log:  {report['audit']}",
        *(["daytona:"] if report["daytona_checks"] else []),
        *(f"  - {name}: {'ok' if ok else 'FAILED'}: {message}" for name, ok, message in report["daytona_checks"]),
    ]
    out.write("\n".join(lines) + "\n")


async def _doctor_main(args: argparse.Namespace, paths: AppPaths) -> int:
    services = services_from_args(args, paths)
    try:
        report = await doctor_report(services)
    finally:
        await services.close()
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_doctor(report, sys.stdout)
    daytona_ok = all(ok for _, ok, _ in report["daytona_checks"]) or services.choice.name != "daytona"
    return EXIT_OK if report["can_execute"] and daytona_ok else EXIT_FAILED


async def _ask_main(args: argparse.Namespace, paths: AppPaths) -> int:
    from core.cli_ask import choose_approver, is_interactive, run_ask  # the assistant loads only for `ask`

    interactive = is_interactive(args, sys.stdin)
    services = build_services(
        paths,
        sandbox=getattr(args, "sandbox", None),
        backend=getattr(args, "backend", None),
        strict_config=getattr(args, "strict_config", False),
        approver=choose_approver(args, interactive, sys.stdin, sys.stderr),
        mode=args.mode,
    )
    warn_config(services, sys.stderr)
    config = services.config
    try:
        await services.start()
        return await run_ask(
            args, ops=services.ops, config=config.assistant, data_dir=services.paths.data_dir,
            out=sys.stdout, err=sys.stderr, stdin=sys.stdin,
            known_secrets=[config.daytona.api_key, config.search.api_key],
        )
    finally:
        await services.close()


def _audit_main(args: argparse.Namespace, paths: AppPaths) -> int:
    loaded, _ = load_settings(paths, strict=getattr(args, "strict_config", False), environ=os.environ)
    log = open_audit(paths, loaded.config)
    try:
        return run_audit(args, log, sys.stdout, sys.stderr)
    finally:
        log.close()


def run_cli(args: argparse.Namespace, paths: AppPaths | None = None) -> int:
    """Run a headless subcommand; errors are printed as one clear message, never a traceback."""
    paths = paths or AppPaths.from_environment()
    try:
        if args.subcommand == "exec":
            return asyncio.run(_exec_main(args, paths))
        if args.subcommand == "config":
            return run_config(args, paths, sys.stdout)
        if args.subcommand == "audit":
            return _audit_main(args, paths)
        if args.subcommand == "ask":
            return asyncio.run(_ask_main(args, paths))
        return asyncio.run(_doctor_main(args, paths))
    except SandchatError as err:
        sys.stderr.write(f"sandchat: {err}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl+C: a running turn was cancelled and its partial reply saved as such
        return 130
