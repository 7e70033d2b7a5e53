"""Workspace paths: turn what the user or the AI wrote into a safe workspace-relative path, or refuse it.

``PathPolicy.normalize`` accepts relative paths (``notes.txt``, ``./src/app.py``, ``a//b``, ``a/b/../c``) and
absolute paths under ``/workspace``, and returns a workspace-relative POSIX path: no leading or trailing
slash, no ``.`` or ``..`` names, ``""`` for the workspace root. Anything else raises ``PathRejected`` with
the reason; a path is never clamped into the workspace, because a silently changed path acts on a file
nobody asked for.

Decisions, each for a reason:

- ``..`` is resolved by name (``a/b/../c`` is ``a/c``) and refused once it would climb above the root, even
  if a later name would climb back in. Symlinks are not looked at here: the backend resolves the real path
  and checks it with ``is_within``.
- A backslash is refused rather than taken as a character: ``\\`` is not a separator here, but ``..\\`` is
  how Windows traversal is written, and a name with a backslash in it is almost always a mistake.
- Percent-encoding is never decoded, but a path that *would* decode to ``.``, ``/``, ``\\`` or NUL, or that
  holds an overlong UTF-8 form (``%c0%ae``), double encoding (``%252e``) or IIS ``%u002e`` escapes, is an
  encoded traversal attempt and is refused as "percent-encoded path". A real file name rarely has these;
  ``100%.txt`` or ``%41.txt`` pass.
- Names whose compatibility form (NFKC) is ``.`` or ``..`` or holds a slash (``．．``, ``‥``, ``／``) are
  refused: a system that normalises Unicode would read them as traversal. ``...`` and ``…`` are fine names.
- Control characters (C0, DEL, C1), line/paragraph separators and bidirectional-text controls are refused:
  they hide or reorder what the user sees. ``~`` is refused at the start because home expansion is not done.
  ``C:`` as the first name is a Windows drive, and ``//server`` is the system root here, not a share.
- ``max_path_length`` limits the UTF-8 bytes of the input and of the absolute path the sandbox sees
  (``/workspace/...``); ``max_name_length`` limits each name.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass

from core.backends.base import WORKSPACE, display_path
from core.errors import PathRejected
from core.security.sanitize import CONTROL_CHARS, describe_control_char

__all__ = ["PathPolicy", "is_within"]

_WORKSPACE_NAME = WORKSPACE.strip("/")
_DRIVE_AT_START = re.compile(r"[A-Za-z]:(?:[\\/]|$)")
_DRIVE_NAME = re.compile(r"[A-Za-z]:")
_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_PERCENT_UNICODE = re.compile(r"%[uU][0-9A-Fa-f]{4}")
# Decoded bytes that make a percent escape an attack: '.', '/', '\', NUL, bytes that never start valid UTF-8
# (C0, C1, F5-FF: overlong two-byte and five/six-byte forms) and overlong three- and four-byte forms.
_SUSPICIOUS_BYTES = re.compile(rb"[\x00./\\\xc0\xc1\xf5-\xff]|\xe0[\x80-\x9f]|\xf0[\x80-\x8f]")
_DECODE_ROUNDS = 4
_BACKSLASH = "contains a backslash: '\\' is not a separator here, and '..\\' is Windows-style traversal"
_PERCENT = "percent-encoded path: escapes such as %2e, %2f, %5c or %c0%ae are refused"


def _decode_percent_run(match: re.Match[str]) -> str:
    return bytes.fromhex(match.group().replace("%", "")).decode("latin-1")


def _is_percent_encoded_attack(path: str) -> bool:
    """True when decoding percent escapes, in up to a few rounds, yields a traversal character or form."""
    text = path
    for _ in range(_DECODE_ROUNDS):
        if "%" not in text:
            return False
        if _PERCENT_UNICODE.search(text):
            return True
        runs = [bytes.fromhex(run.replace("%", "")) for run in _PERCENT_RUN.findall(text)]
        if not runs:
            return False
        if any(_SUSPICIOUS_BYTES.search(run) for run in runs):
            return True
        text = _PERCENT_RUN.sub(_decode_percent_run, text)
    return bool(_PERCENT_RUN.search(text))  # still encoded after several rounds: nobody names a file so


def _lookalike(name: str) -> str:
    """The first character of ``name`` that NFKC turns into '.', '/' or '\\' when that makes it unsafe."""
    if name.isascii():
        return ""
    folded = unicodedata.normalize("NFKC", name)
    if folded not in (".", "..") and "/" not in folded and "\\" not in folded:
        return ""
    for char in name:
        if not char.isascii() and any(c in unicodedata.normalize("NFKC", char) for c in "./\\"):
            return char
    return ""  # pragma: no cover - a fold to '.', '/' or '\' always has such a character


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class PathPolicy:
    """Validates and normalises paths to workspace-relative POSIX form; refuses, never clamps."""

    max_path_length: int = 4096  # UTF-8 bytes, of the input and of /workspace/<result>
    max_name_length: int = 255  # UTF-8 bytes of one name

    def normalize(self, path: str, *, allow_root: bool = False) -> str:
        """The workspace-relative form of ``path`` ("" is the root, allowed only with ``allow_root``).

        Raises PathRejected naming the reason. Listing a directory passes ``allow_root=True``; reading,
        writing and deleting leave it False, so a forgotten flag refuses the root instead of acting on it.
        """
        self._check_text(path)
        names = _resolve(path, _split(path))
        self._check_names(path, names)
        rel = "/".join(names)
        if len(display_path(rel).encode("utf-8")) > self.max_path_length:
            raise PathRejected(_clip(path), f"longer than {self.max_path_length} bytes as {WORKSPACE}/...")
        if not rel and not allow_root:
            reason = "empty path" if not path else "names the workspace root itself, not a file in it"
            raise PathRejected(path, reason)
        return rel

    def display(self, rel: str) -> str:
        """The path as the user sees it, ``/workspace/...``."""
        return display_path(rel)

    def _check_text(self, path: str) -> None:
        """Refuse by character: length, encoding, control characters, backslash, percent escapes, '~'."""
        if len(path) > self.max_path_length:
            raise PathRejected(_clip(path), f"longer than {self.max_path_length} bytes")
        try:
            size = len(path.encode("utf-8"))
        except UnicodeEncodeError:
            raise PathRejected(path, "not valid Unicode (it holds a lone surrogate)") from None
        if size > self.max_path_length:
            raise PathRejected(_clip(path), f"longer than {self.max_path_length} bytes")
        control = CONTROL_CHARS.search(path)
        if control:
            what = describe_control_char(control.group())
            raise PathRejected(path, f"contains a {what} at position {control.start()}")
        if _DRIVE_AT_START.match(path):
            raise PathRejected(path, "Windows drive letter: paths here are POSIX paths inside /workspace")
        if "\\" in path:
            raise PathRejected(path, _BACKSLASH)
        if _is_percent_encoded_attack(path):
            raise PathRejected(path, _PERCENT)
        if path.startswith("~"):
            raise PathRejected(path, "starts with '~': home-directory expansion is not done here")

    def _check_names(self, path: str, names: list[str]) -> None:
        """Refuse by name: length, Unicode look-alikes of '.' and '/', and first names that read as roots."""
        for name in names:
            if len(name.encode("utf-8")) > self.max_name_length:
                limit = self.max_name_length
                raise PathRejected(path, f"the name {_clip(name)!r} is longer than {limit} bytes")
            char = _lookalike(name)
            if char:
                code = f"U+{ord(char):04X}"
                raise PathRejected(path, f"the name {name!r} holds {code}, a look-alike of '.', '/' or '\\'")
        # Checked on the result too, so that normalize() of its own output gives the same answer.
        if names and names[0].startswith("~"):
            raise PathRejected(path, "starts with '~': home-directory expansion is not done here")
        if names and _DRIVE_NAME.fullmatch(names[0]):
            raise PathRejected(path, "Windows drive letter: paths here are POSIX paths inside /workspace")


def _split(path: str) -> list[str]:
    """The names of ``path`` relative to the workspace root; an absolute path must start with /workspace."""
    if not path.startswith("/"):
        return path.split("/")
    parts = path.split("/")
    for index, name in enumerate(parts):
        if name in ("", "."):
            continue
        if name == _WORKSPACE_NAME:
            return parts[index + 1 :]
        break
    if path.startswith("//") and not path.startswith("///"):
        raise PathRejected(path, f"absolute path outside {WORKSPACE} ('//' is '/' here, not a share)")
    raise PathRejected(path, f"absolute path outside {WORKSPACE}")


def _resolve(path: str, parts: list[str]) -> list[str]:
    """Drop empty and '.' names and apply '..'; refuse the first '..' that would climb above the root."""
    names: list[str] = []
    for name in parts:
        if name in ("", "."):
            continue
        if name != "..":
            names.append(name)
        elif names:
            names.pop()
        else:
            raise PathRejected(path, "goes above the workspace root with '..'")
    return names


def is_within(root: str | os.PathLike[str], candidate: str | os.PathLike[str]) -> bool:
    """True when ``candidate``, symlinks resolved, is ``root`` or under it (compared by path components).

    For backends: call it on the joined real path before opening. A relative ``candidate`` is resolved
    against the current directory, not ``root``, so join first.
    """
    real_root = os.path.realpath(root)
    real_candidate = os.path.realpath(candidate)
    try:
        return os.path.commonpath([real_root, real_candidate]) == real_root
    except ValueError:  # different drives on Windows
        return False
