"""What went wrong talking to the model, in words a user can act on; the SDK's exceptions are mapped here.

``openai`` is imported inside :func:`from_openai` only, so importing this module never loads the SDK.
"""

from __future__ import annotations

import email.utils
import time
from typing import TYPE_CHECKING, Literal

from core.errors import SandchatError
from core.security.redact import redact
from core.security.sanitize import strip_terminal_escapes

if TYPE_CHECKING:
    from core.assistant.client import ClientSettings

ErrorKind = Literal[
    "not_configured",  # no model, or neither key nor base URL
    "auth",  # 401: the key was refused
    "permission",  # 403: the key may not do this
    "model_not_found",  # 404 from an API: the model is unknown there
    "not_openai",  # HTML, garbage, or a 404 page: the base URL is not an OpenAI-compatible API
    "rate_limit",  # 429 (retried with a countdown)
    "quota",  # 429 insufficient_quota: retrying will not help
    "timeout",
    "connection",  # the server cannot be reached
    "broken_stream",  # the reply stopped half-way
    "server",  # 5xx (retried with a countdown)
    "bad_request",  # 400 and other 4xx
    "context_too_long",  # 400 context_length_exceeded
    "length",  # the reply hit the model's output limit
    "step_limit",  # assistant.max_steps reached
]

OPENAI_URL = "https://api.openai.com/v1"
_SERVER_TEXT_LIMIT = 300

_FALLBACK_HOW_TO = """\
No AI model is configured. Point sandchat at any OpenAI-compatible server:
  OpenAI:  export OPENAI_API_KEY=sk-...  and  sandchat config set assistant.model gpt-4o-mini
  Others:  sandchat config set assistant.base_url http://localhost:11434/v1  (Ollama, vLLM, LM Studio ...)
           sandchat config set assistant.model NAME"""


class AssistantError(SandchatError):
    """A failed model request: ``kind`` for code, the message and hint for people."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        hint: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.kind: ErrorKind = kind
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the server asked us to wait, when it said


def how_to_configure() -> str:
    """The offline suggester's text on configuring a model, or a short one of our own if it is not there."""
    try:
        from core.assistant.suggest import HOW_TO_CONFIGURE
    except ImportError:
        return _FALLBACK_HOW_TO
    return HOW_TO_CONFIGURE


def not_configured(problem: str) -> AssistantError:
    """No model can be asked: ``problem`` says why, the hint how to configure one."""
    return AssistantError("not_configured", problem, hint=how_to_configure())


def shown_url(base_url: str) -> str:
    """The base URL as it may be shown and stored: credentials in it redacted."""
    return redact(base_url or OPENAI_URL)


def server_text(text: object) -> str:
    """Text the server sent, made safe to print and kept short (it is not ours, so it could be anything)."""
    clean = strip_terminal_escapes(str(text)).strip()
    return clean if len(clean) <= _SERVER_TEXT_LIMIT else clean[:_SERVER_TEXT_LIMIT] + "…"


def from_openai(exc: BaseException, settings: ClientSettings, *, streaming: bool = False) -> AssistantError:
    """The user's version of an SDK exception; ``streaming``: the reply had already started."""
    import openai

    url = shown_url(settings.base_url)
    if isinstance(exc, openai.APITimeoutError):
        return _timeout(settings, url, streaming)
    if isinstance(exc, openai.APIConnectionError):
        if streaming:
            return broken_stream("the connection to the model broke")
        return AssistantError(
            "connection", f"cannot reach the model server at {url}", retryable=True,
            hint="check that the server is running and assistant.base_url (or OPENAI_BASE_URL) is right",
        )
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc, settings, url)
    if isinstance(exc, ValueError):  # the event stream held something that is not JSON
        return not_openai(url, "its answer is not a stream of chat-completion events")
    return AssistantError("server", f"the model request failed: {server_text(exc)}", retryable=True)


