"""Builds the real services from config and environment: the one place that picks and opens a backend.

The TUI and the CLI both call :func:`build_services`; tests build the same parts over temp directories.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.audit import AuditContext, AuditLog
from core.backends.base import Backend
from core.config import Config, ConfigError, LoadedConfig, load_config, load_config_or_defaults, resolve_backend
from core.errors import SandboxUnavailable
from core.operations import Limits, SecureOperations
from core.paths import AppPaths, check_sandbox_name, ensure_private_dir
from core.security.policy import ApprovalPolicy, Approver, backend_reader

if TYPE_CHECKING:
    from core.operations import Searcher
    from core.search import SearchResult, WebSearch

MiB = 1024 * 1024


@dataclass(frozen=True)
class BackendChoice:
    """Which backend runs, and why: shown by ``sandchat doctor`` and the app."""

    name: str
    reason: str


@dataclass
class Services:
    """Everything a front end needs, built once and closed once."""

    paths: AppPaths
    loaded: LoadedConfig
    config_error: ConfigError | None  # the app starts on defaults and shows this
    choice: BackendChoice
    sandbox: str
    backend: Backend
    ops: SecureOperations
    audit: AuditLog | None  # None only when the user turned it off (audit.enabled = false)

    @property
    def config(self) -> Config:
        return self.loaded.config

    async def start(self) -> None:
        """Begin connecting a remote sandbox (Daytona) in the background; the local one needs nothing."""
        start = getattr(self.backend, "start", None)
        if callable(start):
            await start()

    async def close(self) -> None:
        try:
            await self.backend.close()
        finally:
            if self.audit is not None:
                self.audit.close()


def load_settings(
    paths: AppPaths, *, strict: bool, environ: Mapping[str, str]
) -> tuple[LoadedConfig, ConfigError | None]:
    """The config: strict raises on a broken file; otherwise defaults plus the error to show."""
    if strict:
        return load_config(paths.config_file, environ), None
    return load_config_or_defaults(paths.config_file, environ)


def effective_choice(
    config: Config, environ: Mapping[str, str], override: str | None, paths: AppPaths
) -> BackendChoice:
    """The backend that will run, and why (``--backend`` > ``backend.mode`` > a Daytona key > local)."""
    return resolve_backend(config, environ, override, config_file=paths.config_file)


def open_backend(choice: BackendChoice, paths: AppPaths, sandbox: str, config: Config) -> Backend:
    """The chosen backend, not yet connected: a Daytona sandbox starts in the background (``Services.start``)."""
    if choice.name != "daytona":
        return open_local_backend(paths, sandbox, config)
    if not config.daytona.api_key:
        raise SandboxUnavailable(
            f"the Daytona backend was chosen ({choice.reason}) but there is no Daytona API key",
            hint="set DAYTONA_API_KEY (from https://app.daytona.io/dashboard), or use --backend local",
        )
    from core.backends.daytona import open_daytona_backend  # the SDK itself loads later, in a thread

    return open_daytona_backend(
        config.daytona, api_key=config.daytona.api_key, sandbox=sandbox,
        max_file_bytes=config.local.max_file_bytes, exec_timeout=config.local.timeout,
    )


def backend_label(choice: BackendChoice, config: Config) -> str:
    """How the audit records name the backend: with the region for Daytona (``daytona:us``)."""
    return f"daytona:{config.daytona.target}" if choice.name == "daytona" else choice.name


def pipeline_limits(config: Config) -> Limits:
    """What the pipeline enforces, from the [local] section."""
    local = config.local
    return Limits(max_file_bytes=local.max_file_bytes, exec_timeout=local.timeout, languages=local.languages)


def open_local_backend(paths: AppPaths, sandbox: str, config: Config | None = None) -> Backend:
    """The named local sandbox, its workspace under the data directory (0o700)."""
    from core.backends.local import LocalSandbox
    from core.backends.local_launch import SandboxLimits

    local = (config or Config()).local
    limits = SandboxLimits(
        timeout=local.timeout,
        memory_bytes=local.memory_mb * MiB,
        cpu_seconds=local.cpu_seconds,
        output_bytes=local.output_bytes,
        processes=local.processes,
    )
    ensure_private_dir(paths.workspaces_dir)
    return LocalSandbox(
        paths.workspace(sandbox),
        name=sandbox,
        limits=limits,
        allow_weak=local.allow_weak_isolation,
        sandbox_uid=local.sandbox_uid,
    )


def build_services(
    paths: AppPaths,
    *,
    sandbox: str | None = None,
    backend: str | None = None,
    strict_config: bool = False,
    environ: Mapping[str, str] | None = None,
    approver: Approver | None = None,
    mode: str | None = None,
    confirm_user_risk: bool = False,
) -> Services:
    """Config, backend choice, backend and pipeline, as the entry points use them.

    ``approver`` answers the approval policy's questions (the app's modal, ``--approve``); without one they are
    answered no. ``mode`` overrides assistant.approval_mode (``sandchat ask --mode``).
    """
    env = os.environ if environ is None else environ
    loaded, error = load_settings(paths, strict=strict_config, environ=env)
    config = loaded.config
    choice = effective_choice(config, env, backend, paths)
    name = check_sandbox_name(sandbox or config.backend.sandbox)
    box = open_backend(choice, paths, name, config)
    ops = SecureOperations(
        box,
        limits=pipeline_limits(config),
        gate=approval_policy(config, box, approver, mode, confirm_user_risk=confirm_user_risk),
        searcher=deferred_web_search(config),
    )
    audit = None
    if config.audit.enabled:
        context = AuditContext(
            backend=backend_label(choice, config), sandbox_id=box.sandbox_id, isolation=box.isolation().level,
            policy_hash=ops.policy_hash(),
        )
        audit = open_audit(paths, config, context)
        ops.recorder = audit
    return Services(paths, loaded, error, choice, name, box, ops, audit)


def deferred_web_search(config: Config) -> Searcher:
    """The pipeline's ``search web:``; core.search (urllib, http.client) is imported at the first search, not
    on the app's way to its first frame."""
    made: list[WebSearch] = []

    async def search(query: str) -> list[SearchResult]:
        if not made:
            from core.search import WebSearch

            made.append(WebSearch(config.search, api_key=config.search.api_key or None))
        return await made[0](query)

    return search


def approval_policy(
    config: Config, box: Backend, approver: Approver | None, mode: str | None, *, confirm_user_risk: bool = False
) -> ApprovalPolicy:
    """The one policy object: mode and rules from [assistant], diffs read through the sandbox.

    What the person types runs without a question (deny rules still apply). ``confirm_user_risk``: the app,
    which has an approval modal, asks before the person's own code with a high-risk finding runs; the
    command line (`sandchat exec`) does not, as the person wrote the command in full.
    """
    return ApprovalPolicy(
        mode or config.assistant.approval_mode,
        config.assistant.rules,
        approver,
        backend_reader(box),
        confirm_user_risk=confirm_user_risk,
    )


def open_audit(paths: AppPaths, config: Config, context: AuditContext | None = None) -> AuditLog:
    """The audit log in the data directory; the configured API keys are redacted from every record."""
    secrets = [s for s in (config.daytona.api_key, config.assistant.api_key, config.search.api_key) if s]
    return AuditLog.open(paths.data_dir, context or AuditContext(), known_secrets=secrets)
