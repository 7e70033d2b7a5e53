"""Errors a user can act on: every failure ends the turn with a clear TurnError, never an exception."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from core.assistant.errors import how_to_configure, retry_after
from core.assistant.events import ReplyFinished, RetryCountdown, TurnError
from core.operations import SecureOperations
from tests.openai_server import Broken, Error, Garbage, Html, OpenAIServer, Reply, Response
from tests.openai_server.harness import make_assistant, recorded


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


async def one_error(server: OpenAIServer, ops: SecureOperations, *script: Response, **kw: Any) -> TurnError:
    server.script(*script)
    assistant = make_assistant(server.base_url, ops, **kw)
    events = recorded(assistant)
    result = await assistant.send("hello")
    await assistant.close()
    assert result.status == "failed" and result.error is not None
    errors = events.of(TurnError)
    assert len(errors) == 1 and events.kinds()[-2:] == ["TurnError", "ReplyFinished"]
    assert errors[0].kind == result.error.kind
    return errors[0]


async def test_bad_key(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Error(401, "Incorrect API key provided: sk-test***", code="invalid_api_key"))
    assert error.kind == "auth" and "refused the API key (401)" in error.message
    assert "OPENAI_API_KEY" in error.hint and not error.retryable
    assert "sk-test-key-for-the-local-server" not in error.message + error.hint


async def test_unknown_model_names_the_model_and_the_base_url(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Error(404, "The model `gpt-9` does not exist", code="model_not_found"),
                            model="gpt-9")
    assert error.kind == "model_not_found"
    assert "'gpt-9'" in error.message and server.base_url in error.message
    assert "assistant.model" in error.hint


async def test_a_404_web_page_is_a_wrong_base_url(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Html(status=404))
    assert error.kind == "not_openai" and "web page" in error.message and "/v1" in error.hint


async def test_a_plain_text_404_is_a_wrong_base_url(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Error(404, raw_body="404 page not found", content_type="text/plain"))
    assert error.kind == "not_openai" and "404" in error.message


async def test_a_web_page_instead_of_a_stream_is_not_openai(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Html())
    assert error.kind == "not_openai" and "text/html" in error.message


async def test_garbage_events_are_not_openai(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Garbage())
    assert error.kind == "not_openai"


async def test_rate_limit_is_retried_after_a_visible_countdown(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Error(429, "Rate limit reached", headers={"Retry-After": "2"}),
                  Error(429, "Rate limit reached", headers={"retry-after-ms": "50"}), Reply("finally"))
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("hello")
    assert result.status == "complete" and result.reply == "finally"
    ticks = [(e.attempt, e.seconds_left) for e in events.of(RetryCountdown)]
    assert ticks == [(1, 2), (1, 1), (2, 1)]
    assert all(e.max_attempts == 3 and "429" in e.reason for e in events.of(RetryCountdown))
    assert len(server.chat_requests) == 3
    await assistant.close()


async def test_rate_limit_retries_are_bounded(server: OpenAIServer, ops: SecureOperations) -> None:
    limited = Error(429, "slow down", headers={"retry-after-ms": "10"})
    error = await one_error(server, ops, limited, limited, limited, max_retries=2)
    assert error.kind == "rate_limit" and error.retryable
    assert len(server.chat_requests) == 3


async def test_a_wait_longer_than_allowed_is_not_made(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Error(429, "slow down", headers={"Retry-After": "3600"}))
    assert error.kind == "rate_limit" and len(server.chat_requests) == 1


async def test_no_quota_is_not_retried(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Error(429, "You exceeded your current quota", code="insufficient_quota"))
    assert error.kind == "quota" and len(server.chat_requests) == 1


async def test_server_errors_are_retried_then_reported(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Error(500, "boom", type="server_error", headers={"retry-after-ms": "10"}), Reply("recovered"))
    assistant = make_assistant(server.base_url, ops)
    assert (await assistant.send("x")).reply == "recovered"
    await assistant.close()
    broken = Error(503, "overloaded", headers={"retry-after-ms": "10"})
    error = await one_error(server, ops, broken, broken, max_retries=1)
    assert error.kind == "server" and "503" in error.message and "overloaded" in error.message


async def test_timeout(server: OpenAIServer, ops: SecureOperations) -> None:
    error = await one_error(server, ops, Reply("late", first_delay=3), timeout=0.3)
    assert error.kind == "timeout" and "did not answer within 0.3 s" in error.message and error.retryable


async def test_unreachable_server(ops: SecureOperations) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assistant = make_assistant(f"http://127.0.0.1:{port}/v1", ops)
    events = recorded(assistant)
    result = await assistant.send("hello")
    assert result.status == "failed" and events.of(TurnError)[0].kind == "connection"
    assert f"127.0.0.1:{port}" in events.of(TurnError)[0].message
    await assistant.close()


async def test_credentials_in_the_base_url_are_not_shown(server: OpenAIServer, ops: SecureOperations) -> None:
    url = server.base_url.replace("http://", "http://user:hunter2secret@")
    server.script(Error(401, "no"))
    assistant = make_assistant(url, ops)
    events = recorded(assistant)
    await assistant.send("hello")
    assert "hunter2secret" not in events.of(TurnError)[0].message
    await assistant.close()


async def test_broken_stream_keeps_the_partial_reply_and_can_be_retried(
    server: OpenAIServer, ops: SecureOperations
) -> None:
    server.script(Broken("The answer is forty"), Reply("The answer is 42."))
    assistant = make_assistant(server.base_url, ops)
    events = recorded(assistant)
    result = await assistant.send("what is the answer?")
    assert result.status == "incomplete" and result.reply == "The answer is forty"
    assert result.error is not None and result.error.kind == "broken_stream" and result.error.retryable
    assert assistant.messages[-1].status == "incomplete" and assistant.messages[-1].content == "The answer is forty"
    assert events.of(ReplyFinished)[-1].status == "incomplete"
    again = await assistant.retry()
    assert again.status == "complete" and again.reply == "The answer is 42."
    sent = server.chat_requests[-1].messages
    assert sent[-1] == {"role": "assistant",
                        "content": "The answer is forty\n[this reply was cut off before it was finished]"}
    await assistant.close()


async def test_a_stream_that_ends_without_finishing_is_incomplete(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Reply("half a", finish_reason=None))
    assistant = make_assistant(server.base_url, ops)
    result = await assistant.send("hello")
    assert result.status == "incomplete" and result.reply == "half a"
    assert result.error is not None and result.error.kind == "broken_stream"
    await assistant.close()


async def test_a_reply_cut_by_the_length_limit_is_incomplete(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Reply("a long story that", finish_reason="length"))
    assistant = make_assistant(server.base_url, ops)
    result = await assistant.send("tell me a story")
    assert result.status == "incomplete" and result.error is not None and result.error.kind == "length"
    assert assistant.messages[-1].status == "incomplete"
    await assistant.close()


@pytest.mark.parametrize(("model", "key", "base_url"), [("", "sk-x", ""), ("gpt-4o", "", ""), ("", "", "http://h/v1")])
async def test_no_model_configured_says_how_to_configure(
    ops: SecureOperations, model: str, key: str, base_url: str
) -> None:
    assistant = make_assistant(base_url, ops, model=model, api_key=key)
    events = recorded(assistant)
    result = await assistant.send("hello")
    assert result.status == "failed" and result.error is not None and result.error.kind == "not_configured"
    error = events.of(TurnError)[0]
    assert error.hint == how_to_configure() and "assistant.model" in error.hint
    assert assistant.messages == ()  # nothing was sent, nothing kept


async def test_a_local_server_needs_no_key(server: OpenAIServer, ops: SecureOperations) -> None:
    server.script(Reply("hi"))
    assistant = make_assistant(server.base_url, ops, api_key="")
    assert (await assistant.send("hello")).status == "complete"
    assert server.chat_requests[0].headers["authorization"] == "Bearer no-key"
    await assistant.close()


def test_retry_after_headers() -> None:
    class Response:
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = headers

    assert retry_after(Response({"retry-after": "7"})) == 7.0
    assert retry_after(Response({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert retry_after(Response({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after(Response({"retry-after": "soon"})) is None
    assert retry_after(Response({})) is None and retry_after(None) is None
