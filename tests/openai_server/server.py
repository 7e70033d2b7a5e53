"""A local OpenAI-compatible HTTP server for tests: stdlib only, scripted per test, records every request.

The real ``openai`` client talks to it at ``server.base_url`` (``http://127.0.0.1:PORT/v1``). Each POST to
``/v1/chat/completions`` takes the next scripted :mod:`response <tests.openai_server.script>`; with none left it
answers 500, so a test that makes one call too many fails loudly.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.openai_server.script import Broken, Call, Error, Garbage, Html, Raw, Reply, Response, ToolCalls


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.body.get("tools", [])]


class OpenAIServer:
    """Start with ``with OpenAIServer() as server:``; script answers with :meth:`script`."""

    def __init__(self) -> None:
        self._responses: deque[Response] = deque()
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.stop = threading.Event()  # ends slow answers at shutdown
        self.streams_started = threading.Event()  # set when a streamed body has begun
        self.requests_seen = threading.Event()  # set when a chat-completion request has arrived
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        # a short poll interval: shutdown() waits for it, at the end of every test
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="openai-test-server", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *responses: Response) -> None:
        """Queue answers for the next chat-completion requests, in order."""
        with self._lock:
            self._responses.extend(responses)

    @property
    def pending(self) -> int:
        """Scripted answers not yet used."""
        with self._lock:
            return len(self._responses)

    def next_response(self) -> Response:
        with self._lock:
            if self._responses:
                return self._responses.popleft()
        return Error(500, "the test server has no scripted response left", type="server_error")

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
        if request.path.endswith("/chat/completions"):
            self.requests_seen.set()

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAIServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: OpenAIServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked bodies, so a stream can be broken mid-body
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: tests read the recorded requests instead."""

    def do_GET(self) -> None:
        self._record({})
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self._record(body if isinstance(body, dict) else {"_raw": body})
        if not self.path.endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        try:
            self._answer(self.server.owner.next_response(), str(body.get("model", "")))
        except (BrokenPipeError, ConnectionResetError):  # the client went away (cancel, timeout)
            self.close_connection = True

    def _record(self, body: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner.record(RecordedRequest(self.command, self.path, headers, body))

    # -- answers -----------------------------------------------------------------------------------
    def _answer(self, response: Response, model: str) -> None:
        match response:
            case Reply():
                self._reply(response, model)
            case ToolCalls():
                self._tool_calls(response, model)
            case Error():
                self._error(response)
            case Html(status, page):
                self._send(status, "text/html; charset=utf-8", page.encode())
            case Broken(text, size):
                self._broken(text, size, model)
            case Garbage(lines):
                self._open_stream()
                for line in lines:
                    self._write_chunk(f"{line}\n\n".encode())
                self._end_stream()
            case Raw(pieces, hold):
                self._open_stream()
                for piece in pieces:
                    self._write_chunk(piece)
                if hold and self._sleep(hold):
                    return
                self._end_stream()

    def _reply(self, reply: Reply, model: str) -> None:
        if reply.first_delay and self._sleep(reply.first_delay):
            return
        self._open_stream()
        self._event(model, {"role": "assistant", "content": ""})
        for piece in reply.pieces():
            if reply.delay and self._sleep(reply.delay):
                return
            self._event(model, {"content": piece})
        if reply.finish_reason is not None:
            self._event(model, {}, finish=reply.finish_reason)
        self._done()

    def _tool_calls(self, script: ToolCalls, model: str) -> None:
        self._open_stream()
        self._event(model, {"role": "assistant", "content": script.text or None})
        for index, call in enumerate(script.calls):
            self._send_call(model, index, call, script)
            if script.delay and self._sleep(script.delay):
                return
        self._event(model, {}, finish=script.finish_reason)
        self._done()

    def _send_call(self, model: str, index: int, call: Call, script: ToolCalls) -> None:
        call_id = call.id or f"call_{index}_{call.name}"
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        self._event(model, {"tool_calls": [head]})
        size = max(1, script.split)
        for start in range(0, len(call.arguments), size):
            part = call.arguments[start : start + size]
            self._event(model, {"tool_calls": [{"index": index, "function": {"arguments": part}}]})

    def _error(self, error: Error) -> None:
        body = error.raw_body
        if body is None:
            body = json.dumps({"error": {"message": error.message, "type": error.type, "code": error.code}})
        self._send(error.status, error.content_type, body.encode(), error.headers)

    def _broken(self, text: str, size: int, model: str) -> None:
        self._open_stream()
        for start in range(0, len(text), max(1, size)):
            self._event(model, {"content": text[start : start + size]})
        self.wfile.flush()
        # Drop the connection without the chunked body's last chunk: the client sees a truncated body.
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    # -- wire format -------------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> bool:
        """Wait; True when the server is shutting down and the answer should be abandoned."""
        return self.server.owner.stop.wait(seconds)

    def _send(self, status: int, content_type: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, "application/json", json.dumps(obj).encode())

    def _open_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.server.owner.streams_started.set()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, model: str, delta: dict[str, Any], *, finish: str | None = None) -> None:
        chunk = {
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())

    def _done(self) -> None:
        self._write_chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
