"""The sandbox's files as a lazily loaded tree, read through the pipeline (never the host disk)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.backends.base import WORKSPACE, DirEntry
from core.results import OperationResult
from core.security.sanitize import strip_terminal_escapes

Lister = Callable[[str], Awaitable[OperationResult]]


class FileBrowser(Tree[DirEntry | None]):
    """``/workspace`` as a tree; a directory's children are listed when it is first expanded."""

    DEFAULT_CSS = """
    FileBrowser { border: round $primary; height: 1fr; }
    FileBrowser:focus { border: round $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh files", id="files.refresh"),
    ]

    class FileOpened(Message):
        """The person chose a file to open."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, lister: Lister, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(Text(WORKSPACE), data=None, id=id)
        self._lister = lister
        self.loaded_paths: set[str] = set()

    def on_mount(self) -> None:
        self.border_title = "Sandbox files"
        self.action_reload()

    def process_label(self, label: str | Text) -> Text:
        # File names come from the sandbox: a str label must never be read as markup.
        return Text(label) if isinstance(label, str) else label

    def action_reload(self) -> None:
        """List the root again and every directory that is open."""
        self.refresh_tree()

    @work(group="files", exit_on_error=False)
    async def load_directory(self, node: TreeNode[DirEntry | None]) -> None:
        path = node.data.path if node.data is not None else WORKSPACE
        result = await self._lister(path)
        if not result.ok:
            self.notify(strip_terminal_escapes(result.message), title="Could not list files", severity="error",
                        markup=False)
            return
        expanded = {child.data.path for child in node.children if child.data and child.is_expanded}
        node.remove_children()
        for entry in result.entries:
            child = node.add(Text(entry.name + ("/" if entry.kind == "dir" else "")), data=entry,
                             allow_expand=entry.kind == "dir")
            if entry.path in expanded:
                child.expand()  # posts NodeExpanded, which lists it again
        self.loaded_paths.add(path)
        node.expand()

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[DirEntry | None]) -> None:
        data = event.node.data
        if data is not None and data.kind == "dir" and data.path not in self.loaded_paths:
            self.loaded_paths.add(data.path)  # listed once, even if expanded again meanwhile
            self.load_directory(event.node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[DirEntry | None]) -> None:
        data = event.node.data
        if data is not None and data.kind != "dir":
            self.post_message(self.FileOpened(data.path))

    def refresh_tree(self) -> None:
        """Reload after the workspace changed: every loaded directory is listed again."""
        self.loaded_paths.clear()
        self.load_directory(self.root)
