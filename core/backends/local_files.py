"""File operations confined to one workspace directory, safe against symlinks and races.

Sandboxed code can create any symlink it likes in the workspace, and it may run while the app (possibly as
root) reads or writes files there. A path check followed by an ``open()`` would therefore be a race: the
code could swap a directory for a link to ``/etc`` in between. So nothing here lets the kernel follow a
symlink. Every component is opened relative to the already-open parent directory with ``O_NOFOLLOW``, and a
symlink is followed only by reading it and walking its target the same way. ``..`` pops our own stack of
open directories rather than asking the filesystem, so even a directory moved away mid-walk cannot lead
out. A link whose target leaves the root is refused with ``PathRejected``; links that stay inside work.

Absolute link targets are read the way the sandboxed code sees them: ``/workspace/...`` (and the host path
of the workspace) mean the workspace; anything else is outside.

The methods are blocking; ``LocalSandbox`` calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from core.backends.base import WORKSPACE, DirEntry, EntryKind, FileInfo, display_path
from core.errors import BackendError, FileTooLarge, NotFound, PathRejected

_MAX_LINKS = 40  # the kernel's own limit (ELOOP)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _kind(mode: int) -> EntryKind:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


@dataclass
class _Located:
    """Where a path ended up: an open parent directory and a final name ("" means the directory itself)."""

    dir_fd: int
    name: str


class ConfinedFiles:
    """Blocking file operations on ``root``; every path is workspace-relative and already validated."""

    def __init__(self, root: Path, *, owner: int | None = None) -> None:
        self.root = Path(os.path.realpath(root))  # opened with O_NOFOLLOW, so no link in the root's own path
        self._owner = owner  # uid (and gid) given to everything we create; set when running as root

    # --- operations -------------------------------------------------------------------------------------

    def read(self, path: str, max_bytes: int) -> bytes:
        with self._locate(path, follow_last=True) as where:
            if not where.name:
                raise BackendError(f"{display_path(path)} is a directory")
            # O_NONBLOCK: a FIFO planted by sandboxed code must not hang the read.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            fd = self._open(path, where, flags)
            try:
                info = os.fstat(fd)
                self._require_file(path, info.st_mode)
                if info.st_size > max_bytes:
                    raise FileTooLarge(info.st_size, max_bytes, what=display_path(path))
                os.set_blocking(fd, True)
                data = _read_up_to(fd, max_bytes + 1)  # the file may grow after the fstat
            finally:
                os.close(fd)
        if len(data) > max_bytes:
            raise FileTooLarge(len(data), max_bytes, what=display_path(path))
        return data

    def write(self, path: str, content: bytes) -> FileInfo:
        with self._locate(path, follow_last=True, create_parents=True) as where:
            if not where.name:
                raise BackendError(f"{display_path(path)} is a directory")
            mode = 0o644
            with suppress(FileNotFoundError):
                current = os.stat(where.name, dir_fd=where.dir_fd, follow_symlinks=False)
                if stat.S_ISDIR(current.st_mode):
                    raise BackendError(f"{display_path(path)} is a directory")
                if stat.S_ISREG(current.st_mode):
                    mode = stat.S_IMODE(current.st_mode)  # an overwrite keeps the file's permissions
            self._replace_atomically(where, content, mode)
            info = os.stat(where.name, dir_fd=where.dir_fd, follow_symlinks=False)
        return _file_info(path, info)

    def delete(self, path: str) -> None:
        if not path.strip("/"):
            raise BackendError("the workspace root cannot be deleted")
        with self._locate(path, follow_last=False) as where:
            info = self._lstat(path, where)
            try:
                if stat.S_ISDIR(info.st_mode):
                    os.rmdir(where.name, dir_fd=where.dir_fd)
                else:
                    os.unlink(where.name, dir_fd=where.dir_fd)  # a symlink goes, never its target
            except OSError as exc:
                if exc.errno == errno.ENOTEMPTY:
                    raise BackendError(f"{display_path(path)}: directory not empty") from exc
                raise _translate(path, exc) from exc

    def listdir(self, directory: str) -> list[DirEntry]:
        with self._locate(directory, follow_last=True) as where:
            if where.name and not stat.S_ISDIR(self._lstat(directory, where).st_mode):
                raise BackendError(f"{display_path(directory)} is not a directory")
            fd = os.dup(where.dir_fd) if not where.name else self._open(directory, where, _DIR_FLAGS)
            try:
                entries = [self._entry(directory, entry) for entry in os.scandir(fd)]
            finally:
                os.close(fd)
        return sorted(entries, key=lambda e: (e.kind != "dir", e.name))

    def info(self, path: str) -> FileInfo:
        with self._locate(path, follow_last=False) as where:
            info = os.fstat(where.dir_fd) if not where.name else self._lstat(path, where)
        return _file_info(path, info)

    def claim(self, fd: int) -> None:
        """Give a file or directory we created to the sandbox user, so code can change it later."""
        if self._owner is not None:
            os.fchown(fd, self._owner, self._owner)

    # --- walking ----------------------------------------------------------------------------------------

    @contextmanager
    def _locate(self, path: str, *, follow_last: bool, create_parents: bool = False) -> Iterator[_Located]:
        """Walk ``path`` from the root; yield the open parent directory and the final name."""
        stack = [os.open(self.root, _DIR_FLAGS)]
        try:
            yield self._walk(path, stack, follow_last=follow_last, create_parents=create_parents)
        finally:
            for fd in stack:
                os.close(fd)

    def _walk(self, path: str, stack: list[int], *, follow_last: bool, create_parents: bool) -> _Located:
        pending = [part for part in path.split("/") if part not in ("", ".")]
        links = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if len(stack) == 1:
                    raise PathRejected(path, "it leads outside the workspace")
                os.close(stack.pop())
                continue
            if not pending and not follow_last:
                return _Located(stack[-1], part)
            target = self._symlink_target(path, stack[-1], part)
            if target is not None:
                links += 1
                if links > _MAX_LINKS:
                    raise BackendError(f"{display_path(path)}: too many levels of symbolic links")
                pending[:0] = self._splice(path, target, stack)
                continue
            if not pending:
                return _Located(stack[-1], part)
            stack.append(self._enter(path, stack[-1], part, create=create_parents))
        return _Located(stack[-1], "")

    @staticmethod
    def _symlink_target(path: str, dir_fd: int, name: str) -> str | None:
        try:
            return os.readlink(name, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):  # not a link / not there: the caller decides
                return None
            raise _translate(path, exc) from exc

    def _splice(self, path: str, target: str, stack: list[int]) -> list[str]:
        """The components of a link target, resetting ``stack`` to the root for absolute targets."""
        if target.startswith("/"):
            inside = _strip_prefix(target, WORKSPACE) or _strip_prefix(target, str(self.root))
            if inside is None:
                raise PathRejected(path, "a symlink points outside the workspace")
            while len(stack) > 1:
                os.close(stack.pop())
            target = inside
        parts = [part for part in target.split("/") if part not in ("", ".")]
        depth = len(stack) - 1
        for part in parts:  # refuse early, with the clear message, when the target climbs above the root
            depth = depth - 1 if part == ".." else depth + 1
            if depth < 0:
                raise PathRejected(path, "a symlink points outside the workspace")
        return parts

    def _enter(self, path: str, dir_fd: int, name: str, *, create: bool) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                raise NotFound(f"{display_path(path)}: no such file or directory") from None
        except OSError as exc:
            raise _translate(path, exc) from exc
        try:
            with suppress(FileExistsError):  # another writer may have made it meanwhile
                os.mkdir(name, 0o755, dir_fd=dir_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise _translate(path, exc) from exc
        self.claim(fd)
        return fd

    def _open(self, path: str, where: _Located, flags: int) -> int:
        try:
            return os.open(where.name, flags, dir_fd=where.dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # swapped for a link after we looked: refuse, don't chase it
                raise BackendError(f"{display_path(path)} changed while being opened; try again") from exc
            raise _translate(path, exc) from exc

    def _lstat(self, path: str, where: _Located) -> os.stat_result:
        try:
            return os.stat(where.name, dir_fd=where.dir_fd, follow_symlinks=False)
        except OSError as exc:
            raise _translate(path, exc) from exc

    @staticmethod
    def _require_file(path: str, mode: int) -> None:
        if stat.S_ISDIR(mode):
            raise BackendError(f"{display_path(path)} is a directory")
        if not stat.S_ISREG(mode):
            raise BackendError(f"{display_path(path)} is not a regular file")

    def _replace_atomically(self, where: _Located, content: bytes, mode: int) -> None:
        temp = f".{where.name}.{secrets.token_hex(6)}.sandchat-tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, mode, dir_fd=where.dir_fd)
        try:
            try:
                os.fchmod(fd, mode)  # the umask must not narrow an existing file's mode
                self.claim(fd)
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            # rename never follows a link at the destination: a link swapped in meanwhile is replaced
            os.replace(temp, where.name, src_dir_fd=where.dir_fd, dst_dir_fd=where.dir_fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(temp, dir_fd=where.dir_fd)
            raise

    @staticmethod
    def _entry(directory: str, entry: os.DirEntry[str]) -> DirEntry:
        info = entry.stat(follow_symlinks=False)
        rel = f"{directory.strip('/')}/{entry.name}".lstrip("/")
        kind = _kind(info.st_mode)
        return DirEntry(entry.name, display_path(rel), kind, info.st_size, info.st_mtime)


def _strip_prefix(target: str, prefix: str) -> str | None:
    prefix = prefix.rstrip("/")
    if target == prefix:
        return ""
    return target[len(prefix) + 1 :] if target.startswith(prefix + "/") else None


def _read_up_to(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _file_info(path: str, info: os.stat_result) -> FileInfo:
    rel = path.strip("/")
    name = rel.rsplit("/", 1)[-1] if rel else WORKSPACE.lstrip("/")
    kind = _kind(info.st_mode)
    return FileInfo(display_path(rel), name, kind, info.st_size, info.st_mtime, stat.S_IMODE(info.st_mode))


def _translate(path: str, exc: OSError) -> BackendError:
    shown = display_path(path)
    if exc.errno == errno.ENOENT:
        return NotFound(f"{shown}: no such file or directory")
    if exc.errno == errno.ENOTDIR:
        return BackendError(f"{shown}: a parent of it is not a directory")
    if exc.errno == errno.EISDIR:
        return BackendError(f"{shown} is a directory")
    if exc.errno == errno.ELOOP:
        return BackendError(f"{shown}: too many levels of symbolic links")
    return BackendError(f"{shown}: {exc.strerror or exc}")
