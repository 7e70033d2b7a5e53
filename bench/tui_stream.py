"""A 5,000-token reply streamed at full speed from a local server into ``sandchat`` running in a real terminal.

Run: .venv/bin/python bench/tui_stream.py [--tokens 5000] [--runs N] [--wait SECONDS]

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
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Run:
    """One streamed reply: seconds from the server's first token, and the key presses' latencies."""

    streamed: float  # the server's first to last token
    first_text: float
    shown: float
    rendered: float  # the last token to the marker on the screen
    latencies: list[float]


def stream_once(tokens: list[str], wait: float, first_token: list[float], last_token: list[float]) -> Run:
    """One run; the server notes its first and last token in the two lists (see record_stream_times)."""
    first_token.clear()
    last_token.clear()
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
            time.sleep(wait)
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
    start, end = first_token[0], last_token[0]
    return Run(end - start, first_text - start, shown - start, shown - end, latencies)


def report(tokens: list[str], run: Run) -> None:
    print(f"tokens: {len(tokens):,}, {sum(len(t) for t in tokens):,} characters")
    print(f"server: streamed in {run.streamed * 1000:.0f} ms; first text on screen {run.first_text * 1000:.0f} ms "
          f"after the first token, the end {run.shown * 1000:.0f} ms after it")
    print(f"rendered within {run.rendered * 1000:.0f} ms of the last token (target < 2000 ms) "
          f"{'OK' if run.rendered < 2 else 'OVER'}")
    if run.latencies:
        worst = max(run.latencies) * 1000
        print(f"key presses while streaming: {len(run.latencies)}, median "
              f"{statistics.median(run.latencies) * 1000:.0f} ms, worst {worst:.0f} ms (target < 100 ms) "
              f"{'OK' if worst < 100 else 'OVER'}")


def summary(runs: list[Run]) -> None:
    keys = sorted(k for run in runs for k in run.latencies)
    rendered = [run.rendered for run in runs]
    print(f"{len(runs)} runs: rendered within {min(rendered) * 1000:.0f}-{max(rendered) * 1000:.0f} ms "
          f"(median {statistics.median(rendered) * 1000:.0f} ms)")
    if keys:
        p90 = keys[min(len(keys) - 1, int(len(keys) * 0.9))]
        print(f"{len(keys)} key presses: median {statistics.median(keys) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
              f"worst {keys[-1] * 1000:.0f} ms, {sum(k >= 0.1 for k in keys)} at 100 ms or more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1, help="repeat, then sum up every run's figures")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds between the app being ready and the prompt (a person takes a few)")
    args = parser.parse_args()
    tokens = reply_tokens(args.tokens)
    first_token: list[float] = []
    last_token: list[float] = []
    record_stream_times(first_token, last_token)
    runs: list[Run] = []
    for _ in range(args.runs):
        runs.append(stream_once(tokens, args.wait, first_token, last_token))
        report(tokens, runs[-1])
    if len(runs) > 1:
        summary(runs)


if __name__ == "__main__":
    main()
