"""``sandchat doctor``'s Daytona checks: key, URL, key accepted, region, a round trip; each said plainly."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

from core.backends.daytona_errors import classify, user_error
from core.backends.daytona_lifecycle import close_client, load_sdk, make_client
from core.config_model import DaytonaConfig

Check = tuple[str, bool, str]  # (what was checked, passed, what to tell the user)
CONNECT_TIMEOUT = 5.0
CALL_TIMEOUT = 15.0
PAGE = 100  # sandboxes per listed page


async def check_connection(config: DaytonaConfig, api_key: str) -> list[Check]:
    """The five checks in order; a check that could not run says why, and counts as failed."""
    key = ("API key", bool(api_key), "set" if api_key else _NO_KEY)
    reach = await _reachable(config.api_url)
    if not key[1] or not reach[1]:
        why = "not checked: " + ("no API key" if not key[1] else "the API cannot be reached")
        return [key, reach, ("API key accepted", False, why), ("region", False, why), ("round trip", False, why)]
    sdk = await asyncio.to_thread(load_sdk)  # a 3 s import: not on the event loop
    client = await asyncio.to_thread(make_client, sdk, config, api_key)  # loads CA certificates: blocking
    try:
        return [key, reach, *await _api_checks(sdk, client, config, api_key)]
    finally:
        await close_client(client)


_NO_KEY = "missing: set DAYTONA_API_KEY, or run `sandchat config set daytona.api_key KEY`"


async def _reachable(api_url: str) -> Check:
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            _, writer = await asyncio.open_connection(host, port)
        writer.close()
        await writer.wait_closed()
    except (OSError, TimeoutError) as exc:
        said = str(exc) or type(exc).__name__
        return ("URL reachable", False, f"cannot connect to {host}:{port} ({api_url}): {said}; check daytona.api_url")
    return ("URL reachable", True, f"{host}:{port} accepts connections ({_ms(started)})")


async def _api_checks(sdk: Any, client: Any, config: DaytonaConfig, api_key: str) -> list[Check]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CALL_TIMEOUT):
            count = await _count(client, sdk.ListSandboxesQuery(limit=PAGE))
    except Exception as exc:
        failure = classify(exc, (api_key,))
        told = str(user_error(failure, "listing sandboxes", api_url=config.api_url))
        if failure.kind in ("auth", "forbidden"):
            return [("API key accepted", False, told), ("region", False, "not checked"), ("round trip", False, told)]
        return [("API key accepted", False, f"not known: {told}"), ("region", False, "not checked"),
                ("round trip", False, told)]
    trip = ("round trip", True, f"listed {count} sandbox(es) in {_ms(started)}")
    return [("API key accepted", True, "Daytona accepted it"), await _region(sdk, client, config, api_key), trip]


async def _region(sdk: Any, client: Any, config: DaytonaConfig, api_key: str) -> Check:
    try:
        async with asyncio.timeout(CALL_TIMEOUT):
            await _count(client, sdk.ListSandboxesQuery(limit=PAGE, targets=[config.target]))
    except Exception as exc:
        told = user_error(classify(exc, (api_key,)), f"listing sandboxes in region {config.target!r}",
                          api_url=config.api_url)
        return ("region", False, f"{told}; check daytona.target (DAYTONA_TARGET)")
    return ("region", True, f"{config.target!r} answers")


async def _count(client: Any, query: Any) -> int:
    """How many sandboxes ``query`` lists. The listing is read to its end: the SDK's generator, left early,
    is finalised later in another context, which its tracing reports as an error."""
    return len([sandbox async for sandbox in client.list(query)])


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"
