"""Finding, creating, starting and deleting sandchat's Daytona sandboxes through the official SDK.

A named sandbox persists across runs: it carries the label ``sandchat.sandbox=<name>``, is found by it,
started if it stopped, and created if there is none. An ephemeral sandbox is labelled
``sandchat.ephemeral=<name>`` instead (so a later persistent run never picks it up), is deleted when the
app closes, and is created with Daytona's ``ephemeral`` flag, which deletes it as soon as it stops: with
auto-stop on, that is the backstop when the app dies without closing it.

The SDK is imported by ``load_sdk`` only, which takes about three seconds and so is called in a worker
thread; nothing here imports it at module level. SDK objects are typed ``Any`` on purpose: they never leave
the Daytona backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.config_model import DaytonaConfig
from core.errors import SandboxUnavailable

LABEL = "sandchat.sandbox"
EPHEMERAL_LABEL = "sandchat.ephemeral"
LANGUAGE_LABEL = "code-toolbox-language"  # the SDK's label for a sandbox's code_run language
EPHEMERAL_AUTO_STOP = 15  # minutes: an ephemeral sandbox must stop some time, or it is never auto-deleted
CLEANUP_TIMEOUT = 20.0  # seconds a best-effort delete may take
_GONE = {"destroyed", "destroying"}
_WAIT_FOR_START = {
    "creating", "starting", "restoring", "pending_build", "building_snapshot", "pulling_snapshot", "resuming",
}
_START_AGAIN = {"stopped", "archived", "paused"}


@dataclass(frozen=True)
class Sdk:
    """The SDK names the backend uses, imported once."""

    AsyncDaytona: Any
    DaytonaConfig: Any
    SnapshotParams: Any
    ImageParams: Any
    Resources: Any
    ListSandboxesQuery: Any
    AsyncProcess: Any


def load_sdk() -> Sdk:
    """Import the SDK; blocking for seconds, so call it through ``asyncio.to_thread``."""
    # importlib rather than an import statement: the SDK is used as untyped (Any) here, behind our own types.
    daytona = importlib.import_module("daytona")
    process = importlib.import_module("daytona._async.process")

    return Sdk(
        daytona.AsyncDaytona,
        daytona.DaytonaConfig,
        daytona.CreateSandboxFromSnapshotParams,
        daytona.CreateSandboxFromImageParams,
        daytona.Resources,
        daytona.ListSandboxesQuery,
        process.AsyncProcess,
    )


def make_client(sdk: Sdk, config: DaytonaConfig, api_key: str) -> Any:
    """An AsyncDaytona for ``config``. All three settings are given, so the SDK reads no environment.

    Blocking (it loads the CA certificates), so call it in a worker thread; that is safe, since the client
    opens its HTTP session and its event socket lazily, on the event loop, at its first request.
    """
    return sdk.AsyncDaytona(sdk.DaytonaConfig(api_key=api_key, api_url=config.api_url, target=config.target))


def state_of(sandbox: Any) -> str:
    """The sandbox's state as a plain string ("started", "stopped" ...)."""
    state = getattr(sandbox, "state", None)
    return str(getattr(state, "value", state) or "unknown")


def labels_for(config: DaytonaConfig, name: str) -> dict[str, str]:
    """The user's labels plus the one sandchat finds its sandbox by."""
    own = {EPHEMERAL_LABEL if config.ephemeral else LABEL: name}
    return {**dict(config.labels), **own}


def create_params(sdk: Sdk, config: DaytonaConfig, name: str) -> Any:
    """The create request: snapshot (or image with resources), labels, lifecycle and network policy."""
    auto_stop = config.auto_stop_minutes or (EPHEMERAL_AUTO_STOP if config.ephemeral else 0)
    common: dict[str, Any] = {
        "language": config.language,
        "labels": labels_for(config, name),
        "auto_stop_interval": auto_stop,
        "network_block_all": config.network_block_all,
        "network_allow_list": ",".join(config.network_allow_list) or None,
    }
    if config.ephemeral:
        common["ephemeral"] = True
    elif config.auto_delete_minutes >= 0:
        common["auto_delete_interval"] = config.auto_delete_minutes
    if config.image:
        resources = sdk.Resources(cpu=config.cpu, memory=config.memory_gb, disk=config.disk_gb)
        return sdk.ImageParams(image=config.image, resources=resources, **common)
    return sdk.SnapshotParams(snapshot=config.snapshot or None, **common)


