"""Fault injection and request recording for the fake Daytona server.

A rule matches requests by a substring of their route, e.g. ``"POST toolbox /files/bulk-download"`` or just
``"bulk-download"``, and fires ``times`` times (-1: for ever). Routes are written as the SDK's generated
clients name them, with the parts that vary in braces: ``GET api /sandbox/{sandbox_id}``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

FaultAction = Literal["status", "status_after", "drop", "delay"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class FaultRule:
    """One injected fault: answer ``status`` with ``body``, drop the connection, or delay the answer."""

    match: str
    action: FaultAction
    status: int = 502
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    times: int = 1
    hits: int = 0


class Faults:
    """The rules in force; tests add them from their own thread while the server reads them."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def fail(
        self,
        match: str,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        code: str | None = None,
        source: str = "DAYTONA_API",
        retry_after: float | None = None,
        after_handling: bool = False,
    ) -> FaultRule:
        """Answer ``status``; with ``message`` a Daytona error envelope, without it an empty body (a bare proxy).

        ``after_handling`` lets the request do its work first and only then replaces the answer: the case
        where repeating the request would do the work twice.
        """
        body = b""
        if message is not None:
            envelope = {"statusCode": status, "message": message, "code": code or _code(status), "source": source}
            body = json.dumps(envelope).encode()
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        if body:
            headers["Content-Type"] = "application/json"
        action: FaultAction = "status_after" if after_handling else "status"
        return self._add(FaultRule(match, action, status=status, body=body, headers=headers, times=times))

    def respond(self, match: str, status: int, body: object, *, times: int = 1) -> FaultRule:
        """Answer ``status`` with ``body`` as JSON, whatever the request was."""
        headers = {"Content-Type": "application/json"}
        return self._add(FaultRule(match, "status", status=status, body=json.dumps(body).encode(), headers=headers,
                                   times=times))

    def drop(self, match: str, *, times: int = 1) -> FaultRule:
        """Close the connection without an answer."""
        return self._add(FaultRule(match, "drop", times=times))

    def delay(self, match: str, seconds: float, *, times: int = 1) -> FaultRule:
        """Answer normally, ``seconds`` late."""
        return self._add(FaultRule(match, "delay", seconds=seconds, times=times))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, route: str) -> FaultRule | None:
        """The first live rule matching ``route``, counted as fired."""
        with self._lock:
            for rule in self.rules:
                if rule.match in route and (rule.times < 0 or rule.hits < rule.times):
                    rule.hits += 1
                    return rule
        return None

    def _add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule


def _code(status: int) -> str:
    return {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS"}.get(status, "ERROR")


def route_of(request: web.Request) -> str:
    """``"METHOD api|toolbox /template"`` for a request, the form the recorded list and the rules use."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    if template.startswith("/toolbox/{sandbox_id}"):
        return f"{request.method} toolbox {template.removeprefix('/toolbox/{sandbox_id}') or '/'}"
    return f"{request.method} api {template.removeprefix('/api')}"


async def apply(rule: FaultRule, request: web.Request, handler: Handler) -> web.StreamResponse:
    """Carry out ``rule`` for ``request``."""
    if rule.action == "delay":
        await asyncio.sleep(rule.seconds)
        return await handler(request)
    if rule.action == "status_after":
        await handler(request)
    elif rule.action == "drop":
        if request.transport is not None:
            request.transport.abort()  # no status line at all: the client sees a dropped connection
        return web.Response(status=500)
    return web.Response(status=rule.status, body=rule.body, headers=rule.headers)
