"""The backend protocol and the project's own result types; no SDK object ever leaves a backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

EntryKind = Literal["file", "dir", "symlink", "other"]
Stream = Literal["stdout", "stderr"]
IsolationLevel = Literal["strong", "weak", "none"]

#: Called with ("stdout" | "stderr", text) as a running program prints.
OutputCallback = Callable[[Stream, str], None]

WORKSPACE = "/workspace"


def display_path(rel: str) -> str:
    """The path as the user sees it: ``/workspace`` joined with a workspace-relative path."""
    rel = rel.strip("/")
    return WORKSPACE if rel in ("", ".") else f"{WORKSPACE}/{rel}"


@dataclass(frozen=True)
class FileInfo:
    """Metadata of one file or directory in the sandbox."""

    path: str  # as shown to the user: /workspace/...
    name: str
    kind: EntryKind
    size: int
    modified: float  # seconds since the epoch
    mode: int  # permission bits, e.g. 0o644


@dataclass(frozen=True)
class DirEntry:
    """One entry of a directory listing."""

    name: str
    path: str  # /workspace/...
    kind: EntryKind
    size: int
    modified: float


@dataclass(frozen=True)
class ExecResult:
    """What a code run did. A non-zero exit code is a result, not an error."""

    language: str
    exit_code: int | None  # None when killed by a signal or the timeout
    stdout: str
    stderr: str
    duration: float  # wall-clock seconds
    cpu_time: float | None = None  # user + system seconds
    peak_memory: int | None = None  # bytes (max RSS)
    timed_out: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    signal: int | None = None
    killed_reason: str = ""  # e.g. "wall-clock timeout of 10 s", "memory limit"

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class Isolation:
    """How strongly a backend isolates code, and why: shown by ``sandchat doctor`` and the status bar."""

    level: IsolationLevel
    summary: str  # one line, e.g. "bubblewrap namespaces + seccomp + rlimits"
    details: tuple[str, ...] = field(default_factory=tuple)
    can_execute: bool = True
    reason: str = ""  # why code execution is refused, when it is


@runtime_checkable
class Backend(Protocol):
    """A sandbox: files under one workspace root and a way to run code in it.

    Paths given to a backend are already validated, workspace-relative POSIX paths ("" is the root).
    The backend still resolves symlinks itself and refuses any that lead out of the workspace.
    """

    name: str  # "local" or "daytona"
    sandbox_id: str

    def isolation(self) -> Isolation: ...

    async def read_file(self, path: str, max_bytes: int) -> bytes: ...

    async def write_file(self, path: str, content: bytes) -> FileInfo: ...

    async def delete_file(self, path: str) -> None: ...

    async def list_files(self, directory: str) -> list[DirEntry]: ...

    async def get_file_info(self, path: str) -> FileInfo: ...

    async def execute_code(
        self,
        code: str,
        language: str,
        timeout: float,  # noqa: ASYNC109 - the sandbox enforces it, not the caller
        on_output: OutputCallback | None = None,
    ) -> ExecResult: ...

    async def close(self) -> None: ...
