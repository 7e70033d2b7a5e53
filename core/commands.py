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
    ``cmd`` or raises :class:`CommandSyntaxError`; it never yields a different command. It raises when
    the grammar cannot express the command (empty path, blank code, a language outside the grammar, an
    empty query). A query with surrounding whitespace is written trimmed and so reads back trimmed.
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
