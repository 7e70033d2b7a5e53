"""The file browser's actions on the main screen: open, new file, delete (asked first), all through the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work

from core.security.sanitize import strip_terminal_escapes
from tui.safe_text import typed
from tui.screens.panes import PaneLayout
from tui.widgets.file_browser import FileBrowser

if TYPE_CHECKING:
    from tui.app import SandchatApp


class FileActions(PaneLayout):
    """What the person does to files from the tree; their own actions (actor "user"), recorded like any other."""

    @property
    def sandchat(self) -> SandchatApp:
        from tui.app import SandchatApp

        assert isinstance(self.app, SandchatApp)
        return self.app

    @on(FileBrowser.FileOpened)
    def _file_opened(self, message: FileBrowser.FileOpened) -> None:
        self.open_file(message.path)

    @work(group="files", exit_on_error=False)
    async def open_file(self, path: str) -> None:
        from tui.screens.file_view import FileViewScreen

        result = await self.sandchat.ops.read_file(path, actor="user")
        self.sandchat.results.append(result)
        if not result.ok:
            self.notify(strip_terminal_escapes(result.message), title="Could not open", severity="error",
                        markup=False)
            return
        await self.app.push_screen(FileViewScreen(result.path or path, result.output, note=result.message))

    @on(FileBrowser.NewFileRequested)
    def _new_file(self, message: FileBrowser.NewFileRequested) -> None:
        from tui.screens.dialogs import NewFileScreen

        self.app.push_screen(NewFileScreen(message.directory), callback=self._create_file)

    def _create_file(self, path: str | None) -> None:
        if path:
            self.create_file(path)

    @work(group="files", exit_on_error=False)
    async def create_file(self, path: str) -> None:
        ops = self.sandchat.ops
        existing = await ops.get_file_info(path, actor="app")
        if existing.ok:
            self.notify(f"{existing.path} already exists.", title="Not created", severity="warning", markup=False)
            return
        result = await ops.write_file(path, "", actor="user")
        self.sandchat.results.append(result)
        self.notify(strip_terminal_escapes(result.message), severity="information" if result.ok else "error",
                    markup=False)

    @on(FileBrowser.DeleteRequested)
    def _delete(self, message: FileBrowser.DeleteRequested) -> None:
        from tui.screens.dialogs import ConfirmScreen

        entry = message.entry
        question = Text("Delete ").append_text(typed(entry.path, style="bold")).append("? This cannot be undone.")

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_file(entry.path)

        self.app.push_screen(ConfirmScreen(question, yes_label="Delete"), callback=answered)

    @work(group="files", exit_on_error=False)
    async def delete_file(self, path: str) -> None:
        result = await self.sandchat.ops.delete_file(path, actor="user")
        self.sandchat.results.append(result)
        if not result.ok:
            self.notify(strip_terminal_escapes(result.message), title="Not deleted", severity="error", markup=False)
