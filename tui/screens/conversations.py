"""The conversations screen: the saved conversations, searched, resumed, renamed, deleted or exported.

Every database call runs in a thread worker; results reach the screen through ``call_from_thread``, and a
search result that arrives after the query changed is dropped. Titles and snippets may come from the model:
they are shown as plain ``Text`` with terminal escapes removed, so neither escapes nor markup in them act.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.history import ConversationInfo, ConversationStore, HistoryError
from core.security.sanitize import strip_terminal_escapes
from tui.screens.dialogs import ConfirmScreen
from tui.screens.screen_commands import PaletteEntry, ScreenActions

IN_TITLE = "(in the title)"  # the Match column of a conversation found by its title alone
LIST_LIMIT = 500  # older conversations are still found by searching
LOAD_GROUP = "conversations-load"
CHANGE_GROUP = "conversations-change"
FAILURES = {"load": "Could not read the conversations", "rename": "Could not rename",
            "delete": "Could not delete", "export": "Could not export"}

# label, key, width: fits 120 columns with the scrollbar; longer titles and snippets are cut, never wrapped
COLUMNS = (("Title", "title", 36), ("Updated", "updated", 16), ("Model", "model", 14), ("Msgs", "messages", 5),
           ("Match", "match", 33))

EditMode = Literal["rename", "export"]
Row = tuple[ConversationInfo, str]  # a conversation and, when searching, the text that matched


class ExportFailed(Exception):
    """The Markdown could not be written where the person asked."""


def one_line(text: str) -> Text:
    """Untrusted text as one plain line: escapes removed, runs of whitespace (newlines too) made one space."""
    return Text(" ".join(strip_terminal_escapes(text).split()))


def updated_text(epoch: float) -> str:
    """When a conversation last changed, in local time to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch))


