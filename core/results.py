"""The outcome of one operation, and its plain-text description for people."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from core.backends.base import DirEntry, ExecResult, FileInfo
from core.commands import Command
from core.events import Actor
from core.security.risk import RiskFinding
from core.security.sanitize import strip_terminal_escapes

if TYPE_CHECKING:
    from core.search import SearchResult

#: ok: done (for code: exit 0); error: the program ran and failed (non-zero exit, timeout);
#: failed: the sandbox could not do it; blocked: refused by validation; denied: refused by policy or user.
Status = Literal["ok", "error", "failed", "blocked", "denied"]


@dataclass(frozen=True)
class OperationResult:
    """Everything known about one operation after it ended; ``output`` is safe to print."""

    op_id: int
    actor: Actor
    text: str  # canonical command text, or the raw input when it did not parse
    tool: str
    status: Status
    message: str  # one line: what happened
    output: str = ""  # body for people: file text, listing, program output; escapes removed
    command: Command | None = None
    path: str = ""  # /workspace/... when the operation has a target
    duration: float = 0.0
    started_at: float = field(default_factory=time.time)
    exec: ExecResult | None = None
    info: FileInfo | None = None
    entries: tuple[DirEntry, ...] = ()
    content: bytes | None = None  # bytes read, for viewers that render them safely themselves
    findings: tuple[RiskFinding, ...] = ()
    bytes_in: int = 0  # bytes sent into the sandbox
    bytes_out: int = 0  # bytes that came out of it
    search_results: tuple[SearchResult, ...] = ()  # for the model, which gets them marked untrusted
    audit_error: str = ""  # set when the outcome could not be written to the audit log

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def changed_workspace(self) -> bool:
        """True when the operation may have changed the files (so browsers refresh)."""
        return self.tool in ("write_file", "delete_file", "execute_code") and self.status in ("ok", "error")


def describe_bytes(data: bytes) -> str:
    """File content as text for people: decoded, escapes removed; binary files summarised."""
    if b"\x00" in data[:8192]:
        digest = hashlib.sha256(data).hexdigest()
        return f"(binary file, {len(data):,} bytes, sha256 {digest})"
    return strip_terminal_escapes(data.decode("utf-8", errors="replace"))


def describe_info(info: FileInfo) -> str:
    """``info file:`` output, one fact a line."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.modified))
    lines = [
        f"path:     {info.path}",
        f"kind:     {info.kind}",
        f"size:     {info.size:,} bytes",
        f"modified: {stamp}",
        f"mode:     {info.mode:o}",
    ]
    return strip_terminal_escapes("\n".join(lines))


def describe_entries(entries: tuple[DirEntry, ...]) -> str:
    """``list files:`` output: one entry a line, directories marked with a slash."""
    if not entries:
        return "(empty directory)"
    lines = []
    for e in entries:
        name = e.name + ("/" if e.kind == "dir" else "@" if e.kind == "symlink" else "")
        size = "" if e.kind == "dir" else f"{e.size:>12,}"
        lines.append(f"{size:>12}  {name}")
    return strip_terminal_escapes("\n".join(lines))


def describe_exec(result: ExecResult) -> str:
    """Program output for people: stdout, stderr, and what ended the run."""
    parts: list[str] = []
    if result.stdout:
        parts.append(strip_terminal_escapes(result.stdout).rstrip("\n"))
    if result.stdout_truncated:
        parts.append("[stdout truncated]")
    if result.stderr:
        parts.append(strip_terminal_escapes(result.stderr).rstrip("\n"))
    if result.stderr_truncated:
        parts.append("[stderr truncated]")
    return "\n".join(parts)


def exec_summary(result: ExecResult) -> str:
    """One line: exit code or what killed it, and how long it took."""
    if result.timed_out:
        end = f"killed: {result.killed_reason or 'timeout'}"
    elif result.exit_code is None:
        end = f"killed by signal {result.signal}" + (f" ({result.killed_reason})" if result.killed_reason else "")
    else:
        end = f"exit code {result.exit_code}"
    return f"{result.language}: {end} in {result.duration:.2f} s"
