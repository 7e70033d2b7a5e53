"""Symlink containment for the Daytona backend, and the toolbox's file facts in the project's own types.

Daytona's toolbox follows symlinks everywhere (its file info is ``os.stat``, uploads and downloads open the
path) and never reports a link as a link, so the toolbox alone cannot keep a path inside the workspace.
Instead every symlink in the workspace is known here: sandchat's own operations never create one, so only
code run in the sandbox can, and the in-sandbox runner lists them after every run (and at start-up). Paths
are then resolved locally, with the same rules as the local backend's ``ConfinedFiles``: a link is
followed by splicing its target into the path, ``..`` pops what was resolved so far, and a target that
leaves the workspace is refused with ``PathRejected``. The toolbox is only ever given the resolved path,
which by then contains no known link.

Absolute link targets are read as the code in the sandbox would mean them: the workspace's own path in the
sandbox, and ``/workspace`` (the path shown to users), both mean the workspace; anything else is outside.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.backends.base import WORKSPACE, DirEntry, EntryKind, FileInfo, display_path
from core.errors import BackendError, PathRejected

_MAX_LINKS = 40  # the kernel's own limit (ELOOP)
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(\.\d+)?")


@dataclass(frozen=True)
class Link:
    """One symlink in the workspace: where it points, and when it was made."""

    target: str
    modified: float


@dataclass(frozen=True)
class Resolved:
    """A path with every link followed: ``real`` is workspace-relative; ``link`` is set when the last
    component is itself a link that was deliberately not followed."""

    real: str
    link: Link | None = None


@dataclass
class LinkMap:
    """The workspace's symlinks by workspace-relative path, as the last scan in the sandbox found them."""

    workspace: str  # the workspace's absolute path inside the sandbox
    links: dict[str, Link] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # other absolute paths of the workspace, as the runner saw it
    complete: bool = True  # False when the scan gave up early (a huge workspace): then ask the sandbox

    def resolve(self, path: str, *, follow_last: bool) -> Resolved:
        """``path`` with links followed (the last one only with ``follow_last``); refuses ways out."""
        pending = [part for part in path.split("/") if part not in ("", ".")]
        stack: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if not stack:
                    raise PathRejected(path, "it leads outside the workspace")
                stack.pop()
                continue
            link = self.links.get("/".join([*stack, part]))
            if link is None or (not pending and not follow_last):
                stack.append(part)
                continue
            hops += 1
            if hops > _MAX_LINKS:
                raise BackendError(f"{display_path(path)}: too many levels of symbolic links")
            pending[:0] = self._splice(path, link.target, stack)
        real = "/".join(stack)
        return Resolved(real, None if follow_last else self.links.get(real))

    def _splice(self, path: str, target: str, stack: list[str]) -> list[str]:
        """The components of a link target; an absolute target restarts ``stack`` at the root."""
        if target.startswith("/"):
            roots = (self.workspace, WORKSPACE, *self.aliases)
            inside = next((i for root in roots if (i := _strip_prefix(target, root)) is not None), None)
            if inside is None:
                raise PathRejected(path, "a symlink points outside the workspace")
            stack.clear()
            target = inside
        parts = [part for part in target.split("/") if part not in ("", ".")]
        depth = len(stack)
        for part in parts:  # refuse early, with the clear message, when the target climbs above the root
            depth = depth - 1 if part == ".." else depth + 1
            if depth < 0:
                raise PathRejected(path, "a symlink points outside the workspace")
        return parts

    def absolute(self, real: str) -> str:
        """The sandbox path of a resolved workspace-relative path."""
        return f"{self.workspace}/{real}" if real else self.workspace

    def children(self, real_dir: str) -> dict[str, Link]:
        """The links directly inside directory ``real_dir``, by name."""
        prefix = f"{real_dir}/" if real_dir else ""
        inside = {p[len(prefix) :]: link for p, link in self.links.items() if p.startswith(prefix)}
        return {name: link for name, link in inside.items() if "/" not in name}

    def forget(self, real: str) -> None:
        """Drop ``real`` and everything under it (it was deleted)."""
        for key in [p for p in self.links if p == real or p.startswith(f"{real}/")]:
            del self.links[key]


