"""Fixed stand-ins for pictures that must not change between runs: a backend, an audit log."""

from __future__ import annotations

from core.audit_types import VerifyReport
from core.audit_verify import Progress
from core.backends.base import (
    WORKSPACE,
    DirEntry,
    EntryKind,
    ExecResult,
    FileInfo,
    Isolation,
    IsolationLevel,
    OutputCallback,
)
from core.errors import NotFound

FILES: dict[str, bytes] = {
    "README.md": b"# demo\n",
    "src/app.py": b"print('hello')\n",
    "src/util.py": b"def add(a, b):\n    return a + b\n",
    "notes.txt": b"buy milk\n",
}


class FixedBackend:
    """An in-memory sandbox with fixed files, a fixed id and a chosen isolation level."""

    name = "local"

    def __init__(self, isolation: IsolationLevel = "strong", sandbox_id: str = "demo") -> None:
        self.sandbox_id = sandbox_id
        self.level: IsolationLevel = isolation
        self.files = dict(FILES)

    def isolation(self) -> Isolation:
        return Isolation(self.level, "fixed for tests")

    async def read_file(self, path: str, max_bytes: int) -> bytes:
        if path not in self.files:
            raise NotFound(f"{WORKSPACE}/{path} does not exist")
        return self.files[path]

    async def write_file(self, path: str, content: bytes) -> FileInfo:
        self.files[path] = content
        return FileInfo(f"{WORKSPACE}/{path}", path.rpartition("/")[2], "file", len(content), 0.0, 0o644)

    async def delete_file(self, path: str) -> None:
        self.files.pop(path, None)

    async def list_files(self, directory: str) -> list[DirEntry]:
        prefix = f"{directory}/" if directory else ""
        names: dict[str, DirEntry] = {}
        for path, data in sorted(self.files.items()):
            if not path.startswith(prefix):
                continue
            head, slash, _ = path[len(prefix):].partition("/")
            kind: EntryKind = "dir" if slash else "file"
            names[head] = DirEntry(head, f"{WORKSPACE}/{prefix}{head}", kind, 0 if slash else len(data), 0.0)
        return list(names.values())

    async def get_file_info(self, path: str) -> FileInfo:
        data = await self.read_file(path, 1 << 20)
        return FileInfo(f"{WORKSPACE}/{path}", path.rpartition("/")[2], "file", len(data), 0.0, 0o644)

    async def execute_code(self, code: str, language: str, timeout: float,  # noqa: ASYNC109
                           on_output: OutputCallback | None = None) -> ExecResult:
        return ExecResult(language, 0, "ok\n", "", 0.01)

    async def close(self) -> None:
        pass


class FixedAudit:
    """What the status bar asks of the audit log, with fixed answers."""

    last_seq = 12

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        if progress is not None:
            progress(12, 12)
        return VerifyReport(True, 12)
