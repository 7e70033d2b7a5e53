"""The sandbox's files as a lazily loaded tree, read through the pipeline (never the host disk).

A directory is listed when it is first opened; a large one shows its first entries and a "… N more" node
that adds the next batch, so a directory of 100,000 files opens as quickly as one of 100.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from tui.safe_text import typed

Lister = Callable[[str], Awaitable[OperationResult]]
BATCH = 300  # entries added to the tree at a time


@dataclass(frozen=True)
class MoreEntries:
    """The "… N more" node of a large directory: ``shown`` entries are in the tree already."""

    directory: str
    shown: int


NodeData = DirEntry | MoreEntries | None


class FileBrowser(Tree[NodeData]):
    """``/workspace`` as a tree; a directory's children are listed when it is first expanded."""

    DEFAULT_CSS = """
    FileBrowser { height: 1fr; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh", id="files.refresh"),
        Binding("n", "new_file", "New file", id="files.new"),
        Binding("d,delete", "delete", "Delete", id="files.delete"),
    ]

    class FileOpened(Message):
        """The person chose a file to open."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    class NewFileRequested(Message):
        """The person wants a new file in ``directory`` (a /workspace path)."""

        def __init__(self, directory: str) -> None:
            super().__init__()
            self.directory = directory

    class DeleteRequested(Message):
        """The person wants ``path`` deleted (to be confirmed)."""

        def __init__(self, entry: DirEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, lister: Lister, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(Text(WORKSPACE), data=None, id=id)
        self._lister = lister
        self.loaded_paths: set[str] = set()
        self._listings: dict[str, list[DirEntry]] = {}

    def on_mount(self) -> None:
        self.call_after_refresh(self.action_reload)  # after the first frame: listing is not needed to draw it

    def process_label(self, label: str | Text) -> Text:
        # File names come from the sandbox: a str label must never be read as markup.
        return typed(label) if isinstance(label, str) else label

    # -- loading ---------------------------------------------------------------------------------
    def action_reload(self) -> None:
        """List the root again and every directory that is open."""
        self.refresh_tree()

    def refresh_tree(self) -> None:
        """Reload after the workspace changed: every loaded directory is listed again."""
        self.loaded_paths.clear()
        self.load_directory(self.root)

    @work(group="files", exit_on_error=False)
    async def load_directory(self, node: TreeNode[NodeData]) -> None:
        data = node.data
        path = data.path if isinstance(data, DirEntry) else WORKSPACE
        result = await self._lister(path)
        if not result.ok:
            self.notify(strip_terminal_escapes(result.message), title="Could not list files", severity="error",
                        markup=False)
            return
        expanded = {c.data.path for c in node.children if isinstance(c.data, DirEntry) and c.is_expanded}
        entries = sorted(result.entries, key=lambda e: (e.kind != "dir", e.name))
        self._listings[path] = entries
        node.remove_children()
        self._add_batch(node, path, 0, expanded)
        self.loaded_paths.add(path)
        node.expand()

    def _add_batch(self, node: TreeNode[NodeData], path: str, start: int, expanded: set[str]) -> None:
        entries = self._listings.get(path, [])
        for entry in entries[start:start + BATCH]:
            label = typed(entry.name + ("/" if entry.kind == "dir" else ""))
            child = node.add(label, data=entry, allow_expand=entry.kind == "dir")
            if entry.path in expanded:
                child.expand()  # posts NodeExpanded, which lists it again
        shown = min(len(entries), start + BATCH)
        if shown < len(entries):
            more = Text(f"… {len(entries) - shown:,} more (enter: show {min(BATCH, len(entries) - shown):,} more)",
                        style="dim italic")
            node.add_leaf(more, data=MoreEntries(path, shown))

    def _show_more(self, node: TreeNode[NodeData], more: MoreEntries) -> None:
        parent = node.parent
        if parent is None:
            return
        node.remove()
        self._add_batch(parent, more.directory, more.shown, set())

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, DirEntry) and data.kind == "dir" and data.path not in self.loaded_paths:
            self.loaded_paths.add(data.path)  # listed once, even if expanded again meanwhile
            self.load_directory(event.node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        data = event.node.data
        if isinstance(data, MoreEntries):
            self._show_more(event.node, data)
        elif isinstance(data, DirEntry) and data.kind != "dir":
            self.post_message(self.FileOpened(data.path))

    # -- actions on the entry under the cursor ------------------------------------------------------
    @property
    def current_entry(self) -> DirEntry | None:
        node = self.cursor_node
        return node.data if node is not None and isinstance(node.data, DirEntry) else None

    def action_new_file(self) -> None:
        entry = self.current_entry
        if entry is None:
            directory = WORKSPACE
        elif entry.kind == "dir":
            directory = entry.path
        else:
            directory = entry.path.rpartition("/")[0] or WORKSPACE
        self.post_message(self.NewFileRequested(directory))

    def action_delete(self) -> None:
        entry = self.current_entry
        if entry is None:
            self.notify("Choose a file to delete first.", severity="warning")
            return
        self.post_message(self.DeleteRequested(entry))