def _strip_prefix(target: str, prefix: str) -> str | None:
    prefix = prefix.rstrip("/")
    if target == prefix:
        return ""
    return target[len(prefix) + 1 :] if target.startswith(prefix + "/") else None


def links_from(raw: Mapping[str, object]) -> dict[str, Link]:
    """Links as the runner reports them: ``{path: [target, mtime]}``."""
    links: dict[str, Link] = {}
    for path, value in raw.items():
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
            links[path] = Link(value[0], float(value[1]) if isinstance(value[1], int | float) else 0.0)
    return links


# --- the toolbox's FileInfo in our terms ---------------------------------------------------------------


def kind_of(mode: str, is_dir: bool) -> EntryKind:
    """The entry kind from Go's ``FileMode.String()`` (``-rw-r--r--``, ``drwx...``, ``Lrwx...``, ``prw...``)."""
    if is_dir or mode.startswith("d"):
        return "dir"
    if mode.startswith("L"):
        return "symlink"
    return "file" if mode.startswith("-") else "other"


def timestamp(text: str | None) -> float:
    """Seconds since the epoch from an RFC 3339 time (or Go's ``time.String()``); 0.0 if unreadable."""
    found = _RFC3339.match(text or "")
    if not found:
        return 0.0
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    fraction = float(found.group(7) or 0)
    offset = _utc_offset(text or "")
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + fraction - offset


def _utc_offset(text: str) -> int:
    zone = re.search(r"([+-])(\d\d):?(\d\d)(?:\s+\w+)?$", text.strip())
    if zone is None:
        return 0
    seconds = int(zone.group(2)) * 3600 + int(zone.group(3)) * 60
    return seconds if zone.group(1) == "+" else -seconds


def permissions(text: str | None, mode: str) -> int:
    """Permission bits from the toolbox's ``permissions`` ("0644"), else from the mode string."""
    try:
        return int(text or "", 8) & 0o7777
    except ValueError:
        bits = mode[-9:]
        return sum(1 << (8 - i) for i, char in enumerate(bits) if char not in "-") if len(bits) == 9 else 0


def file_info(path: str, info: object) -> FileInfo:
    """A FileInfo for workspace path ``path`` from the toolbox's FileInfo."""
    mode = str(getattr(info, "mode", ""))
    rel = path.strip("/")
    name = rel.rsplit("/", 1)[-1] if rel else WORKSPACE.lstrip("/")
    modified = timestamp(getattr(info, "modified_at", None) or getattr(info, "mod_time", None))
    return FileInfo(
        display_path(rel),
        name,
        kind_of(mode, bool(getattr(info, "is_dir", False))),
        int(getattr(info, "size", 0) or 0),
        modified,
        permissions(getattr(info, "permissions", None), mode),
    )


def link_info(path: str, link: Link) -> FileInfo:
    """A FileInfo for a symlink, as ``lstat`` would describe it."""
    rel = path.strip("/")
    size = len(link.target.encode())
    return FileInfo(display_path(rel), rel.rsplit("/", 1)[-1], "symlink", size, link.modified, 0o777)


def dir_entry(directory: str, name: str, info: object) -> DirEntry:
    """A listing entry from the toolbox's FileInfo."""
    mode = str(getattr(info, "mode", ""))
    rel = f"{directory.strip('/')}/{name}".lstrip("/")
    modified = timestamp(getattr(info, "modified_at", None) or getattr(info, "mod_time", None))
    kind = kind_of(mode, bool(getattr(info, "is_dir", False)))
    return DirEntry(name, display_path(rel), kind, int(getattr(info, "size", 0) or 0), modified)


def link_entry(directory: str, name: str, link: Link) -> DirEntry:
    """A listing entry for a symlink."""
    rel = f"{directory.strip('/')}/{name}".lstrip("/")
    return DirEntry(name, display_path(rel), "symlink", len(link.target.encode()), link.modified)


def written_info(path: str, size: int) -> FileInfo:
    """What an upload leaves behind: the daemon always writes mode 0644 (see the conformance README)."""
    rel = path.strip("/")
    return FileInfo(display_path(rel), rel.rsplit("/", 1)[-1], "file", size, time.time(), 0o644)
