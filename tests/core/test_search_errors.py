"""Search errors are reported plainly and name the provider: not set up, HTTP status, timeout, bad answers."""

from __future__ import annotations

import threading

import pytest

from core.config_model import SearchConfig
from core.errors import SandchatError
from core.search import SearchError, search_web
from tests.core.test_search_helpers import ScriptedServer, searxng_payload

pytest_plugins = ["tests.core.test_search_helpers"]


async def failure(query: str, config: SearchConfig, **kwargs: object) -> SearchError:
    with pytest.raises(SearchError) as caught:
        await search_web(query, config, **kwargs)  # type: ignore[arg-type]
    return caught.value


async def test_no_provider_says_how_to_set_one() -> None:
    err = await failure("q", SearchConfig())
    assert isinstance(err, SandchatError)
    assert "not set up" in str(err)
    assert "sandchat config set search.provider searxng" in str(err) and "search.url" in str(err)


async def test_duckduckgo_is_refused_as_unsupported_with_alternatives() -> None:
    err = await failure("q", SearchConfig("duckduckgo"))
    assert err.provider == "duckduckgo" and "not supported" in str(err) and "searxng" in str(err)


async def test_missing_url_and_missing_key_are_named() -> None:
    assert "search.url is empty" in str(await failure("q", SearchConfig("searxng")))
    no_key = await failure("q", SearchConfig("brave"), api_key="")
    assert "needs an API key" in str(no_key) and "BRAVE_API_KEY" in str(no_key)
    assert "empty" in str(await failure("  ", SearchConfig("searxng", "http://127.0.0.1:9")))


async def test_a_non_web_url_is_refused_before_anything_is_opened() -> None:
    err = await failure("q", SearchConfig("brave", "file:///etc/passwd"), api_key="k")
    assert "http://" in str(err)


@pytest.mark.parametrize(
    ("status", "provider", "needle"),
    [
        (500, "searxng", "HTTP 500"),
        (503, "brave", "HTTP 503"),
        (403, "searxng", "search.formats"),
        (401, "brave", "check the API key"),
        (429, "brave", "wait a little"),
        (404, "searxng", "HTTP 404"),
    ],
)
async def test_http_errors_name_the_provider_and_status(
    server: ScriptedServer, status: int, provider: str, needle: str
) -> None:
    server.answer("/search", status=status, body=b'{"error": "boom \x1b[31m"}')
    err = await failure("q", SearchConfig(provider, server.url + "/search"), api_key="k")
    assert err.provider == provider and str(err).startswith(f"{provider}: HTTP {status}")
    assert needle in str(err) and "\x1b" not in str(err)


async def test_a_redirect_is_not_followed_so_the_key_stays_home(server: ScriptedServer) -> None:
    server.answer("/search", status=302, headers={"Location": server.url + "/elsewhere"}, body=b"")
    server.answer("/elsewhere", searxng_payload(1))
    err = await failure("q", SearchConfig("brave", server.url + "/search"), api_key="secret-key")
    assert "HTTP 302" in str(err) and "/elsewhere" in str(err)
    assert [seen.path.split("?")[0] for seen in server.seen] == ["/search"]


async def test_a_slow_provider_times_out(server: ScriptedServer) -> None:
    hold = threading.Event()
    server.answer("/search", searxng_payload(1), hold=hold)
    err = await failure("q", SearchConfig("searxng", server.url), timeout=0.3)
    hold.set()
    assert str(err).startswith("searxng: 127.0.0.1:") and "did not answer within 0.3 s" in str(err)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"results": [', "not JSON"),
        (b"<html><body>Too many requests</body></html>", "not JSON (it starts 'Too many requests')"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b'{"results": 3}', "no list of results"),
        (b"[]", "no list of results"),
        (b'"just a string"', "no list of results"),
    ],
)
async def test_bad_searxng_answers_are_reported(server: ScriptedServer, body: bytes, needle: str) -> None:
    server.answer("/search", body=body)
    err = await failure("q", SearchConfig("searxng", server.url))
    assert str(err).startswith("searxng: ") and needle in str(err)


@pytest.mark.parametrize(
    ("payload", "needle"),
    [([], "not an object"), ({"web": []}, "no web.results list"), ({"web": {"results": {}}}, "no web.results list"),
     ({"unrelated": True}, "no web.results list")],
)
async def test_wrong_brave_shapes_are_reported(server: ScriptedServer, payload: object, needle: str) -> None:
    server.answer("/brave", payload)
    err = await failure("q", SearchConfig("brave", server.url + "/brave"), api_key="k")
    assert str(err).startswith("brave: ") and needle in str(err)


async def test_an_unreachable_provider_is_reported(no_proxy: None) -> None:
    err = await failure("q", SearchConfig("searxng", "http://127.0.0.1:9"), timeout=2)
    assert str(err).startswith("searxng: cannot reach 127.0.0.1:9")


async def test_a_server_that_does_not_speak_http_is_reported(garbage_server: str) -> None:
    err = await failure("q", SearchConfig("searxng", garbage_server), timeout=2)
    assert str(err).startswith("searxng: the connection to 127.0.0.1:")


async def test_an_oversized_answer_is_refused(server: ScriptedServer) -> None:
    server.answer("/search", body=b'{"results": ["' + b"x" * (3 * 1024 * 1024) + b'"]}')
    err = await failure("q", SearchConfig("searxng", server.url))
    assert "larger than" in str(err)
