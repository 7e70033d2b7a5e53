"""One connection to one Daytona sandbox: started in the background, kept alive, every call made safely.

``call`` is the single place where a Daytona call is made and its failure handled:

* a failure that did not come from the sandbox's own daemon (a proxy 400/404, a 502, a dropped connection)
  may mean the sandbox stopped (Daytona's auto-stop): its state is checked and, if it is down, it is
  started again and the call repeated - always for calls that are safe to repeat, and for code only when
  the proxy turned the request away (4xx), which proves the code never ran;
* 429s are retried after the server's ``Retry-After`` (a rejected request did nothing), 502/503/504 and
  connection errors with backoff for idempotent calls only: code is never silently run twice;
* whatever is left becomes a ``SandchatError`` with a message a user can act on, raised ``from None``.

After ``idle_recheck`` seconds without a successful call the sandbox's state is checked first, so a sandbox
that auto-stopped while the user was thinking is started before the operation rather than after it fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.backends.daytona_errors import Failure, classify, user_error
from core.backends.daytona_lifecycle import (
    Sdk,
    close_client,
    create_params,
    create_sandbox,
    delete_sandbox,
    ensure_started,
    find_sandbox,
    load_sdk,
    make_client,
    python_process,
    state_of,
)
from core.backends.daytona_links import LinkMap, links_from
from core.backends.daytona_runner import WORKSPACE_DIR, RunnerCall, daemon_timeout, read_report, runner_call
from core.config_model import DaytonaConfig
from core.errors import SandboxUnavailable, SandchatError

T = TypeVar("T")

RETRY_DELAYS = (0.25, 0.75, 2.0)  # seconds before each retry; three retries, three seconds in all
MAX_RETRY_AFTER = 10.0  # never wait longer than this for a 429's Retry-After
IDLE_RECHECK = 60.0  # seconds without a successful call after which the sandbox's state is checked first
SCAN_TIMEOUT = 30.0  # seconds for the start-up symlink scan
_SUSPECT = {"rejected", "not_found", "gateway", "connection", "other"}


@dataclass
class Live:
    """A started sandbox and what every operation needs from it."""

    client: Any
    sandbox: Any
    process: Any  # runs sandchat's Python runner, whatever the sandbox's own language
    links: LinkMap

    @property
    def id(self) -> str:
        return str(self.sandbox.id)

    @property
    def region(self) -> str:
        return str(getattr(self.sandbox, "target", "") or "")


class RunnerFailed(SandboxUnavailable):
    """The in-sandbox runner did not report: usually no python3 in the sandbox image."""


def retry_delay(failure: Failure, attempt: int, *, idempotent: bool, delays: tuple[float, ...]) -> float | None:
    """Seconds to wait before retrying, or None when the call must not (or no longer) be retried."""
    if attempt >= len(delays):
        return None
    if failure.kind == "rate_limited":  # turned away before anything happened: safe even for code
        return min(max(delays[attempt], failure.retry_after or 0.0), MAX_RETRY_AFTER)
    if idempotent and failure.kind in ("gateway", "connection"):
        return delays[attempt]
    return None


class DaytonaSession:
    """The sandbox behind a DaytonaSandbox; the constructor does no I/O."""

    def __init__(
        self,
        config: DaytonaConfig,
        *,
        api_key: str,
        name: str,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        idle_recheck: float = IDLE_RECHECK,
        on_connected: Callable[[Live], None] | None = None,
    ) -> None:
        self.config = config
        self.on_connected = on_connected
        self.name = name
        self.retry_delays = retry_delays
        self.idle_recheck = idle_recheck
        self.secrets = (api_key,)
        self._api_key = api_key
        self._sdk: Sdk | None = None
        self._client: Any = None
        self._live: Live | None = None
        self._task: asyncio.Task[Live] | None = None
        self._restart_lock = asyncio.Lock()
        self._last_ok = 0.0
        self._closed = False

    @property
    def live(self) -> Live | None:
        return self._live

    # --- getting a started sandbox -----------------------------------------------------------------------

    def start_soon(self) -> None:
        """Begin finding or creating the sandbox in the background, unless that is done or under way."""
        if self._closed or self._live is not None or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._connect(), name=f"daytona-start-{self.name}")
        self._task.add_done_callback(_mark_retrieved)

    async def ready(self) -> Live:
        """The started sandbox, waiting for the background start (and re-checking it after a long idle)."""
        if self._closed:
            raise SandboxUnavailable("the Daytona backend was closed", hint="restart sandchat")
        live = self._live
        if live is None:
            self.start_soon()
            assert self._task is not None
            live = await asyncio.shield(self._task)
        elif time.monotonic() - self._last_ok > self.idle_recheck:
            await self._restart_if_down(live)
        return live

    async def _connect(self) -> Live:
        try:
            if self._sdk is None:
                self._sdk = await asyncio.to_thread(load_sdk)  # a 3 s import: not on the event loop
            sdk = self._sdk
            if self._client is None:  # loading the CA certificates takes 50-200 ms: not on the event loop
                self._client = await asyncio.to_thread(make_client, sdk, self.config, self._api_key)
            sandbox = await self._open(sdk)
        except SandchatError:
            raise
        except Exception as exc:
            failure = classify(exc, self.secrets)
            raise user_error(failure, "starting the Daytona sandbox", api_url=self.api_url) from None
        try:
            live = self._live = await self._prepare(sdk, sandbox)
        except BaseException:
            if self.config.ephemeral:  # made for this session only, and never to be found again: not left behind
                await delete_sandbox(sandbox)
            raise
        self._last_ok = time.monotonic()
        if self.on_connected is not None:
            self.on_connected(live)
        return live

    async def _prepare(self, sdk: Sdk, sandbox: Any) -> Live:
        """Learn where the workspace is and which symlinks it holds (creating it on first use)."""
        process = python_process(sdk, sandbox)
        try:
            home, report = await asyncio.gather(
                self.retrying(lambda: sandbox.get_user_home_dir(), idempotent=True),
                self.retrying(lambda: self.run_runner(process, runner_call("scan"), SCAN_TIMEOUT), idempotent=True),
            )
        except SandchatError:
            raise
        except Exception as exc:
            failure = classify(exc, self.secrets)
            raise user_error(failure, "preparing the Daytona sandbox's workspace", api_url=self.api_url) from None
        links = LinkMap(f"{str(home).rstrip('/')}/{WORKSPACE_DIR}", aliases=(str(report.get("ws", "")),))
        _update_links(links, report)
        return Live(self._client, sandbox, process, links)

    async def _open(self, sdk: Sdk) -> Any:
        """Find the named sandbox and start it, or create one (always, when ephemeral)."""
        timeout = self.config.create_timeout
        found = None
        if not self.config.ephemeral:
            found = await self.retrying(lambda: find_sandbox(self._client, sdk, self.name), idempotent=True)
        if found is None:
            params = create_params(sdk, self.config, self.name)
            return await self.retrying(lambda: create_sandbox(self._client, params, timeout), idempotent=False)
        await self.retrying(lambda: ensure_started(found, timeout), idempotent=True)
        return found

    # --- making calls ------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.config.api_url

    async def retrying(self, call: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        """``call()``, retried per ``retry_delay``; the last failure is raised as it was."""
        attempt = 0
        while True:
            try:
                return await call()
            except SandchatError:
                raise
            except Exception as exc:
                delay = retry_delay(classify(exc), attempt, idempotent=idempotent, delays=self.retry_delays)
                if delay is None:
                    raise
            attempt += 1
            await asyncio.sleep(delay)

    async def call(
        self, doing: str, fn: Callable[[Live], Awaitable[T]], *, idempotent: bool, shown_path: str = ""
    ) -> T:
        """``fn(live)`` with recovery and retries as the module docstring says; errors become SandchatErrors."""
        attempt, rechecked = 0, False
        while True:
            live = await self.ready()
            try:
                result = await fn(live)
            except SandchatError:
                raise
            except Exception as exc:
                failure = classify(exc, self.secrets)
            else:
                self._last_ok = time.monotonic()
                return result
            if not rechecked and not failure.from_daemon and failure.kind in _SUSPECT:
                rechecked = True
                if await self._restart_if_down(live):
                    if idempotent or failure.kind in ("rejected", "not_found"):
                        continue
                    raise SandboxUnavailable(
                        f"the Daytona sandbox stopped while {doing}; it has been started again",
                        hint="the code was not run again: run it again if you still need its result",
                    )
            delay = retry_delay(failure, attempt, idempotent=idempotent, delays=self.retry_delays)
            if delay is None:
                raise user_error(failure, doing, api_url=self.api_url, shown_path=shown_path) from None
            attempt += 1
            await asyncio.sleep(delay)

    async def _restart_if_down(self, live: Live) -> bool:
        """Check the sandbox's state; start it if it is not running. True if it had to be started."""
        async with self._restart_lock:
            try:
                await live.sandbox.refresh_data()
            except Exception as exc:
                if classify(exc).kind == "not_found":
                    self._live = None  # the next operation finds or creates a sandbox afresh
                    raise SandboxUnavailable(
                        f"the Daytona sandbox {live.id} no longer exists",
                        hint="it was deleted outside sandchat; the next operation creates a new, empty one",
                    ) from None
                return False  # cannot tell; the operation's own failure says more
            if state_of(live.sandbox) == "started":
                self._last_ok = time.monotonic()
                return False
            try:
                await ensure_started(live.sandbox, self.config.create_timeout)
            except SandchatError:
                raise
            except Exception as exc:
                failure = classify(exc, self.secrets)
                raise user_error(failure, "starting the Daytona sandbox again", api_url=self.api_url) from None
            self._last_ok = time.monotonic()
            return True

    async def run_runner(self, process: Any, call: RunnerCall, timeout: float) -> dict[str, Any]:  # noqa: ASYNC109
        """Run sandchat's runner; its report, or RunnerFailed. SDK errors pass through for ``call``."""
        response = await process.code_run(call.code, timeout=daemon_timeout(timeout))
        output = str(getattr(response, "result", "") or "")
        report = read_report(output, call.marker)
        if report is None:
            tail = output.strip().splitlines()[-1:] or ["no output"]
            raise RunnerFailed(
                f"sandchat's runner could not run in the Daytona sandbox (exit code "
                f"{getattr(response, 'exit_code', None)}): {tail[0][:200]}",
                hint="the sandbox image needs python3 (3.8 or newer): set daytona.image or daytona.snapshot",
            )
        return report

    def update_links(self, live: Live, report: dict[str, Any]) -> None:
        """Take the symlinks a runner report lists as the workspace's current ones."""
        _update_links(live.links, report)

    # --- closing -----------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Delete the sandbox if it is ephemeral (a persistent one is left to auto-stop); close the client."""
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        live, self._live = self._live, None
        if live is not None and self.config.ephemeral:
            await delete_sandbox(live.sandbox)
        if self._client is not None:
            await close_client(self._client)
            self._client = None


def _update_links(links: LinkMap, report: dict[str, Any]) -> None:
    raw = report.get("links")
    if isinstance(raw, dict):
        links.links = links_from(raw)
        links.complete = bool(report.get("complete", True))


def _mark_retrieved(task: asyncio.Task[Live]) -> None:
    """A start-up failure is raised to whoever awaits it; unawaited, it must not be logged as lost."""
    if not task.cancelled():
        task.exception()
