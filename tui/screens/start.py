"""The screen shown while sandchat starts: the main screen's frame, drawn before anything heavy is loaded.

``sandchat`` paints this first (textual and a few light modules are all it needs), then builds the services
in a thread: the config, the audit database, the sandbox backend, the pipeline, the history and the model
client. When they are ready the app switches to the main screen. What the person types meanwhile is kept and
put into the prompt, so nothing typed during start-up is lost.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.safe_text import typed


class StartScreen(Screen[None]):
    """The layout of the main screen with empty panes, and a status bar that says what is being started."""

    DEFAULT_CSS = """
    StartScreen > #main { height: 1fr; }
    StartScreen .pane { border: round $primary; border-title-color: $text; color: $text-muted; padding: 0 1; }
    StartScreen #chat { width: 60fr; height: 1fr; }
    StartScreen #side { width: 40fr; }
    StartScreen #files { height: 45fr; }
    StartScreen #log-pane { height: 55fr; }
    StartScreen #status { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.typed: list[str] = []  # what the person typed before the prompt existed, in order
        self.submitted = False  # they pressed enter: send what they typed once the app is ready

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield _pane("Chat", "chat", "starting…")
            with Vertical(id="side"):
                yield _pane("Sandbox files", "files", "")
                yield _pane("Execution log", "log-pane", "")
        # One line, not the main screen's StatusBar of six labels: fewer widgets before the first frame.
        yield Static("starting the sandbox…   approval …   audit …", id="status")
        yield Footer()

    def on_key(self, event: events.Key) -> None:
        if self.submitted:
            return
        if event.key == "enter":
            self.submitted = True
        elif event.key == "backspace":
            if self.typed:
                self.typed.pop()
        elif event.is_printable and event.character is not None:
            self.typed.append(event.character)
        else:
            return
        event.stop()
        self.query_one("#chat", Static).update(typed(f"starting… {''.join(self.typed)}"))

    def take_typed(self) -> tuple[str, bool]:
        """What was typed, and whether enter was pressed; the screen keeps nothing after this."""
        text, submitted = "".join(self.typed), self.submitted
        self.typed.clear()
        self.submitted = False
        return text, submitted


def _pane(title: str, pane_id: str, text: str) -> Static:
    pane = Static(typed(text), id=pane_id, classes="pane")
    pane.border_title = title
    return pane
