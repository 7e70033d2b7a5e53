"""LocalSandbox file operations: the Backend contract, and confinement to the workspace against symlinks."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from core.backends import local_files
from core.backends.base import Backend
from core.backends.local import LocalSandbox
from core.errors import BackendError, FileTooLarge, NotFound, PathRejected


def names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def _create(path: Path) -> Path:
    path.touch()
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def sandbox(workspace: Path) -> LocalSandbox:
    return LocalSandbox(workspace)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory next to the workspace, with a file the sandbox must never touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "victim.txt").write_text("original")
    return directory


def test_satisfies_the_backend_protocol(sandbox: LocalSandbox) -> None:
    assert isinstance(sandbox, Backend)
    assert sandbox.name == "local"
    assert sandbox.sandbox_id == "default"


def test_workspace_is_created_private(tmp_path: Path) -> None:
    LocalSandbox(tmp_path / "a" / "b" / "ws", name="proj")
    for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "ws"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


async def test_write_then_read_round_trip(sandbox: LocalSandbox, workspace: Path) -> None:
    info = await sandbox.write_file("notes.txt", b"hello\n")
    assert (info.path, info.name, info.kind, info.size, info.mode) == (
        "/workspace/notes.txt",
        "notes.txt",
        "file",
        6,
        0o644,
    )
    assert await sandbox.read_file("notes.txt", 100) == b"hello\n"
    assert (workspace / "notes.txt").read_bytes() == b"hello\n"


async def test_write_creates_parent_directories(sandbox: LocalSandbox, workspace: Path) -> None:
    info = await sandbox.write_file("src/pkg/deep/mod.py", b"x = 1\n")
    assert info.path == "/workspace/src/pkg/deep/mod.py"
    assert (workspace / "src" / "pkg" / "deep").is_dir()
    assert await sandbox.read_file("src/pkg/deep/mod.py", 100) == b"x = 1\n"


async def test_unicode_names(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("données/résumé – 日本語.txt", "ça va ✓".encode())
    assert (await sandbox.read_file("données/résumé – 日本語.txt", 100)).decode() == "ça va ✓"
    [entry] = await sandbox.list_files("données")
    assert entry.name == "résumé – 日本語.txt"
    assert entry.path == "/workspace/données/résumé – 日本語.txt"


async def test_overwrite_is_atomic_and_keeps_the_mode(sandbox: LocalSandbox, workspace: Path) -> None:
    await sandbox.write_file("run.sh", b"old")
    (workspace / "run.sh").chmod(0o751)
    before = (workspace / "run.sh").stat().st_ino
    info = await sandbox.write_file("run.sh", b"new content")
    after = (workspace / "run.sh").stat()
    assert after.st_ino != before  # replaced by rename, never rewritten in place
    assert info.mode == 0o751 and stat.S_IMODE(after.st_mode) == 0o751
    assert (workspace / "run.sh").read_bytes() == b"new content"
    assert names(workspace) == ["run.sh"]  # no temp file left behind


async def test_failed_write_leaves_no_temp_file(sandbox: LocalSandbox, workspace: Path) -> None:
    await sandbox.write_file("dir/keep.txt", b"x")
    with pytest.raises(BackendError, match="is a directory"):
        await sandbox.write_file("dir", b"x")
    assert names(workspace) == ["dir"]


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership hand-over only happens as root")
async def test_as_root_created_files_belong_to_the_sandbox_user(sandbox: LocalSandbox, workspace: Path) -> None:
    await sandbox.write_file("a/b.txt", b"x")
    uid = os.stat(workspace).st_uid
    assert uid != 0
    assert os.stat(workspace / "a").st_uid == uid
    assert os.stat(workspace / "a" / "b.txt").st_uid == uid


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership hand-over only happens as root")
def test_as_root_a_workspace_owned_by_a_real_user_stays_theirs(workspace: Path) -> None:
    workspace.mkdir()
    os.chown(workspace, 1234, 1234)
    LocalSandbox(workspace)
    assert os.stat(workspace).st_uid == 1234


async def test_list_sorts_directories_first_then_by_name(sandbox: LocalSandbox, workspace: Path) -> None:
    for name in ("b.txt", "a.txt", "z/x", "c/x"):
        await sandbox.write_file(name, b"12")
    (workspace / "link").symlink_to("a.txt")
    entries = await sandbox.list_files("")
    assert [(e.name, e.kind) for e in entries] == [
        ("c", "dir"),
        ("z", "dir"),
        ("a.txt", "file"),
        ("b.txt", "file"),
        ("link", "symlink"),
    ]
    assert entries[2].path == "/workspace/a.txt" and entries[2].size == 2
    assert [e.path for e in await sandbox.list_files("z")] == ["/workspace/z/x"]


async def test_file_info_for_file_dir_root_and_symlink(sandbox: LocalSandbox, workspace: Path) -> None:
    await sandbox.write_file("d/f.txt", b"abc")
    (workspace / "ln").symlink_to("d/f.txt")
    assert (await sandbox.get_file_info("d/f.txt")).kind == "file"
    assert (await sandbox.get_file_info("d")).kind == "dir"
    root = await sandbox.get_file_info("")
    assert (root.path, root.kind) == ("/workspace", "dir")
    link = await sandbox.get_file_info("ln")
    assert (link.kind, link.path) == ("symlink", "/workspace/ln")


async def test_delete_files_links_and_empty_directories(sandbox: LocalSandbox, workspace: Path, outside: Path) -> None:
    await sandbox.write_file("d/f.txt", b"x")
    with pytest.raises(BackendError, match="directory not empty"):
        await sandbox.delete_file("d")
    await sandbox.delete_file("d/f.txt")
    await sandbox.delete_file("d")
    assert names(workspace) == []
    (workspace / "out").symlink_to(outside / "victim.txt")
    await sandbox.delete_file("out")  # the link goes, never what it points at
    assert not (workspace / "out").is_symlink()
    assert (outside / "victim.txt").read_text() == "original"
    with pytest.raises(BackendError, match="root"):
        await sandbox.delete_file("")


async def test_max_bytes_is_enforced_before_reading(
    sandbox: LocalSandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.truncate(_create(workspace / "huge.bin"), 8 << 30)  # sparse: reading it would take 8 GiB of memory

    def never(fd: int, limit: int) -> bytes:
        raise AssertionError("the file was read")

    monkeypatch.setattr(local_files, "_read_up_to", never)
    with pytest.raises(FileTooLarge) as caught:
        await sandbox.read_file("huge.bin", 1024)
    assert caught.value.size == 8 << 30 and caught.value.limit == 1024
    assert "/workspace/huge.bin" in str(caught.value)


async def test_max_bytes_boundary(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("ten.txt", b"0123456789")
    assert await sandbox.read_file("ten.txt", 10) == b"0123456789"
    with pytest.raises(FileTooLarge):
        await sandbox.read_file("ten.txt", 9)


async def test_not_found_messages_name_the_path(sandbox: LocalSandbox) -> None:
    with pytest.raises(NotFound, match="/workspace/missing.txt: no such file"):
        await sandbox.read_file("missing.txt", 10)
    with pytest.raises(NotFound, match="/workspace/no/such/dir"):
        await sandbox.list_files("no/such/dir")
    with pytest.raises(NotFound, match="/workspace/gone"):
        await sandbox.get_file_info("gone")
    with pytest.raises(NotFound, match="/workspace/gone"):
        await sandbox.delete_file("gone")
    with pytest.raises(NotFound, match="/workspace/nodir/x.txt"):
        await sandbox.read_file("nodir/x.txt", 10)


async def test_directory_and_not_a_directory_errors(sandbox: LocalSandbox) -> None:
    await sandbox.write_file("d/f.txt", b"x")
    with pytest.raises(BackendError, match="/workspace/d is a directory"):
        await sandbox.read_file("d", 10)
    with pytest.raises(BackendError, match="is not a directory"):
        await sandbox.list_files("d/f.txt")
    with pytest.raises(BackendError, match="not a directory"):
        await sandbox.write_file("d/f.txt/inner", b"x")


async def test_fifo_is_refused_without_hanging(sandbox: LocalSandbox, workspace: Path) -> None:
    os.mkfifo(workspace / "pipe")
    with pytest.raises(BackendError, match="not a regular file"):
        await sandbox.read_file("pipe", 10)


async def test_symlinks_that_stay_inside_work(sandbox: LocalSandbox, workspace: Path) -> None:
    await sandbox.write_file("real/data.txt", b"inside")
    (workspace / "rel").symlink_to("real")
    (workspace / "abs").symlink_to("/workspace/real/data.txt")  # as the sandboxed code would write it
    (workspace / "real" / "up").symlink_to("../real/data.txt")
    assert await sandbox.read_file("rel/data.txt", 100) == b"inside"
    assert await sandbox.read_file("abs", 100) == b"inside"
    assert await sandbox.read_file("real/up", 100) == b"inside"
    assert [e.name for e in await sandbox.list_files("rel")] == ["data.txt", "up"]
    await sandbox.write_file("abs", b"changed")  # writes the target, keeps the link
    assert (workspace / "abs").is_symlink()
    assert (workspace / "real" / "data.txt").read_bytes() == b"changed"


async def test_symlink_to_etc_is_refused(sandbox: LocalSandbox, workspace: Path) -> None:
    (workspace / "etc_link").symlink_to("/etc")
    (workspace / "shadow").symlink_to("/etc/shadow")
    for attempt in (
        sandbox.read_file("etc_link/passwd", 1 << 20),
        sandbox.read_file("shadow", 1 << 20),
        sandbox.list_files("etc_link"),
        sandbox.get_file_info("etc_link/passwd"),
    ):
        with pytest.raises(PathRejected, match="symlink points outside the workspace"):
            await attempt


async def test_relative_symlink_climbing_out_is_refused(sandbox: LocalSandbox, workspace: Path, outside: Path) -> None:
    (workspace / "sub").mkdir()
    (workspace / "sub" / "esc").symlink_to("../../outside/victim.txt")
    with pytest.raises(PathRejected):
        await sandbox.read_file("sub/esc", 100)


async def test_writing_through_a_symlink_out_is_refused(sandbox: LocalSandbox, workspace: Path, outside: Path) -> None:
    (workspace / "out").symlink_to(outside)
    (workspace / "victim").symlink_to(outside / "victim.txt")
    for path in ("out/victim.txt", "out/new.txt", "victim", "out/deeper/new.txt"):
        with pytest.raises(PathRejected):
            await sandbox.write_file(path, b"pwned")
    assert (outside / "victim.txt").read_text() == "original"
    assert names(outside) == ["victim.txt"]


async def test_symlink_loop_is_reported(sandbox: LocalSandbox, workspace: Path) -> None:
    (workspace / "a").symlink_to("b")
    (workspace / "b").symlink_to("a")
    with pytest.raises(BackendError, match="too many levels of symbolic links"):
        await sandbox.read_file("a", 10)


def test_swapping_a_directory_for_a_link_never_leaks_outside(workspace: Path, outside: Path) -> None:
    """Race a reader against a writer that flips ``d`` between a real directory and a link to outside."""
    files = local_files.ConfinedFiles(LocalSandbox(workspace).workspace)
    (outside / "secret").write_text("OUTSIDE")
    real = workspace / "real"
    real.mkdir()
    (real / "secret").write_text("inside")
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            for target in (real, outside):
                tmp = workspace / "d.tmp"
                tmp.symlink_to(target)
                os.replace(tmp, workspace / "d")

    flipper = threading.Thread(target=flip)
    flipper.start()
    seen: set[bytes] = set()
    deadline = time.monotonic() + 0.5
    try:
        while time.monotonic() < deadline:
            try:
                seen.add(files.read("d/secret", 100))
            except (PathRejected, BackendError):
                seen.add(b"refused")
    finally:
        stop.set()
        flipper.join()
    assert b"OUTSIDE" not in seen
    assert seen <= {b"inside", b"refused"}
