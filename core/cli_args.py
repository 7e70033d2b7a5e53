"""The whole ``sandchat`` command line, built without importing what runs it.

``sandchat`` with no subcommand opens the app: parsing its arguments must not import the audit log, the
config writer or the assistant (the app's first frame waits for every import). Each subcommand's runner
(core/cli.py, cli_audit.py, cli_config.py, cli_ask.py) is imported only when that subcommand runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from core.choices import APPROVAL_MODES, BACKEND_MODES

EXIT_USAGE = 2  # a usage error, for every subcommand and the app


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; with no subcommand, ``sandchat`` opens the app."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--sandbox", default=argparse.SUPPRESS,
                        help="the named sandbox to use (default: backend.sandbox in the config, 'default')")
    common.add_argument("--backend", default=argparse.SUPPRESS, choices=BACKEND_MODES,
                        help="which sandbox backend (default: backend.mode in the config, 'auto')")
    common.add_argument("--strict-config", action="store_true", default=argparse.SUPPRESS,
                        help="stop with the error if the config file is broken, instead of using the defaults")
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
    add_config_parser(sub)
    add_audit_parser(sub)
    add_ask_parser(sub, parents=[common])
    return parser


def add_config_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``config`` subcommand and its actions."""
    cfg = sub.add_parser("config", help="show or change the settings")
    actions = cfg.add_subparsers(dest="config_action", required=True)
    actions.add_parser("path", help="print where the config file is")
    show = actions.add_parser("show", help="print every setting (API keys masked)")
    show.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    get = actions.add_parser("get", help="print one setting, e.g. local.timeout")
    get.add_argument("key")
    put = actions.add_parser("set", help="change one setting in the config file, e.g. local.timeout 60")
    put.add_argument("key")
    put.add_argument("value")


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="from this time: ISO date/time or an age like 7d")
    parser.add_argument("--until", help="before this time")
    parser.add_argument("--actor", choices=["user", "assistant", "app"])
    parser.add_argument("--tool", help="e.g. write_file, execute_code")
    parser.add_argument("--status", choices=["started", "ok", "error", "failed", "blocked", "denied"])
    parser.add_argument("--text", help="words in the command, path or message")
    parser.add_argument("--session", help="a session id")


def add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``audit`` subcommand and its actions."""
    audit = sub.add_parser("audit", help="list, verify and export the record of every operation")
    actions = audit.add_subparsers(dest="audit_action", required=True)
    lst = actions.add_parser("list", help="records, newest first")
    _add_filters(lst)
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--before-seq", type=int, help="the page before this record number")
    lst.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one record in full")
    show.add_argument("seq", type=int)
    show.add_argument("--json", action="store_true")
    actions.add_parser("verify", help="check the chain; says where it breaks")
    export = actions.add_parser("export", help="records as JSON lines, for a SIEM")
    export.add_argument("--format", choices=["jsonl"], default="jsonl")
    export.add_argument("--output", "-o", help="a file (default: stdout)")
    _add_filters(export)
    stats = actions.add_parser("stats", help="per tool: count, success and blocked rates, p50/p95 duration")
    _add_filters(stats)
    stats.add_argument("--json", action="store_true")
    prune = actions.add_parser("prune", help="delete records older than a date, keeping the chain verifiable")
    prune.add_argument("--before", required=True, help="ISO date/time or an age like 90d")


def add_ask_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """The ``ask`` subcommand."""
    ask = sub.add_parser("ask", parents=list(parents), help="ask the assistant once, without the app")
    ask.add_argument("prompt", nargs="+", metavar="PROMPT", help="what to ask; '-' reads it from stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON document at the end instead of streaming")
    ask.add_argument("--approve", action="store_true",
                     help="answer yes to every approval question (deny rules still apply)")
    ask.add_argument("--mode", choices=APPROVAL_MODES,
                     help="approval mode for this run (default: assistant.approval_mode)")
    ask.add_argument("--conversation", type=int, metavar="ID", help="continue a saved conversation")
    ask.add_argument("--no-history", action="store_true", help="do not save this conversation")
    ask.add_argument("--max-steps", type=int, metavar="N", help="most model replies in this turn")
    return ask
