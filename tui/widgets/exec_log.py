"""The execution log: every operation as it happens, and the output of running programs."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import RichLog

from core.events import Event, OperationFinished, OperationStarted, OutputChunk
from tui.safe_text import typed, untrusted

_STATUS_STYLE = {"ok": "green", "error": "yellow", "failed": "red", "blocked": "bold white on red",
                 "denied": "bold white on red"}


class ExecutionLog(RichLog):
    """A live, append-only log; every line is built from plain text (no markup is interpreted)."""

    DEFAULT_CSS = """
    ExecutionLog { border: round $primary; height: 1fr; }
    ExecutionLog:focus { border: round $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id, wrap=True, markup=False, highlight=False, max_lines=10_000)
        self.finished: list[OperationFinished] = []

    def on_mount(self) -> None:
        self.border_title = "Execution log"

    def show(self, event: Event) -> None:
        """Add one pipeline event to the log."""
        if isinstance(event, OperationStarted):
            stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
            self.write(Text.assemble((f"{stamp} #{event.op_id} ", "dim"), (f"{event.actor}: ", "bold"),
                                     typed(_one_line(event.command))))
        elif isinstance(event, OutputChunk):
            style = "red" if event.stream == "stderr" else ""
            self.write(untrusted(event.text.rstrip("\n"), style=style))
        elif isinstance(event, OperationFinished):
            self.finished.append(event)
            r = event.result
            line = Text.assemble((f"#{r.op_id} ", "dim"), (r.status.upper(), _STATUS_STYLE[r.status]),
                                 f" {r.duration * 1000:.0f} ms ")
            if r.exec is not None and r.exec.exit_code is not None:
                line.append(f"exit {r.exec.exit_code} ")
            line.append_text(untrusted(_one_line(r.message)))
            self.write(line)


def _one_line(text: str, limit: int = 200) -> str:
    first = text.splitlines()[0] if text else ""
    more = len(text) > len(first)
    first = first[:limit]
    return first + (" …" if more or len(text) > limit else "")
