"""The prompt: multi-line, with a history (up/down) and completion of command verbs and sandbox paths.

Enter sends. A new line is shift+enter where the terminal reports it (kitty keyboard protocol: kitty, WezTerm,
foot, Ghostty, iTerm2 ...), and ctrl+j or alt+enter everywhere else: most terminals send the same byte for
enter and shift+enter. Pasted text keeps its line breaks and is never sent by the paste itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from textual import events, work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from core.backends.base import WORKSPACE, DirEntry
from core.commands import VERBS

#: Lists a sandbox directory (workspace-relative or /workspace/...) for completion; None when it cannot.
Lister = Callable[[str], Awaitable[list[DirEntry] | None]]

_PATH_COMMAND = re.compile(
    r"\s*(?:(?:read|delete|info)[ \t]+file|list[ \t]+files):[ \t]*(?P<path>[^\"'\n]*)$"
    r"|\s*write[ \t]+file:[ \t]*(?P<wpath>[^\s\"']*)$",
    re.IGNORECASE,
)
MAX_CANDIDATES = 200


@dataclass(frozen=True)
class Completion:
    """What can replace ``before[start:]`` (the text before the cursor)."""

    start: int
    candidates: tuple[str, ...]

    def common(self) -> str:
        """The longest prefix every candidate shares."""
        if not self.candidates:
            return ""
        first, last = min(self.candidates), max(self.candidates)
        n = 0
        while n < min(len(first), len(last)) and first[n] == last[n]:
            n += 1
        return first[:n]


def verb_completion(before: str) -> Completion | None:
    """Command verbs that start with what was typed on an otherwise empty prompt."""
    head = before.lstrip()
    if not head or "\n" in head or ":" in head:
        return None
    start = len(before) - len(head)
    folded = re.sub(r"[ \t]+", " ", head.lower())
    found = tuple(verb for verb in VERBS if verb.startswith(folded))
    return Completion(start, found) if found else None


def path_prefix(before: str) -> tuple[int, str] | None:
    """(start, typed path) when the cursor is in the path of a command that takes one."""
    match = _PATH_COMMAND.match(before)
    if match is None:
        return None
    group = "path" if match.group("path") is not None else "wpath"
    return match.start(group), match.group(group)


def path_candidates(typed: str, entries: list[DirEntry]) -> tuple[str, ...]:
    """Entries of the typed path's directory whose names start with its last part, as full typed paths."""
    directory, slash, name = typed.rpartition("/")
    base = directory + slash
    names = sorted(e.name + ("/" if e.kind == "dir" else "") for e in entries if e.name.startswith(name))
    return tuple(base + n for n in names[:MAX_CANDIDATES])


def listing_dir(typed: str) -> str:
    """The directory to list for a typed path: workspace-relative, "" for the root."""
    directory = typed.rpartition("/")[0]
    if directory == WORKSPACE or directory.startswith(WORKSPACE + "/"):
        directory = directory[len(WORKSPACE):]
    return directory.strip("/")


class PathCache:
    """Directory listings for completion, kept until the workspace changes."""

    def __init__(self, lister: Lister) -> None:
        self._lister = lister
        self._known: dict[str, list[DirEntry]] = {}

    async def entries(self, directory: str) -> list[DirEntry]:
        if directory not in self._known:
            listed = await self._lister(directory)
            if listed is None:
                return []
            self._known[directory] = listed
        return self._known[directory]

    def invalidate(self) -> None:
        self._known.clear()


