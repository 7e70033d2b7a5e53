"""A local stand-in for Daytona's cloud, so the real SDK runs end to end without a network or an account.

It speaks the part of Daytona's REST API that the SDK (0.226.x) uses: the main API under ``/api``, the
toolbox under ``/toolbox/{sandboxId}``, and the socket.io gateway (``/api/socket.io``) that pushes
``sandbox.state.updated`` events. Sandboxes are directories under a temp dir and code runs as a plain local
subprocess. THIS IS NOT A SANDBOX: there is no isolation whatsoever, code runs as the test's own user and a
symlink in a fake sandbox leads wherever it points on this machine. It exists only to exercise the client.

The server runs on its own event loop in a daemon thread, so tests (and their event loops) talk to it over
real HTTP exactly as they would to Daytona, and a slow code run in the fake never blocks the client.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import socketio  # type: ignore[import-untyped]
from aiohttp import web

from tests.daytona_server import api_routes, toolbox_routes
from tests.daytona_server.faults import Faults, Handler, apply, route_of
from tests.daytona_server.state import FakeSandbox, SandboxStore

DEFAULT_KEY = "dtn_fake_key_0123456789abcdef"


class FakeDaytona:
    """The fake cloud: ``api_url`` and ``api_key`` for the client; ``faults``, ``store`` and ``routes`` for tests."""

    def __init__(self, root: Path, *, api_key: str = DEFAULT_KEY) -> None:
        self.api_key = api_key
        self.store = SandboxStore(root)
        self.faults = Faults()
        self.routes: list[str] = []  # "METHOD api|toolbox /template" of every request, in order
        self.sources: set[str] = set()  # the X-Daytona-Source headers seen
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakeDaytona:
        """Serve on a free port of 127.0.0.1; returns once it accepts connections."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-daytona", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Daytona server did not start")
        return self

    def stop(self) -> None:
        """Stop serving; idempotent."""
        loop, thread, self._thread = self._loop, self._thread, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = self.store.loop = loop
        loop.run_until_complete(self._open())
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._sio.shutdown())  # ends engine.io's ping tasks with the sockets
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            leftovers = asyncio.all_tasks(loop)  # engine.io's ping timers, code runs cut short
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()

    async def _open(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app[api_routes.STORE] = self.store
        api_routes.add_routes(app)
        toolbox_routes.add_routes(app)
        self._sio.attach(app, socketio_path="/api/socket.io")
        self._sio.on("connect", self._on_connect)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.store.toolbox_url = f"http://127.0.0.1:{self.port}/toolbox"
        self.store.listeners.append(self._announce)

    # --- what every request goes through -----------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/api/socket.io"):
            return await handler(request)
        route = route_of(request)
        self.routes.append(route)
        self.sources.add(request.headers.get("X-Daytona-Source", ""))
        rule = self.faults.take(route)
        if rule is not None:
            return await apply(rule, request, handler)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return api_routes.api_error(401, "Invalid credentials", "UNAUTHORIZED")
        return await handler(request)

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return isinstance(auth, dict) and auth.get("token") == self.api_key

    def _announce(self, sandbox: dict[str, Any], old: str, new: str) -> None:
        """Push the state change to connected SDKs, from whichever thread changed it."""
        if self._loop is None or self._loop.is_closed():
            return
        event = {"sandbox": sandbox, "oldState": old, "newState": new}
        asyncio.run_coroutine_threadsafe(self._sio.emit("sandbox.state.updated", event), self._loop)

    # --- helpers for tests -------------------------------------------------------------------------------

    def sandbox(self, sandbox_id: str) -> FakeSandbox:
        found = self.store.find(sandbox_id)
        if found is None:
            raise KeyError(sandbox_id)
        return found

    def stop_sandbox(self, sandbox_id: str) -> None:
        """Stop a sandbox behind the client's back, as Daytona's auto-stop does."""
        self.store.stop(self.sandbox(sandbox_id))

    def toolbox_routes(self) -> list[str]:
        return [r for r in self.routes if " toolbox " in r]
