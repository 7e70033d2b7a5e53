"""The ``sandchat`` command: the app by default, headless subcommands otherwise.

Textual is imported only when the app opens, so ``sandchat exec`` and ``sandchat doctor`` start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from core.cli import EXIT_USAGE, build_parser, run_cli, services_from_args
from core.errors import SandchatError
from core.paths import AppPaths


def run_app(args: argparse.Namespace, paths: AppPaths) -> int:
    """Open the app on the chosen sandbox and close the sandbox when it ends."""
    from tui.app import SandchatApp

    services = services_from_args(args, paths)
    app = SandchatApp(
        services.ops,
        sandbox_name=services.sandbox,
        backend_reason=services.choice.reason,
        config_error=str(services.config_error) if services.config_error else "",
        keymap=services.config.keys.bindings,
    )
    try:
        code = app.run()
    finally:
        asyncio.run(services.close())
    return code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.subcommand is not None:
        return run_cli(args)
    try:
        return run_app(args, AppPaths.from_environment())
    except SandchatError as err:
        sys.stderr.write(f"sandchat: {err}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
