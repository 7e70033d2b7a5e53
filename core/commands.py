r"""The command language: one typed, frozen object per command, parsed from and formatted to text.

This docstring is the reference for the syntax. The commands::

    read file:PATH
    write file:PATH content:DATA
    delete file:PATH
    list files:DIR             DIR may be empty: ``list files:`` lists the workspace root ("")
    info file:PATH
    run code:CODE              python
    run code[LANG]:CODE        LANG is [A-Za-z0-9_+-]+, read in lower case: ``run code[Bash]:ls``
    search web:QUERY

Words used below: *whitespace* is any character :meth:`str.isspace` accepts (space, tab, line breaks,
no-break space ...); a *line* ends at ``\n``.

Verbs
    Case-insensitive (``READ FILE:x``). The two words are separated by one or more spaces or tabs. The
    ``:`` (for ``run code``, the optional ``[LANG]`` and then the ``:``) follows the second word with
    nothing in between. Whitespace before the verb, blank lines included, is ignored.

PATH of read, delete, info and DIR of list
    Spaces and tabs after the ``:`` are skipped, then the path is one of:

    * double-quoted: ``"my notes.txt"``. Inside, ``\"`` is a quote and ``\\`` a backslash; any other
      backslash is kept as written (``"a\b"`` is ``a\b``). Any other character, line breaks included,
      stands for itself.
    * single-quoted: ``'my notes.txt'``. Every character up to the next ``'`` is literal; no escapes,
      so such a path cannot contain ``'``.
    * bare: the rest of the line with surrounding whitespace trimmed, so it may hold inner spaces
      (``read file: my notes.txt`` reads ``my notes.txt``) and quotes after its first character.

    After the path only whitespace may follow, up to the end of the text: ``read file:"a" b`` and a
    second line of text after a bare path are errors. An empty path is an error, except for
    ``list files:`` where it means the workspace root. Paths are checked for syntax only; whether a
    path is allowed is the validator's business (core/security), so NUL and ``..`` pass through here.

PATH of write
    Quoted as above, or bare up to the first whitespace (``write file:my notes.txt`` is the path ``my``
    followed by junk). Then optional whitespace, line breaks included, then ``content:``
    (case-insensitive). Anything else between the path and ``content:`` is an error.

DATA and CODE
    Everything after ``content:`` (or after the ``:`` of ``run code``) to the end of the text, verbatim:
    any characters, line breaks, quotes, NUL, further ``content:`` text. Exactly one separator directly
    after the colon is dropped: a single space, or a single line break (``\n`` or ``\r\n``). So
    ``content: hello`` and ``content:\nhello`` both mean ``hello``; ``content:  hi`` means `` hi``.
    Nothing else is trimmed, trailing whitespace and newlines included. Empty DATA is allowed (an empty
    file); CODE that is empty or only whitespace is an error ("nothing to run").

QUERY
    The rest of the text with surrounding whitespace trimmed; it may not be empty; inner line breaks stay.

Formatting
    :func:`format_command` writes canonical text: lower-case verbs, a single space before ``content:``,
    no ``[python]``, bare paths where that reads back identically, otherwise ``"..."`` with ``\`` and
    ``"`` escaped, and a space after ``content:``/``code:`` when DATA or CODE starts with whitespace, so
    the dropped separator restores it. For every command, ``parse(format_command(cmd))`` either equals
    ``cmd`` or raises :class:`CommandSyntaxError`; it never yields a different command. format_command
    itself never raises: a command the grammar cannot express (empty path, blank code, a language
    outside the grammar, an empty query) gets text that parse rejects, e.g. ``read file:""``. A query
    with surrounding whitespace is written trimmed and so reads back trimmed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, assert_never

from core.errors import ValidationError


@dataclass(frozen=True)
class ReadFile:
    """``read file:PATH``"""

    path: str
    tool: ClassVar[str] = "read_file"


@dataclass(frozen=True)
class WriteFile:
    """``write file:PATH content:DATA``"""

    path: str
    content: str
    tool: ClassVar[str] = "write_file"


@dataclass(frozen=True)
class DeleteFile:
    """``delete file:PATH``"""

    path: str
    tool: ClassVar[str] = "delete_file"


@dataclass(frozen=True)
class ListFiles:
    """``list files:DIR``"""

    directory: str
    tool: ClassVar[str] = "list_files"


@dataclass(frozen=True)
class GetFileInfo:
    """``info file:PATH``"""

    path: str
    tool: ClassVar[str] = "get_file_info"


@dataclass(frozen=True)
class RunCode:
    """``run code:CODE`` or ``run code[LANG]:CODE``; python is the default language."""

    code: str
    language: str = "python"
    tool: ClassVar[str] = "execute_code"


@dataclass(frozen=True)
class SearchWeb:
    """``search web:QUERY``"""

    query: str
    tool: ClassVar[str] = "search_web"


Command = ReadFile | WriteFile | DeleteFile | ListFiles | GetFileInfo | RunCode | SearchWeb

VERBS: tuple[str, ...] = (
    "read file:",
    "write file:",
    "delete file:",
    "list files:",
    "info file:",
    "run code:",
    "search web:",
)

_EXPECTED_VERB = "one of " + ", ".join(f"`{verb}`" for verb in VERBS)
_VERB_RE = re.compile(r"([A-Za-z]+)[ \t]+([A-Za-z]+)")
_LANGUAGE_RE = re.compile(r"[A-Za-z0-9_+-]*")
_CANONICAL_LANGUAGE_RE = re.compile(r"[a-z0-9_+-]+")
_DOUBLE_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE_RE = re.compile(r'\\(["\\])')
_CONTENT_RE = re.compile(r"\s*content:", re.IGNORECASE | re.ASCII)
_BARE_WORD_RE = re.compile(r"\S+")
_SPACE_OR_TAB_RE = re.compile(r"[ \t]*")
_WHITESPACE_RE = re.compile(r"\s*")
_PRETTY_WIDTH = 76
_BodyParser = Callable[[str, int], Command]
_MAX_SUGGESTION_DISTANCE = 2


class CommandSyntaxError(ValidationError):
    """Command text that does not follow the grammar: where it went wrong and what was expected there."""

    def __init__(
        self, problem: str, *, text: str, column: int, expected: str, suggestion: str | None = None
    ) -> None:
        hint = f"did you mean `{suggestion}`?" if suggestion else ""
        super().__init__(f"{problem} at column {column}: expected {expected}", field="command", hint=hint)
        self.problem = problem
        self.text = text
        self.column = column
        self.expected = expected
        self.suggestion = suggestion

    def pretty(self) -> str:
        """The problem, the offending input line, a caret under the column and any suggestion."""
        first = f"{self.problem}: expected {self.expected}"
        line_number = self.text.count("\n", 0, self.column) + 1
        if line_number > 1:
            first += f" (line {line_number})"
        lines = [first, *_caret_lines(self.text, self.column)]
        if self.suggestion:
            lines.append(f"did you mean `{self.suggestion}`?")
        return "\n".join(lines)


def _caret_lines(text: str, column: int) -> tuple[str, str]:
    """The line holding ``column`` (clipped, made printable) and a caret line that lines up under it."""
    start = text.rfind("\n", 0, column) + 1
    end = text.find("\n", column)
    line, col = _clip(text[start : end if end >= 0 else len(text)], column - start)
    shown = "".join(ch if ch == "\t" or ch.isprintable() else "\N{REPLACEMENT CHARACTER}" for ch in line)
    pad = "".join(_blank_like(ch) for ch in shown[:col])
    return shown, pad + "^"


def _blank_like(ch: str) -> str:
    """Blank space as wide as ``ch`` on a terminal, so the caret stays in its column."""
    if ch == "\t":
        return "\t"
    return "  " if unicodedata.east_asian_width(ch) in "WF" else " "


def _clip(line: str, col: int) -> tuple[str, int]:
    """Cut a long line down to a window around ``col``, marking the cuts with an ellipsis."""
    if len(line) <= _PRETTY_WIDTH:
        return line, col
    start = max(0, min(col - _PRETTY_WIDTH // 2, len(line) - _PRETTY_WIDTH))
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + _PRETTY_WIDTH < len(line) else ""
    return prefix + line[start : start + _PRETTY_WIDTH] + suffix, col - start + len(prefix)


# -- parsing ---------------------------------------------------------------------------------------


def parse(text: str) -> Command:
    """Read one command from ``text``; raises CommandSyntaxError naming the column and what was expected."""
    verb, end = _parse_verb(text, _skip(_WHITESPACE_RE, text, 0))
    language = "python"
    if verb == "run code:" and text.startswith("[", end):
        language, end = _parse_language(text, end)
    if not text.startswith(":", end):
        raise CommandSyntaxError(
            f"`{verb[:-1]}` is not followed by `:`", text=text, column=end, expected="`:`", suggestion=verb
        )
    if verb == "run code:":
        return _parse_run(text, end + 1, language)
    return _BODY_PARSERS[verb](text, end + 1)


def _parse_verb(text: str, start: int) -> tuple[str, int]:
    """The verb (as spelled in VERBS) starting at ``start`` and the index just after its second word."""
    if start == len(text):
        raise CommandSyntaxError("empty command", text=text, column=start, expected=_EXPECTED_VERB)
    match = _VERB_RE.match(text, start)
    if match:
        verb = f"{match[1].lower()} {match[2].lower()}:"
        if verb in VERBS:
            return verb, match.end()
    head = _command_head(text, start)
    raise CommandSyntaxError(
        f"unknown command {head!r}", text=text, column=start, expected=_EXPECTED_VERB,
        suggestion=_nearest_verb(head),
    )


def _parse_language(text: str, bracket: int) -> tuple[str, int]:
    """``[LANG]`` at ``bracket``: the language in lower case and the index after the ``]``."""
    name_end = _skip(_LANGUAGE_RE, text, bracket + 1)
    name = text[bracket + 1 : name_end]
    if not name:
        raise CommandSyntaxError(
            "missing language in `run code[...]`", text=text, column=name_end,
            expected="a language such as `python`, `bash` or `node`",
        )
    if not text.startswith("]", name_end):
        raise CommandSyntaxError(
            "unexpected character in language name", text=text, column=name_end,
            expected="`]` after the language (letters, digits, `_`, `+`, `-`)",
        )
    return name.lower(), name_end + 1


def _parse_run(text: str, body: int, language: str) -> RunCode:
    code = _verbatim_after(text, body)
    if not code.strip():
        raise CommandSyntaxError(
            "nothing to run", text=text, column=body, expected="code after `run code:`"
        )
    return RunCode(code, language)


def _parse_search(text: str, body: int) -> SearchWeb:
    query = text[body:].strip()
    if not query:
        raise CommandSyntaxError(
            "empty search", text=text, column=body, expected="a query after `search web:`"
        )
    return SearchWeb(query)


def _parse_write(text: str, body: int) -> WriteFile:
    start = _skip(_SPACE_OR_TAB_RE, text, body)
    if text.startswith(('"', "'"), start):
        path, end = _parse_quoted(text, start)
    else:
        word = _BARE_WORD_RE.match(text, start)
        path, end = (word[0], word.end()) if word else ("", start)
    if not path:
        raise _missing_path(text, start, "write file:")
    content = _CONTENT_RE.match(text, end)
    if content is None:
        raise CommandSyntaxError(
            "missing `content:` after the path", text=text, column=_next_non_blank(text, end),
            expected="`content:`",
        )
    return WriteFile(path, _verbatim_after(text, content.end()))


def _path_parser(verb: str, make: Callable[[str], Command], *, allow_empty: bool = False) -> _BodyParser:
    """A parser for the text after ``verb`` of a command whose only argument is one path."""

    def parse_body(text: str, body: int) -> Command:
        start = _skip(_SPACE_OR_TAB_RE, text, body)
        if text.startswith(('"', "'"), start):
            path, end = _parse_quoted(text, start)
        else:
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            path = text[start:end].strip()
        if not path and not allow_empty:
            raise _missing_path(text, start, verb)
        if text[end:].strip():
            raise CommandSyntaxError(
                "unexpected text after the path", text=text, column=_next_non_blank(text, end),
                expected="the end of the command",
            )
        return make(path)

    return parse_body


def _parse_quoted(text: str, quote: int) -> tuple[str, int]:
    """The quoted path opening at ``quote`` (escapes resolved) and the index after the closing quote."""
    if text[quote] == "'":
        close = text.find("'", quote + 1)
        if close >= 0:
            return text[quote + 1 : close], close + 1
    else:
        match = _DOUBLE_QUOTED_RE.match(text, quote)
        if match:
            return _ESCAPE_RE.sub(r"\1", match[1]), match.end()
    raise CommandSyntaxError(
        "unterminated quote", text=text, column=quote, expected=f"a closing {text[quote]} for this quote"
    )


def _verbatim_after(text: str, colon_end: int) -> str:
    """DATA or CODE: the rest of the text, minus one space or one line break right after the colon."""
    for separator in (" ", "\r\n", "\n"):
        if text.startswith(separator, colon_end):
            return text[colon_end + len(separator) :]
    return text[colon_end:]


def _skip(pattern: re.Pattern[str], text: str, index: int) -> int:
    """The index after what ``pattern`` matches at ``index`` (patterns here may match nothing)."""
    match = pattern.match(text, index)
    return match.end() if match else index


def _next_non_blank(text: str, index: int) -> int:
    """Index of the first non-whitespace character from ``index``; the end of the text if there is none."""
    end = _skip(_WHITESPACE_RE, text, index)
    return index if end == len(text) else end


def _missing_path(text: str, column: int, verb: str) -> CommandSyntaxError:
    return CommandSyntaxError(
        f"missing path after `{verb}`", text=text, column=column,
        expected=f"a path, e.g. `{verb}notes.txt`",
    )


_BODY_PARSERS: dict[str, _BodyParser] = {
    "read file:": _path_parser("read file:", ReadFile),
    "write file:": _parse_write,
    "delete file:": _path_parser("delete file:", DeleteFile),
    "list files:": _path_parser("list files:", ListFiles, allow_empty=True),
    "info file:": _path_parser("info file:", GetFileInfo),
    "search web:": _parse_search,
}


# -- suggestions -----------------------------------------------------------------------------------


def _command_head(text: str, start: int) -> str:
    """What the user wrote in place of a verb: up to the first ``:`` on the line, or the first two words."""
    line = text[start : start + 200].split("\n", 1)[0]
    colon = line.find(":")
    head = line[: colon + 1] if colon >= 0 else " ".join(line.split()[:2])
    return head[:40]


def _nearest_verb(head: str) -> str | None:
    """The verb the user most likely meant, or None when nothing is close."""
    words = re.sub(r"\[[^\]]*\]|:", " ", head).lower().split()
    if not words:
        return None
    for verb in VERBS:
        if verb.split()[0] == words[0]:
            return verb
    key = " ".join(words) + ":"
    distance, verb = min((_edit_distance(key, verb), verb) for verb in VERBS)
    return verb if distance <= _MAX_SUGGESTION_DISTANCE else None


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): insertions, deletions, substitutions, swaps."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                row[j] = min(row[j], before[j - 2] + 1)
        before, previous = previous, row
    return previous[-1]


# -- formatting ------------------------------------------------------------------------------------


def format_command(cmd: Command) -> str:
    """Canonical text for ``cmd``; parse() reads it back as ``cmd`` or rejects it, never as another one."""
    match cmd:
        case ReadFile(path) | DeleteFile(path) | GetFileInfo(path):
            return f"{_VERB_OF[type(cmd)]}{_format_path(path)}"
        case ListFiles(directory):
            return f"list files:{_format_path(directory) if directory else ''}"
        case WriteFile(path, content):
            return f"write file:{_format_path(path)} content:{_separated(content)}"
        case RunCode(code, language):
            return f"run code{_format_language(language)}:{_separated(code)}"
        case SearchWeb(query):
            return f"search web:{query.strip()}"
        case _:
            assert_never(cmd)


_VERB_OF: dict[type, str] = {ReadFile: "read file:", DeleteFile: "delete file:", GetFileInfo: "info file:"}


def _format_path(path: str) -> str:
    """The path bare when it reads back identically that way, else double-quoted with escapes."""
    if path and not path.startswith(("'", '"')) and not any(ch.isspace() or ch in "\"'\\" for ch in path):
        return path
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_language(language: str) -> str:
    if language == "python":
        return ""
    if _CANONICAL_LANGUAGE_RE.fullmatch(language):
        return f"[{language}]"
    # repr() starts with a quote, which no language name may contain, so parse() rejects the text
    # instead of reading a different command out of a hostile language string.
    return f"[{language!r}]"


def _separated(data: str) -> str:
    """DATA or CODE after its colon: add the one space parse() drops when the data starts with whitespace."""
    return f" {data}" if data.startswith((" ", "\t", "\r", "\n")) else data
