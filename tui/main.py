"""The ``sandchat`` command: the app by default, headless subcommands otherwise.

Textual is imported only when the app opens, so ``sandchat exec`` and ``sandchat doctor`` start fast; the
headless runners (core/cli.py) are imported only for a subcommand, so the app's first frame does not wait for
them.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.cli_args import EXIT_USAGE, build_parser
from core.errors import SandchatError
from core.paths import AppPaths

if TYPE_CHECKING:
    from core.assistant.loop import Assistant
    from core.history import ConversationStore
    from core.security.policy import Approver
    from core.services import Services
    from tui.app import SandchatApp, Started

LOAD_WAIT = 60.0  # seconds to wait, after the app closed, for services still being built (then closed)


def model_configured(services: Services) -> bool:
    """A model can be asked: a model name, and a key or the base URL of a server that needs none."""
    assistant = services.config.assistant
    return bool(assistant.model and (assistant.api_key or assistant.base_url))


def build_assistant(services: Services, history: ConversationStore | None) -> Assistant | None:
    """The assistant over the app's pipeline, or None when no model is configured (offline suggestions)."""
    if not model_configured(services):
        return None
    from core.assistant.loop import Assistant

    return Assistant(services.ops, services.config.assistant, history=history)


def open_history(services: Services) -> ConversationStore:
    from core.history import ConversationStore

    config = services.config
    secrets = [s for s in (config.assistant.api_key, config.search.api_key, config.daytona.api_key) if s]
    return ConversationStore.open(services.paths.data_dir, known_secrets=secrets)


def load_services(args: argparse.Namespace, paths: AppPaths, approver: Approver) -> tuple[Services, Started]:
    """Everything the app works with, built as the command line asked; ``approver`` asks the approvals."""
    from core.services import build_services
    from tui.app import Started

    services = build_services(
        paths,
        sandbox=getattr(args, "sandbox", None),
        backend=getattr(args, "backend", None),
        strict_config=getattr(args, "strict_config", False),
        approver=approver,
        confirm_user_risk=True,
    )
    try:
        history = open_history(services)
        assistant = build_assistant(services, history)
    except BaseException:
        asyncio.run(services.close())
        raise
    return services, Started(
        services.ops,
        services.config,
        services.audit,
        assistant,
        history,
        sandbox_name=services.sandbox,
        backend_reason=services.choice.reason,
        config_error=str(services.config_error) if services.config_error else "",
    )


def run_app(args: argparse.Namespace, paths: AppPaths) -> int:
    """Open the app on the chosen sandbox and close the sandbox when it ends.

    The app paints its frame first and builds the services in a thread after it (tui/screens/start.py); with
    ``--strict-config`` they are built before the app opens, so a broken config stops it before it shows.
    """
    from tui.app import SandchatApp, StartingApp

    built: list[Services] = []

    def load(app: SandchatApp) -> Started:
        from tui.screens.approval import ModalApprover

        services, started = load_services(args, paths, ModalApprover(app))
        built.append(services)
        return started

    app: SandchatApp
    if getattr(args, "strict_config", False):
        from tui.screens.approval import ModalApprover

        approver = ModalApprover()  # the app is attached below: the services are built before it exists
        services, started = load_services(args, paths, approver)
        built.append(services)
        app = SandchatApp(
            started.ops, started.config, started.audit, started.assistant, history=started.history,
            sandbox_name=started.sandbox_name, backend_reason=started.backend_reason,
            config_error=started.config_error, config_path=paths.config_file, freeze_after_warm_up=True,
        )
        approver.attach(app)
    else:
        from core.config_peek import peek_theme

        app = StartingApp(load, config_path=paths.config_file, freeze_after_warm_up=True,
                          theme=peek_theme(paths.config_file))
    try:
        code = app.run()
    finally:
        ended = _wait_started(app)
        if ended is not None:
            asyncio.run(_close(built[0], ended.assistant))
            if ended.history is not None:
                ended.history.close()
    error = app.started.exception() if app.started.done() else None
    if error is not None:
        raise error  # the services could not be built: main() reports it
    return code or 0


def _wait_started(app: SandchatApp) -> Started | None:
    """What the loader built, waiting for it if the person quit while it ran; None if it failed or never ran."""
    if not (app.started.done() or app.loading):
        return None
    try:
        return app.started.result(timeout=LOAD_WAIT)
    except concurrent.futures.TimeoutError:
        sys.stderr.write("sandchat: the sandbox was still starting when the app closed; it was left to end\n")
        return None
    except Exception:  # noqa: BLE001 - the loader's error: raised to the caller after this
        return None


async def _close(services: Services, assistant: Assistant | None) -> None:
    try:
        if assistant is not None:
            await assistant.close()
    finally:
        await services.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.subcommand is not None:
        from core.cli import run_cli

        return run_cli(args)
    try:
        return run_app(args, AppPaths.from_environment())
    except SandchatError as err:
        sys.stderr.write(f"sandchat: {err}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
