"""Builds the real services from the environment: the one place that picks a backend."""

from __future__ import annotations

import os
from dataclasses import dataclass

from core.backends.base import Backend
from core.operations import Limits, SecureOperations
from core.paths import AppPaths, ensure_private_dir


@dataclass(frozen=True)
class BackendChoice:
    """Which backend runs, and why: shown by ``sandchat doctor`` and the app."""

    name: str
    reason: str


def choose_backend(requested: str, environ: dict[str, str] | None = None) -> BackendChoice:
    """``auto`` means local here; a Daytona key is reported but this version runs only the local sandbox."""
    env = os.environ if environ is None else environ
    if requested not in ("auto", "local"):
        from core.errors import ValidationError

        raise ValidationError(
            f"backend {requested!r} is not available in this version",
            field="backend",
            hint="use --backend local (the default)",
        )
    if requested == "local":
        return BackendChoice("local", "chosen with --backend local")
    if env.get("DAYTONA_API_KEY"):
        return BackendChoice("local", "DAYTONA_API_KEY is set, but this version has only the local sandbox")
    return BackendChoice("local", "no DAYTONA_API_KEY in the environment")


def open_local_backend(paths: AppPaths, sandbox: str, *, allow_weak: bool = False) -> Backend:
    """The named local sandbox, its workspace created (0o700) under the data directory."""
    from core.backends.local import LocalSandbox

    workspace = paths.workspace(sandbox)
    ensure_private_dir(paths.workspaces_dir)
    return LocalSandbox(workspace, name=sandbox, allow_weak=allow_weak)


def open_operations(paths: AppPaths, sandbox: str, *, limits: Limits | None = None) -> SecureOperations:
    """The pipeline over the named local sandbox."""
    return SecureOperations(open_local_backend(paths, sandbox), limits=limits)
