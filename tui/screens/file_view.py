"""A file of the sandbox, shown with syntax highlighting.

The text was read through the pipeline and had its terminal escapes removed there; it is highlighted by
Rich's Syntax from a plain string, which never reads markup. Very large files are shown without colour.
"""

from __future__ import annotations

from typing import ClassVar

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from core.security.sanitize import strip_terminal_escapes
from tui.safe_text import typed

HIGHLIGHT_LIMIT = 256 * 1024  # characters; beyond this, plain text keeps opening a file instant


def file_renderable(path: str, text: str, *, dark: bool = True) -> RenderableType:
    """The file's text as something to draw: Syntax for reasonable sizes, plain Text otherwise."""
    clean = strip_terminal_escapes(text)  # already done by the pipeline; kept so no caller can forget
    if len(clean) > HIGHLIGHT_LIMIT:
        return Text(clean)
    lexer = Syntax.guess_lexer(path, clean)
    theme = "monokai" if dark else "default"
    return Syntax(clean, lexer, theme=theme, line_numbers=True, word_wrap=False, background_color="default")


class FileViewScreen(ModalScreen[None]):
    """The file fills the screen; Escape or q closes it."""

    DEFAULT_CSS = """
    FileViewScreen { background: $background; }
    FileViewScreen > #file-title { dock: top; height: 1; background: $panel; padding: 0 1; text-style: bold; }
    FileViewScreen > #file-body { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close", id="file_view.close"),
    ]

    def __init__(self, path: str, text: str, *, note: str = "") -> None:
        super().__init__()
        self.path = path
        self.text = text
        self.note = note
        self.renderable: RenderableType = Text("")

    def compose(self) -> ComposeResult:
        title = typed(self.path)
        if self.note:
            title.append_text(typed(f"  ·  {self.note}", style="dim"))
        yield Static(title, id="file-title")
        self.renderable = file_renderable(self.path, self.text, dark=self.app.current_theme.dark)
        with VerticalScroll(id="file-body"):
            yield Static(self.renderable, id="file-text")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#file-body").focus()
