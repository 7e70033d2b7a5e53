"""What went wrong talking to Daytona, in one shape, and the message a user can act on.

The SDK fails in several dialects: ``DaytonaError`` subclasses (most calls), the generated API client's
``ApiException`` (``process.code_run`` lets those through untranslated), and aiohttp's transport errors
(some calls, and the causes of the others). ``classify`` reads all of them by their attributes and class
names, so this module needs no SDK import and works on whatever the SDK raises.

Secrets never reach a message: every text taken from an exception passes through ``redact``, and callers
raise the user-facing error ``from None`` so the SDK's exception (whose request info carries the
``Authorization`` header) is not chained into tracebacks or logs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from core.errors import BackendError, NotFound, SandboxUnavailable, SandchatError

FailureKind = Literal[
    "auth", "forbidden", "not_found", "rate_limited", "timeout", "gateway", "connection", "rejected", "other"
]

DAEMON = "DAYTONA_DAEMON"
KEYS_URL = "https://app.daytona.io/dashboard/keys"
_MAX_MESSAGE = 300
_BY_STATUS: dict[int, FailureKind] = {
    400: "rejected", 401: "auth", 403: "forbidden", 404: "not_found", 408: "timeout", 409: "rejected",
    410: "not_found", 422: "rejected", 429: "rate_limited", 502: "gateway", 503: "gateway", 504: "gateway",
}
_TIMEOUT_CLASSES = {"TimeoutError", "ServerTimeoutError", "DaytonaTimeoutError", "DaytonaConnectionTimeoutError"}
_CONNECTION_CLASSES = {
    "DaytonaConnectionError", "ClientConnectionError", "ClientOSError", "ClientPayloadError", "ConnectionError",
}
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


@dataclass(frozen=True)
class Failure:
    """A failed call to Daytona, whichever layer raised it."""

    kind: FailureKind
    status: int | None
    message: str  # the service's own words, redacted and shortened
    code: str | None = None
    source: str | None = None
    retry_after: float | None = None

    @property
    def from_daemon(self) -> bool:
        """The sandbox's own daemon answered: the sandbox is up, and this is a real answer about a file."""
        return self.source == DAEMON


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without the given secrets or any bearer token, and no longer than a message should be."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\1***", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _envelope(exc: BaseException) -> dict[str, object]:
    """The ``{statusCode, message, code, source}`` body of a generated-client exception, if it has one."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {"message": body}
    return data if isinstance(data, dict) else {}


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None)
    if not isinstance(headers, Mapping):
        return None
    try:
        return max(0.0, float(headers.get("Retry-After") or headers.get("retry-after") or ""))
    except ValueError:
        return None


def classify(exc: BaseException, secrets: tuple[str, ...] = ()) -> Failure:
    """The one ``Failure`` that ``exc`` (or what caused it) stands for."""
    chain = list(_chain(exc))
    status = next((s for s in map(_status, chain) if s is not None), None)
    envelope = next((e for e in map(_envelope, chain) if e), {})
    own = getattr(exc, "__dict__", {})  # DaytonaError's own fields; aiohttp's deprecated ``code`` is a property
    code = own.get("code") or envelope.get("code")
    source = own.get("source") or envelope.get("source")
    # a generated-client exception's str() lists the response headers: its reason is the better fallback
    said = envelope.get("message") or getattr(exc, "message", None) or getattr(exc, "reason", None)
    text = str(said or exc or type(exc).__name__)
    names = set().union(*map(_class_names, chain))
    kind: FailureKind = "other"
    if status is not None:
        kind = _BY_STATUS.get(status, "other")
    elif names & _TIMEOUT_CLASSES:
        kind = "timeout"
    elif names & _CONNECTION_CLASSES:
        kind = "connection"
    retry_after = next((r for r in map(_retry_after, chain) if r is not None), None)
    return Failure(
        kind,
        status,
        redact(text, secrets),
        code if isinstance(code, str) else None,
        source if isinstance(source, str) else None,
        retry_after,
    )


def user_error(failure: Failure, doing: str, *, api_url: str, shown_path: str = "") -> SandchatError:
    """The error to show for ``failure`` while ``doing`` (e.g. "reading /workspace/a.txt")."""
    status = f"HTTP {failure.status}" if failure.status else "no HTTP status"
    said = failure.message
    match failure.kind:
        case "auth":
            return SandboxUnavailable(
                f"Daytona did not accept the API key ({status}) while {doing}",
                hint=f"check DAYTONA_API_KEY or daytona.api_key; keys are made at {KEYS_URL}",
            )
        case "forbidden":
            return SandboxUnavailable(
                f"Daytona refused {doing} ({status}): {said}",
                hint="the API key lacks a permission: it needs write and delete access to sandboxes",
            )
        case "not_found":
            if shown_path:
                return NotFound(f"{shown_path}: no such file or directory")
            return NotFound(f"Daytona found nothing while {doing}: {said}")
        case "rate_limited":
            return BackendError(
                f"Daytona is limiting the rate of requests ({status}) while {doing}",
                hint="sandchat already waited and retried; wait a minute and try again",
            )
        case "timeout":
            return BackendError(f"{doing} timed out: {said}", hint="the sandbox or the network is slow; try again")
        case "gateway":
            return SandboxUnavailable(
                f"Daytona's proxy answered {status} while {doing}" + (f": {said}" if said else ""),
                hint="usually brief; try again in a moment",
            )
        case "connection":
            return SandboxUnavailable(
                f"cannot reach Daytona at {api_url} while {doing}: {said}",
                hint="check the network connection and daytona.api_url",
            )
        case _:
            return BackendError(f"{doing} failed ({status}): {said}")
