"""The ``sandchat`` command: the app by default, headless subcommands otherwise.

Textual is imported only when the app opens, so ``sandchat exec`` and ``sandchat doctor`` start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.cli import EXIT_USAGE, build_parser, run_cli
from core.errors import SandchatError
from core.paths import AppPaths
from core.services import Services, build_services

if TYPE_CHECKING:
    from core.assistant.loop import Assistant
    from core.history import ConversationStore


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


def run_app(args: argparse.Namespace, paths: AppPaths) -> int:
    """Open the app on the chosen sandbox and close the sandbox when it ends."""
    from tui.app import SandchatApp
    from tui.screens.approval import ModalApprover

    approver = ModalApprover()  # the app is attached below: the services are built before it exists
    services = build_services(
        paths,
        sandbox=getattr(args, "sandbox", None),
        backend=getattr(args, "backend", None),
        strict_config=getattr(args, "strict_config", False),
        approver=approver,
        confirm_user_risk=True,
    )
    history = open_history(services)
    assistant = build_assistant(services, history)
    app = SandchatApp(
        services.ops,
        services.config,
        services.audit,
        assistant,
        history=history,
        sandbox_name=services.sandbox,
        backend_reason=services.choice.reason,
        config_error=str(services.config_error) if services.config_error else "",
        config_path=paths.config_file,
        freeze_after_warm_up=True,
    )
    approver.attach(app)
    try:
        code = app.run()
    finally:
        asyncio.run(_close(services, assistant))
        history.close()
    return code or 0


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
        return run_cli(args)
    try:
        return run_app(args, AppPaths.from_environment())
    except SandchatError as err:
        sys.stderr.write(f"sandchat: {err}\n")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
