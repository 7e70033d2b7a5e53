"""The ``sandchat`` command: the app by default, headless subcommands otherwise.

Textual is imported only when the app opens, so ``sandchat exec`` and ``sandchat doctor`` start fast.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from core.cli import EXIT_USAGE, build_parser, run_cli
from core.errors import SandchatError
from core.paths import AppPaths, check_sandbox_name
from core.services import choose_backend, open_local_backend


def run_app(sandbox: str, backend: str, paths: AppPaths) -> int:
    """Open the app on the named sandbox and close the sandbox when it ends."""
    from core.operations import SecureOperations
    from tui.app import SandchatApp

    check_sandbox_name(sandbox)
    choose_backend(backend)
    sandbox_backend = open_local_backend(paths, sandbox)
    app = SandchatApp(SecureOperations(sandbox_backend), sandbox_name=sandbox)
    try:
        code = app.run()
    finally:
        asyncio.run(sandbox_backend.close())
    return code or 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.subcommand is not None:
        return run_cli(args)
    try:
        return run_app(args.sandbox, args.backend, AppPaths.from_environment())
    except SandchatError as err:
        sys.stderr.write(f"sandchat: {err}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
