"""Local HTTP servers for the search tests: scripted answers in SearXNG's and Brave's JSON shapes."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Answer:
    """What the server says to one path; ``hold`` makes it wait until the test releases it."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    hold: threading.Event | None = None


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]


class ScriptedServer:
    """An HTTP server on 127.0.0.1 in a thread, answering each path as scripted and recording requests."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self.released = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, path: str, payload: object = None, **kwargs: object) -> None:
        """Script ``path``: a JSON payload, or the Answer fields given as keywords."""
        if payload is not None:
            kwargs["body"] = json.dumps(payload).encode()
        self.answers[path] = Answer(**kwargs)  # type: ignore[arg-type]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                server.seen.append(Seen(self.path, dict(self.headers.items())))
                answer = server.answers.get(self.path.split("?")[0], Answer(404, b"not found"))
                if answer.hold is not None:
                    answer.hold.wait(10)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                return None

        return Handler

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for answer in self.answers.values():
            if answer.hold is not None:
                answer.hold.set()
        self._http.shutdown()
        self._http.server_close()


class _Garbage(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(4096)
        self.request.sendall(b"this is not HTTP at all\r\n\r\n")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours proxy variables; the local servers must be reached directly."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server(no_proxy: None) -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def garbage_server(no_proxy: None) -> Iterator[str]:
    """A TCP server that answers every connection with text that is not HTTP; yields its URL."""
    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Garbage)
    tcp.daemon_threads = True
    thread = threading.Thread(target=tcp.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    host, port = tcp.server_address[:2]
    yield f"http://{host!s}:{port}"
    tcp.shutdown()
    tcp.server_close()


def searxng_payload(count: int) -> dict[str, object]:
    """A SearXNG /search?format=json answer with ``count`` results."""
    results = [
        {"title": f"Result {n}", "url": f"https://example.org/{n}", "content": f"Snippet {n}", "engine": "ddg"}
        for n in range(count)
    ]
    return {"query": "q", "number_of_results": count, "results": results, "answers": [], "suggestions": []}


def brave_payload(count: int) -> dict[str, object]:
    """A Brave /res/v1/web/search answer with ``count`` web results."""
    results = [
        {"title": f"Brave {n}", "url": f"https://brave.example/{n}",
         "description": f"The <strong>answer</strong> &amp; more {n}", "type": "search_result"}
        for n in range(count)
    ]
    return {"type": "search", "query": {"original": "q"}, "web": {"type": "search", "results": results}}
