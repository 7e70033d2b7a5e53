"""Replacing a file whole: a reader, or a restart after a crash, finds the old content or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, sync_directory: bool = True) -> None:
    """Replace ``path`` with ``data``: temp file in the same directory, fsync, rename, fsync the directory.

    The temp file gets ``mode`` before any byte is written, so a secret is never readable by others. On any
    failure the temp file is removed and ``path`` is left exactly as it was. ``sync_directory=False`` skips
    making the rename itself durable, for callers that accept finding the previous file after a power cut.
    """
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            os.chmod(temp_name, mode)
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    if sync_directory:
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable; platforms that cannot open a directory skip this."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