def write_markdown(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` (mode 0o600 when created); FileExistsError unless ``overwrite``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)  # a conversation can hold private code and data
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)


class ConversationTable(DataTable[Text]):
    """The list; Enter resumes the conversation under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Resume", id="conversations.resume"),
    ]


class ConversationsScreen(Screen[int | None]):
    """Browse the history; dismisses with the id of the conversation to resume, or None."""

    CSS_PATH = "conversations.tcss"
    COMMANDS = {ScreenActions}
    PALETTE: ClassVar[tuple[PaletteEntry, ...]] = (
        ("Conversations: search", "type words from a title or a message", "focus_search"),
        ("Conversations: rename", "give the selected conversation a title", "rename"),
        ("Conversations: delete", "delete the selected conversation (asks first)", "delete"),
        ("Conversations: export", "write the selected conversation to a file", "export"),
        ("Conversations: back", "close this screen", "close"),
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", id="conversations.search"),
        Binding("r", "rename", "Rename", id="conversations.rename"),
        Binding("d,delete", "delete", "Delete", id="conversations.delete"),
        Binding("e", "export", "Export", id="conversations.export"),
        Binding("down", "focus_list", "List", show=False, id="conversations.focus_list"),
        Binding("escape", "close", "Back", id="conversations.close"),
    ]

    def __init__(self, history: ConversationStore) -> None:
        super().__init__()
        self._history = history
        self._query = ""
        self._shown: dict[int, ConversationInfo] = {}
        self._editing: tuple[EditMode, int] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Conversations"), id="conversations-title")
        yield Input(placeholder="Search every message and title (/)", id="search")
        yield ConversationTable(id="conversations", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="edit-bar"):
            yield Label(id="edit-label")
            yield Input(id="edit")
        yield Static(Text("Loading…"), id="conversations-status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(ConversationTable)
        for label, key, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        table.focus()
        self._load(self._query)

    # -- loading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group=LOAD_GROUP, name="load", exit_on_error=False)
    def _load(self, query: str) -> None:
        rows = self._fetch(query)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_rows, query, rows)

    def _fetch(self, query: str) -> list[Row]:
        if not query.split():
            return [(info, "") for info in self._history.list_conversations(limit=LIST_LIMIT)]
        snippets: dict[int, str] = {}  # in the order search ranked them; a message's snippet beats a title hit
        for hit in self._history.search(query):
            current = snippets.get(hit.conversation_id)
            if hit.message_id is not None and current in (None, IN_TITLE):
                snippets[hit.conversation_id] = hit.snippet
            elif current is None:
                snippets[hit.conversation_id] = IN_TITLE
        rows: list[Row] = []
        for conversation_id, snippet in snippets.items():
            try:
                rows.append((self._history.conversation(conversation_id), snippet))
            except HistoryError:
                continue  # deleted between the search and now
        return rows

    def _show_rows(self, query: str, rows: list[Row]) -> None:
        if query != self._query or not self.is_attached:
            return  # the person typed on (a newer search is on its way), or closed the screen
        table = self.query_one(ConversationTable)
        keep = self.selected()
        table.clear()
        self._shown = {info.id: info for info, _ in rows}
        for info, snippet in rows:
            table.add_row(one_line(info.title or "(untitled)"), Text(updated_text(info.updated)),
                          one_line(info.model or "-"), Text(str(info.message_count), justify="right"),
                          one_line(snippet), key=str(info.id))
        if keep is not None and keep.id in self._shown:
            table.move_cursor(row=table.get_row_index(str(keep.id)))
        self._set_status(query, len(rows))

    def _set_status(self, query: str, count: int) -> None:
        if query.split():
            text = f"{count} conversation{'s' if count != 1 else ''} match" if count else "Nothing matches"
            status = one_line(f"{text} “{query}”")
        elif count == 0:
            status = Text("No conversations yet: they appear here as you chat.")
        else:
            more = f" (the {LIST_LIMIT} most recent; search finds older ones)" if count >= LIST_LIMIT else ""
            status = Text(f"{count} conversation{'s' if count != 1 else ''}{more}")
        self.query_one("#conversations-status", Static).update(status)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._query = event.value
        self._load(event.value)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.query_one(ConversationTable).focus()

    # -- acting on the selected conversation ------------------------------------------------------
    def selected(self) -> ConversationInfo | None:
        """The conversation under the cursor, if the list has any."""
        table = self.query_one(ConversationTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._shown.get(int(key)) if key is not None else None

    def _selected_or_say(self) -> ConversationInfo | None:
        info = self.selected()
        if info is None:
            self.notify("There is no conversation selected.", severity="warning")
        return info

    @on(DataTable.RowSelected, "#conversations")
    def _resume(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is not None:
            self.dismiss(int(key))

    def action_focus_search(self) -> None:
        """Put the cursor in the search box."""
        self.query_one("#search", Input).focus()

    def action_focus_list(self) -> None:
        """Move from the search box to the list."""
        if self.focused is self.query_one("#search", Input):
            self.query_one(ConversationTable).focus()

    def action_rename(self) -> None:
        """Ask for a new title in the line below the list."""
        info = self._selected_or_say()
        if info is not None:
            self._open_edit("rename", info, "New title:", " ".join(strip_terminal_escapes(info.title).split()))

    def action_export(self) -> None:
        """Ask where to write the conversation as Markdown."""
        info = self._selected_or_say()
        if info is not None:
            self._open_edit("export", info, "Export as Markdown to:", f"conversation-{info.id}.md")

    def _open_edit(self, mode: EditMode, info: ConversationInfo, label: str, value: str) -> None:
        self._editing = (mode, info.id)
        self.query_one("#edit-label", Label).update(Text(label))
        edit = self.query_one("#edit", Input)
        edit.value = value
        self.query_one("#edit-bar").add_class("-open")
        edit.focus()

    def _close_edit(self) -> None:
        self._editing = None
        self.query_one("#edit-bar").remove_class("-open")
        self.query_one(ConversationTable).focus()

    @on(Input.Submitted, "#edit")
    def _edit_submitted(self, event: Input.Submitted) -> None:
        if self._editing is None:
            return
        mode, conversation_id = self._editing
        text = event.value.strip()
        if not text:
            self.notify("Type a title." if mode == "rename" else "Type a file path.", severity="warning")
            return
        self._close_edit()
        if mode == "rename":
            self._rename(conversation_id, text)
        else:
            self._export(conversation_id, text, overwrite=False)

    def action_delete(self) -> None:
        """Delete the selected conversation, once the person confirms."""
        info = self._selected_or_say()
        if info is None:
            return
        title = " ".join(strip_terminal_escapes(info.title).split()) or "(untitled)"
        count = info.message_count
        question = f"Delete “{title}” and its {count} message{'s' if count != 1 else ''}? This cannot be undone."

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(info.id)

        self.app.push_screen(ConfirmScreen(Text(question), yes_label="Delete"), answered)

    def action_close(self) -> None:
        """Close the edit line, else clear the search, else leave the screen."""
        search = self.query_one("#search", Input)
        if self._editing is not None:
            self._close_edit()
        elif search.value:
            search.value = ""
            self.query_one(ConversationTable).focus()
        else:
            self.dismiss(None)

    # -- changes, in thread workers ---------------------------------------------------------------
    @work(thread=True, group=CHANGE_GROUP, name="rename", exit_on_error=False)
    def _rename(self, conversation_id: int, title: str) -> None:
        self._history.rename(conversation_id, title)
        self.app.call_from_thread(self._changed, "Renamed.")

    @work(thread=True, group=CHANGE_GROUP, name="delete", exit_on_error=False)
    def _delete(self, conversation_id: int) -> None:
        self._history.delete(conversation_id)
        self.app.call_from_thread(self._changed, "Deleted.")

    @work(thread=True, group=CHANGE_GROUP, name="export", exit_on_error=False)
    def _export(self, conversation_id: int, typed: str, *, overwrite: bool) -> None:
        path = Path(typed).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        markdown = self._history.export_markdown(conversation_id)
        try:
            write_markdown(path, markdown, overwrite=overwrite)
        except FileExistsError:
            self.app.call_from_thread(self._ask_overwrite, conversation_id, typed, path)
            return
        except OSError as error:
            raise ExportFailed(f"{path}: {error.strerror or error}") from None
        self.app.call_from_thread(self.notify, f"Exported to {path}", markup=False)

    def _ask_overwrite(self, conversation_id: int, typed: str, path: Path) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._export(conversation_id, typed, overwrite=True)

        self.app.push_screen(ConfirmScreen(Text(f"{path} exists. Replace it?"), yes_label="Replace"), answered)

    def _changed(self, message: str) -> None:
        self.notify(message)
        if self.is_attached:
            self._load(self._query)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.group not in (LOAD_GROUP, CHANGE_GROUP):
            return
        title = FAILURES.get(event.worker.name, "Something went wrong")
        self.notify(str(event.worker.error), title=title, severity="error", markup=False)
        if event.worker.group == CHANGE_GROUP and self.is_attached:
            self._load(self._query)  # e.g. deleted meanwhile elsewhere: show the list as it is now
