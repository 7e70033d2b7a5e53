"""The config file on disk: reading it (every failure a ConfigError with a line), finding a key's line, and
writing it atomically so a crash or a full disk never leaves half a file behind."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config_model import Config, ConfigError, config_from_toml

_HEADER = re.compile(r"\s*\[(\[?)([^\[\]]+)\]\]?\s*(?:#.*)?$")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_KEY_PARTS = re.compile(r"([^.\[]+)(?:\.([^.\[]+))?(?:\[(\d+)\])?(?:\.(\w+))?")
_UNREADABLE_HINT = "sandchat needs a readable UTF-8 TOML file here; move this one aside or fix it"


def read_toml(path: Path) -> tuple[dict[str, Any], str] | None:
    """The parsed file and its text, or None when there is no file; any other failure is a ConfigError."""
    text = _read_text(path)
    if text is None:
        return None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        line, column, detail = _toml_position(error, text)
        where = f" (column {column})" if column else ""
        problem = f"not valid TOML: {detail}{where}"
        hint = "fix the file; the TOML syntax is at https://toml.io"
        raise ConfigError(problem, file=path, line=line, expected="valid TOML", hint=hint) from None


def read_config_file(path: Path) -> Config | None:
    """The file's own settings, validated (no environment overrides); None when there is no file."""
    parsed = read_toml(path)
    if parsed is None:
        return None
    return config_from_parsed(path, *parsed)


def config_from_parsed(path: Path, data: dict[str, Any], text: str) -> Config:
    """Validate parsed TOML, placing any error at the line of its key in ``text``."""
    try:
        return config_from_toml(data)
    except ConfigError as error:
        raise error.located(file=path, line=find_line(text, error.key)) from None


def _read_text(path: Path) -> str | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=path, hint=_UNREADABLE_HINT) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"cannot be read: {reason}", file=path, hint=_UNREADABLE_HINT) from None
    try:
        # Notepad and friends write a byte-order mark that tomllib would call a syntax error
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        problem = f"is not UTF-8 text (byte {error.start} is {raw[error.start]:#04x})"
        raise ConfigError(problem, file=path, line=line, hint="save the file as UTF-8") from None


def _toml_position(error: tomllib.TOMLDecodeError, text: str) -> tuple[int | None, int | None, str]:
    """Line, column and the message without its position (Python 3.14 has attributes; 3.11 only the text)."""
    message = str(error)
    if message.endswith("(at end of document)"):
        return text.count("\n") + 1, None, message.removesuffix("(at end of document)").rstrip()
    match = _TOML_POSITION.search(message)
    if match is None:
        return getattr(error, "lineno", None), getattr(error, "colno", None), message
    return int(match[1]), int(match[2]), message[: match.start()]


@dataclass
class _Block:
    """A run of lines under one table header ("" for the lines before the first header)."""

    name: str
    is_array: bool
    line: int | None
    body: list[tuple[int, str]] = field(default_factory=list)


def find_line(text: str, key: str) -> int | None:
    """Best effort: the line that sets ``key`` (``local.timeout``, ``assistant.rules[1].action``, ``local``).

    Falls back to the line of the key's section; None when neither is found (an error then names no line).
    """
    parts = _KEY_PARTS.match(key)  # a prefix is enough: "daytona.labels['x']" is found as daytona.labels
    if parts is None:
        return None
    section, name, index, sub = parts[1], parts[2], parts[3], parts[4]
    blocks = _blocks(text)
    if name is None:
        return _section_line(blocks, section)
    table = f"{section}.{name}"
    arrays = [block for block in blocks if block.is_array and block.name == table]
    if index is not None and int(index) < len(arrays):
        return (_assignment(arrays[int(index)], sub) if sub else None) or arrays[int(index)].line
    for block in blocks:
        if block.name == section and (number := _assignment(block, name)):
            return number
        if block.name == table:
            return block.line
        if block.name == "" and (number := _assignment(block, table)):
            return number
    return _section_line(blocks, section)


def _blocks(text: str) -> list[_Block]:
    blocks = [_Block("", False, None)]
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            # `[ "local" ]` and `[local]` are the same table
            blocks.append(_Block(re.sub(r"[\s\"']", "", header[2]), bool(header[1]), number))
        else:
            blocks[-1].body.append((number, line))
    return blocks


def _section_line(blocks: list[_Block], section: str) -> int | None:
    for block in blocks:
        if block.name == section or block.name.startswith(section + "."):
            return block.line
        if block.name == "" and (number := _assignment(block, section)):
            return number
    return None


def _assignment(block: _Block, dotted: str) -> int | None:
    """The first line of ``block`` that assigns ``dotted`` (quoted or not, or a dotted key below it)."""
    names = r"\s*\.\s*".join(rf"[\"']?{re.escape(part)}[\"']?" for part in dotted.split("."))
    pattern = re.compile(rf"\s*{names}\s*[=.]")
    return next((number for number, line in block.body if pattern.match(line)), None)