async def find_sandbox(client: Any, sdk: Sdk, name: str) -> Any | None:
    """The persistent sandbox called ``name``, preferring one that is running; None if there is none."""
    found: list[Any] = []
    async for sandbox in client.list(sdk.ListSandboxesQuery(labels={LABEL: name})):
        if state_of(sandbox) not in _GONE:
            found.append(sandbox)
    running = [s for s in found if state_of(s) == "started"]
    return (running or found or [None])[0]


async def ensure_started(sandbox: Any, timeout: float) -> None:  # noqa: ASYNC109 - handed to the SDK's own wait
    """Bring ``sandbox`` to "started" from wherever it is, or say why it cannot be."""
    state = state_of(sandbox)
    if state == "started":
        return
    if state in _WAIT_FOR_START:
        await sandbox.wait_for_sandbox_start(timeout=timeout)
    elif state == "stopping":
        await sandbox.wait_for_sandbox_stop(timeout=timeout)
        await sandbox.start(timeout=timeout)
    elif state in _START_AGAIN:
        await sandbox.start(timeout=timeout)
    elif state == "error" and getattr(sandbox, "recoverable", False):
        await sandbox.recover(timeout=timeout)
    else:
        reason = getattr(sandbox, "error_reason", None) or "no reason given"
        raise SandboxUnavailable(
            f"the Daytona sandbox {sandbox.id} is in state {state!r} ({reason})",
            hint="delete it in the Daytona dashboard; the next start creates a new one",
        )


async def create_sandbox(client: Any, params: Any, timeout: float) -> Any:  # noqa: ASYNC109 - the SDK's
    """Create and start a sandbox; if that times out, delete the half-created one and say so."""
    try:
        return await client.create(params, timeout=timeout)
    except Exception as exc:
        if not {cls.__name__ for cls in type(exc).__mro__} & {"DaytonaTimeoutError"}:
            raise
        half_made = getattr(exc, "sandbox_id", None)
        cleaned = bool(half_made) and await delete_by_id(client, str(half_made))
        note = f"the half-created sandbox {half_made} was deleted; " if cleaned else ""
        if half_made and not cleaned:
            note = f"the half-created sandbox {half_made} could not be deleted: remove it in the dashboard; "
        raise SandboxUnavailable(
            f"Daytona did not start a new sandbox within {timeout:g} s",
            hint=note + "try again, or allow longer with `sandchat config set daytona.create_timeout 120`",
        ) from None


async def delete_by_id(client: Any, sandbox_id: str) -> bool:
    """Best-effort delete of a sandbox known only by id; True if Daytona accepted it."""
    try:
        async with asyncio.timeout(CLEANUP_TIMEOUT):
            sandbox = await client.get(sandbox_id)
            await client.delete(sandbox, timeout=CLEANUP_TIMEOUT)
    except Exception:  # a cleanup must not hide the error that made it necessary
        return False
    return True


async def delete_sandbox(sandbox: Any) -> bool:
    """Best-effort delete of a sandbox we hold; True if Daytona accepted it."""
    try:
        async with asyncio.timeout(CLEANUP_TIMEOUT):
            await sandbox.delete(timeout=CLEANUP_TIMEOUT)
    except Exception:
        return False
    return True


async def close_client(client: Any) -> None:
    """Close the SDK's HTTP session and its event socket."""
    with contextlib.suppress(Exception):
        await client.close()


def python_process(sdk: Sdk, sandbox: Any) -> Any:
    """A process API that runs code as Python, whatever language the sandbox was made for.

    ``sandbox.process.code_run`` uses the sandbox's language label; sandchat's runner is Python, so a
    TypeScript or JavaScript sandbox gets a second AsyncProcess over the same toolbox client.
    """
    labels: Mapping[str, str] = getattr(sandbox, "labels", None) or {}
    if labels.get(LANGUAGE_LABEL, "python") == "python":
        return sandbox.process
    return sdk.AsyncProcess("python", sandbox.process._api_client)
