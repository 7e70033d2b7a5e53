"""A 5,000-token reply streamed at full speed from a local server into ``sandchat`` running in a real terminal.

Run: .venv/bin/python bench/tui_stream.py [--tokens 5000]

The local OpenAI-compatible test server (tests/openai_server) sends one SSE event per token as fast as it can;
the time it sends the last one is recorded in the server. sandchat runs in tmux with a temp config pointing at
that server. While the reply streams, a letter is typed into the prompt every 150 ms and the time until it shows
on the screen is measured (capture-pane polling, a few ms of resolution). The reply ends with a marker; the
time from the server's last token to the marker on the screen is "rendered within".
Targets (issue 6): rendered within 2 s of the last token, every key press answered within 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import string
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_terminal import Terminal, sandchat_argv  # noqa: E402
from core.config import Config, save_config  # noqa: E402
from tests.openai_server import OpenAIServer, Reply  # noqa: E402
from tests.openai_server import server as server_module  # noqa: E402

MARKER = "END-OF-REPLY"
WORDS = ("sandbox", "file", "the", "runs", "code", "and", "audit", "record", "every", "step", "is", "checked")


def reply_tokens(count: int) -> list[str]:
    """Markdown as a model writes it: paragraphs, a list and a code block now and then; one token per event."""
    tokens: list[str] = []
    paragraph = 0
    while len(tokens) < count - 1:
        paragraph += 1
        if paragraph % 8 == 0:
            tokens += ["```python\n", *(f"print({n})\n" for n in range(12)), "```\n\n"]
        elif paragraph % 5 == 0:
            tokens += [f"- item {n} of the list\n" for n in range(6)] + ["\n"]
        else:
            tokens += [f"{WORDS[(paragraph + n) % len(WORDS)]} " for n in range(60)] + ["\n\n"]
    return [*tokens[: count - 1], MARKER]


def record_stream_times(first: list[float], last: list[float]) -> None:
    """Note when the server starts each stream and when it has written its last token."""
    handler = server_module._Handler
    original_open, original_done = handler._open_stream, handler._done

    def open_stream(self: server_module._Handler) -> None:
        first.append(time.monotonic())
        original_open(self)

    def done(self: server_module._Handler) -> None:
        last.append(time.monotonic())
        original_done(self)

    handler._open_stream = open_stream  # type: ignore[method-assign]
    handler._done = done  # type: ignore[method-assign]


def prompt_shows(text: str) -> Callable[[str], bool]:
    return lambda screen: f"▊ {text}" in screen


def type_while_streaming(term: Terminal, stop: threading.Event, latencies: list[float]) -> None:
    typed = ""
    for letter in string.ascii_lowercase * 4:
        if stop.is_set():
            return
        typed += letter
        sent = time.monotonic()
        term.send(letter, literal=True)
        seen, _ = term.wait_for(prompt_shows(typed), limit=10)
        latencies.append(seen - sent)
        stop.wait(0.15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000)
    args = parser.parse_args()
    first_token: list[float] = []
    last_token: list[float] = []
    record_stream_times(first_token, last_token)
    tokens = reply_tokens(args.tokens)
    with OpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.script(Reply(chunks=tuple(tokens)))
        config = Config()
        config = replace(config, assistant=replace(config.assistant, model="bench-model", base_url=server.base_url))
        save_config(config, Path(tmp) / "config" / "config.toml")
        term = Terminal({"SANDCHAT_CONFIG_DIR": f"{tmp}/config", "SANDCHAT_DATA_DIR": f"{tmp}/data",
                         "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""})
        try:
            term.start(sandchat_argv(sys.executable))
            term.wait_for(lambda screen: "Sandbox files" in screen and "bench-model" in screen)
            term.send("write a long answer", literal=True)
            term.send("Enter")
            server.streams_started.wait(30)
            first_text, _ = term.wait_for(lambda screen: "sandbox file the" in screen, limit=60)
            latencies: list[float] = []
            stop = threading.Event()
            typist = threading.Thread(target=type_while_streaming, args=(term, stop, latencies))
            typist.start()
            shown, _ = term.wait_for(lambda screen: MARKER in screen, limit=120)
            stop.set()
            typist.join()
        finally:
            term.close()
    rendered = shown - last_token[0]
    print(f"tokens: {len(tokens):,}, {sum(len(t) for t in tokens):,} characters")
    print(f"server: streamed in {(last_token[0] - first_token[0]) * 1000:.0f} ms; first text on screen "
          f"{(first_text - first_token[0]) * 1000:.0f} ms after the first token, the end "
          f"{(shown - first_token[0]) * 1000:.0f} ms after it")
    print(f"rendered within {rendered * 1000:.0f} ms of the last token (target < 2000 ms) "
          f"{'OK' if rendered < 2 else 'OVER'}")
    if latencies:
        worst = max(latencies) * 1000
        print(f"key presses while streaming: {len(latencies)}, median {statistics.median(latencies) * 1000:.0f} ms, "
              f"worst {worst:.0f} ms (target < 100 ms) {'OK' if worst < 100 else 'OVER'}")


if __name__ == "__main__":
    main()
