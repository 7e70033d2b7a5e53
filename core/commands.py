"""The command language: one typed, frozen object per command, parsed from and formatted to text.

(The parser and formatter are added below the types.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


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
