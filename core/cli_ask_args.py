"""The ``sandchat ask`` arguments, kept apart from core/cli_ask.py so that building the command line does not
import the assistant (the model client, the tools and the history load only when ``ask`` runs)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from core.config_model import APPROVAL_MODES


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
