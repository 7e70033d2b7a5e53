"""The main Daytona API, the part the SDK (0.226.x) calls: create, get, list, delete, start, stop."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.daytona_server.state import FakeSandbox, SandboxStore

STORE = web.AppKey("store", SandboxStore)
PAGE_SIZE = 2  # small on purpose, so the SDK's paging (nextCursor) is exercised


def api_error(status: int, message: str, code: str) -> web.Response:
    """Daytona's error envelope."""
    body = {"statusCode": status, "message": message, "code": code, "source": "DAYTONA_API"}
    return web.json_response(body, status=status)


def _sandbox(request: web.Request) -> FakeSandbox | web.Response:
    store = request.app[STORE]
    found = store.find(request.match_info["sandbox_id"])
    if found is None:
        name = request.match_info["sandbox_id"]
        return api_error(404, f"Sandbox with ID or name {name} not found", "NOT_FOUND")
    return found


def _dto(store: SandboxStore, sandbox: FakeSandbox) -> dict[str, Any]:
    return sandbox.to_json(store.toolbox_url)


async def create_sandbox(request: web.Request) -> web.Response:
    store = request.app[STORE]
    body = await request.json()
    if not isinstance(body, dict):
        return api_error(400, "request body must be a JSON object", "BAD_REQUEST")
    sandbox = store.create(body)
    return web.json_response(_dto(store, sandbox))


async def get_sandbox(request: web.Request) -> web.Response:
    found = _sandbox(request)
    if isinstance(found, web.Response):
        return found
    return web.json_response(_dto(request.app[STORE], found))


async def list_sandboxes(request: web.Request) -> web.Response:
    store = request.app[STORE]
    labels = json.loads(request.query.get("labels", "{}"))
    matching = store.matching(labels)
    start = int(request.query.get("cursor") or 0)
    page = matching[start : start + PAGE_SIZE]
    next_cursor = str(start + PAGE_SIZE) if start + PAGE_SIZE < len(matching) else None
    items = [_dto(store, s) for s in page]
    return web.json_response({"items": items, "nextCursor": next_cursor})


async def delete_sandbox(request: web.Request) -> web.Response:
    found = _sandbox(request)
    if isinstance(found, web.Response):
        return found
    store = request.app[STORE]
    store.delete(found)
    return web.json_response(_dto(store, found))


async def start_sandbox(request: web.Request) -> web.Response:
    found = _sandbox(request)
    if isinstance(found, web.Response):
        return found
    store = request.app[STORE]
    if found.state != "started":
        store.schedule_start(found)
    return web.json_response(_dto(store, found))


async def stop_sandbox(request: web.Request) -> web.Response:
    found = _sandbox(request)
    if isinstance(found, web.Response):
        return found
    store = request.app[STORE]
    store.stop(found)
    return web.json_response(_dto(store, found))


def add_routes(app: web.Application) -> None:
    """Register the main API under ``/api``."""
    app.router.add_post("/api/sandbox", create_sandbox)
    app.router.add_get("/api/sandbox", list_sandboxes)
    app.router.add_get("/api/sandbox/{sandbox_id}", get_sandbox)
    app.router.add_delete("/api/sandbox/{sandbox_id}", delete_sandbox)
    app.router.add_post("/api/sandbox/{sandbox_id}/start", start_sandbox)
    app.router.add_post("/api/sandbox/{sandbox_id}/stop", stop_sandbox)