def _timeout(settings: ClientSettings, url: str, streaming: bool) -> AssistantError:
    what = "stopped sending the reply" if streaming else "did not answer"
    return AssistantError(
        "timeout", f"the model server at {url} {what} within {settings.timeout:g} s", retryable=True,
        hint="try again; a local model may need longer to load",
    )


def broken_stream(why: str) -> AssistantError:
    """A reply that stopped half-way: kept, marked incomplete, and worth a retry."""
    return AssistantError(
        "broken_stream", f"{why}; the reply so far is kept and marked incomplete", retryable=True,
        hint="retry to ask again",
    )


def not_openai(url: str, detail: str) -> AssistantError:
    """The server answered, but not as an OpenAI-compatible API does."""
    return AssistantError(
        "not_openai", f"the server at {url} does not look like an OpenAI-compatible API: {detail}",
        hint="assistant.base_url should be the API root, which usually ends in /v1 (e.g. http://localhost:11434/v1)",
    )


def _from_status(exc: BaseException, settings: ClientSettings, url: str) -> AssistantError:
    import openai

    assert isinstance(exc, openai.APIStatusError)
    status, body = exc.status_code, exc.body
    said = _server_said(exc)
    if not isinstance(body, dict | list) and _looks_like_html(exc):
        return not_openai(url, f"it answered {status} with a web page")
    if status == 404 and not isinstance(body, dict):  # a plain "404 page not found": no API at this URL
        return not_openai(url, f"it answered 404{said} to a chat-completions request")
    if status in (401, 403, 404):
        return _refused(status, settings.model, url, said)
    if status == 429:
        return _rate_limited(exc, said)
    if status >= 500:
        return AssistantError(
            "server", f"the model server at {url} failed ({status}){said}", retryable=True,
            retry_after=retry_after(getattr(exc, "response", None)),
        )
    if _error_code(body) == "context_length_exceeded":
        return AssistantError(
            "context_too_long", f"the conversation is too long for model {settings.model!r}{said}",
            hint="start a new conversation",
        )
    return AssistantError("bad_request", f"the model server at {url} refused the request ({status}){said}")


def _refused(status: int, model: str, url: str, said: str) -> AssistantError:
    """401 bad key, 403 not allowed, 404 (from an API that answers JSON) unknown model."""
    if status == 401:
        return AssistantError(
            "auth", f"the model server at {url} refused the API key (401){said}",
            hint="set a valid key: export OPENAI_API_KEY=... or `sandchat config set assistant.api_key KEY`",
        )
    if status == 403:
        return AssistantError("permission", f"the API key may not use model {model!r} at {url} (403){said}")
    return AssistantError(
        "model_not_found", f"model {model!r} was not found at {url}{said}",
        hint="check the name: `sandchat config set assistant.model NAME` (the server's /models lists them)",
    )


def _rate_limited(exc: BaseException, said: str) -> AssistantError:
    body = getattr(exc, "body", None)
    if _error_code(body) == "insufficient_quota":
        return AssistantError("quota", f"the account is out of quota{said}", hint="check the plan and billing")
    return AssistantError(
        "rate_limit", f"the model server is rate limiting requests (429){said}", retryable=True,
        retry_after=retry_after(getattr(exc, "response", None)),
    )


def retry_after(response: object) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), if given."""
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis, value = headers.get("retry-after-ms"), headers.get("retry-after")
    try:
        if millis is not None:
            return max(0.0, float(millis) / 1000)
        if value is not None:
            return max(0.0, float(value))
    except ValueError:
        pass
    if value:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def _error_code(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("code") or error.get("type") or "")
        return str(body.get("code") or "")
    return ""


def _server_said(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, dict):
        error = body.get("error", body)
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
    elif isinstance(body, str) and not _looks_like_html(exc):
        message = body
    return f": the server said {server_text(message)!r}" if message.strip() else ""


def _looks_like_html(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    kind = str(getattr(response, "headers", {}).get("content-type", "")) if response is not None else ""
    body = getattr(exc, "body", None)
    text = body.lstrip()[:100].lower() if isinstance(body, str) else ""
    return "html" in kind or text.startswith(("<!doctype", "<html"))