class PromptArea(TextArea):
    """A TextArea that sends on enter and remembers what was sent."""

    DEFAULT_CSS = """
    PromptArea { height: auto; min-height: 3; max-height: 10; border: tall $border-blurred; }
    PromptArea:focus { border: tall $border; }
    """
    # These keys are handled in _on_key, in order with the typed characters (see there); the bindings give them
    # their ids (remappable through the app's keymap), the footer and the help screen.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Send", id="prompt.send"),
        Binding("shift+enter,ctrl+j,alt+enter", "newline", "New line", id="prompt.newline", key_display="ctrl+j"),
        Binding("up", "history_previous", "Previous prompt", id="prompt.history_previous", show=False),
        Binding("down", "history_next", "Next prompt", id="prompt.history_next", show=False),
        Binding("tab", "complete", "Complete", id="prompt.complete", show=False),
    ]

    class Submitted(Message):
        """The person sent a non-empty prompt."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class CompletionsShown(Message):
        """Several completions fit: show them (an empty tuple hides them)."""

        def __init__(self, candidates: tuple[str, ...]) -> None:
            super().__init__()
            self.candidates = candidates

    def __init__(self, lister: Lister | None = None, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.paths = PathCache(lister) if lister is not None else None
        self.sent: list[str] = []  # what was sent, oldest first (TextArea.history is undo)
        self._history_index: int | None = None
        self._draft = ""
        self._shown: tuple[str, ...] = ()

    async def _on_key(self, event: events.Key) -> None:
        # A binding runs when the key reaches the app, which can be before the characters typed just ahead of it
        # are in the text (they wait in this widget's queue): a fast typist or tmux's send-keys would send half a
        # line. Handled here, the keys keep their order.
        action = self._key_actions().get(event.key)
        if action is None:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        await self.run_action(action)

    def _key_actions(self) -> dict[str, str]:
        keymap: Mapping[str, str] = getattr(self.app, "keymap", {})
        actions: dict[str, str] = {}
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id:
                for key in keymap.get(binding.id, binding.key).split(","):
                    actions[key.strip()] = binding.action
        return actions

    # -- sending ---------------------------------------------------------------------------------
    def action_submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._history_index = None
        self._draft = ""
        self.clear()
        self._show_candidates(())
        self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    # -- history ---------------------------------------------------------------------------------
    def action_history_previous(self) -> None:
        if self.cursor_location[0] > 0 or not self.sent:
            self.action_cursor_up()
            return
        if self._history_index is None:
            self._draft = self.text
            self._history_index = len(self.sent)
        self._history_index = max(0, self._history_index - 1)
        self._load(self.sent[self._history_index])

    def action_history_next(self) -> None:
        if self.cursor_location[0] < self.document.line_count - 1 or self._history_index is None:
            self.action_cursor_down()
            return
        self._history_index += 1
        if self._history_index >= len(self.sent):
            self._history_index = None
            self._load(self._draft)
        else:
            self._load(self.sent[self._history_index])

    def _load(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    # -- completion -------------------------------------------------------------------------------
    def action_complete(self) -> None:
        before = self.text_before_cursor()
        if verb_completion(before) is None and (self.paths is None or path_prefix(before) is None):
            self.screen.focus_next()  # nothing to complete here: tab moves on, as everywhere else
            return
        self._complete(before)

    @work(exclusive=True, group="complete", exit_on_error=False)
    async def _complete(self, before: str) -> None:
        found = verb_completion(before)
        prefix = path_prefix(before)
        if found is None and prefix is not None and self.paths is not None:
            start, typed = prefix
            entries = await self.paths.entries(listing_dir(typed))
            found = Completion(start, path_candidates(typed, entries))
        if found is None or self.text_before_cursor() != before:
            return  # nothing fits, or the person typed on meanwhile
        self._apply(before, found)

    def _apply(self, before: str, found: Completion) -> None:
        current = before[found.start:]
        common = found.common()
        if len(common) > len(current) and common.lower().startswith(current.lower()):
            start = _location(before, found.start)
            self.replace(common, start, self.cursor_location)
        self._show_candidates(found.candidates if len(found.candidates) > 1 else ())

    def _show_candidates(self, candidates: tuple[str, ...]) -> None:
        if candidates != self._shown:
            self._shown = candidates
            self.post_message(self.CompletionsShown(candidates))

    def text_before_cursor(self) -> str:
        """The prompt's text up to the cursor."""
        row, column = self.cursor_location
        lines = self.text.split("\n")
        return "\n".join([*lines[:row], lines[row][:column]])


def _location(text: str, index: int) -> tuple[int, int]:
    """(row, column) of ``text[index]``."""
    head = text[:index]
    return head.count("\n"), len(head) - (head.rfind("\n") + 1)
