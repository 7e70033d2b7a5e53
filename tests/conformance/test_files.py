"""File behaviours of the Backend protocol, the same on every backend."""

from __future__ import annotations

import os

import pytest

from core.backends.base import Backend
from core.errors import BackendError, FileTooLarge, NotFound, PathRejected, SandchatError
from tests.conformance.conftest import run_ok

UNICODE_NAMES = ["naïve café.txt", "日本語/ファイル.md", "emoji 🎉.txt", "spaces and 'quotes'.txt"]


async def test_text_round_trip(backend: Backend) -> None:
    info = await backend.write_file("notes.txt", b"hello\nworld\n")
    assert (info.path, info.name, info.kind, info.size) == ("/workspace/notes.txt", "notes.txt", "file", 12)
    assert await backend.read_file("notes.txt", 1000) == b"hello\nworld\n"


async def test_binary_content_survives_byte_for_byte(backend: Backend) -> None:
    blob = bytes(range(256)) * 64 + b"\r\n\x00\xff" + os.urandom(4096)
    await backend.write_file("data.bin", blob)
    assert await backend.read_file("data.bin", len(blob)) == blob


async def test_empty_file(backend: Backend) -> None:
    info = await backend.write_file("empty", b"")
    assert info.size == 0
    assert await backend.read_file("empty", 10) == b""


async def test_overwrite_replaces_content(backend: Backend) -> None:
    await backend.write_file("f.txt", b"a much longer first version")
    await backend.write_file("f.txt", b"short")
    assert await backend.read_file("f.txt", 100) == b"short"


@pytest.mark.parametrize("name", UNICODE_NAMES)
async def test_unicode_names(backend: Backend, name: str) -> None:
    await backend.write_file(name, name.encode())
    assert await backend.read_file(name, 1000) == name.encode()
    parent, _, leaf = name.rpartition("/")
    assert leaf in [entry.name for entry in await backend.list_files(parent)]
    assert (await backend.get_file_info(name)).name == leaf


async def test_nested_directories_are_created_on_write(backend: Backend) -> None:
    await backend.write_file("a/b/c/deep.txt", b"deep")
    assert (await backend.get_file_info("a/b")).kind == "dir"
    assert [e.name for e in await backend.list_files("a/b/c")] == ["deep.txt"]
    assert await backend.read_file("a/./b/../b/c/deep.txt", 10) == b"deep"


async def test_listing_is_sorted_directories_first(backend: Backend) -> None:
    for path in ("zeta.txt", "alpha.txt", "mid/x", "beta/y", "Capital.txt"):
        await backend.write_file(path, b"x")
    entries = await backend.list_files("")
    assert [(e.name, e.kind) for e in entries] == [
        ("beta", "dir"), ("mid", "dir"), ("Capital.txt", "file"), ("alpha.txt", "file"), ("zeta.txt", "file"),
    ]
    assert entries[0].path == "/workspace/beta"
    assert {e.size for e in entries if e.kind == "file"} == {1}


async def test_listing_an_empty_workspace(backend: Backend) -> None:
    assert await backend.list_files("") == []


async def test_info_of_file_dir_and_root(backend: Backend) -> None:
    await backend.write_file("dir/file.py", b"print(1)\n")
    file_info = await backend.get_file_info("dir/file.py")
    assert (file_info.path, file_info.kind, file_info.size) == ("/workspace/dir/file.py", "file", 9)
    assert file_info.mode & 0o600 == 0o600 and file_info.modified > 1_600_000_000
    assert (await backend.get_file_info("dir")).kind == "dir"
    root = await backend.get_file_info("")
    assert (root.path, root.name, root.kind) == ("/workspace", "workspace", "dir")


async def test_missing_paths_are_not_found(backend: Backend) -> None:
    with pytest.raises(NotFound):
        await backend.read_file("nope.txt", 100)
    with pytest.raises(NotFound):
        await backend.get_file_info("no/such/file")
    with pytest.raises(NotFound):
        await backend.list_files("nodir")
    with pytest.raises(NotFound):
        await backend.delete_file("nope.txt")


async def test_read_limit_is_checked_before_reading(backend: Backend) -> None:
    await backend.write_file("big.txt", b"x" * 5000)
    with pytest.raises(FileTooLarge) as caught:
        await backend.read_file("big.txt", 4999)
    assert (caught.value.size, caught.value.limit) == (5000, 4999)
    assert await backend.read_file("big.txt", 5000) == b"x" * 5000


async def test_directories_are_not_files(backend: Backend) -> None:
    await backend.write_file("d/inner.txt", b"1")
    with pytest.raises(BackendError, match="is a directory"):
        await backend.read_file("d", 100)
    with pytest.raises(BackendError, match="is a directory"):
        await backend.write_file("d", b"no")
    with pytest.raises(BackendError, match="not a directory"):
        await backend.list_files("d/inner.txt")
    with pytest.raises(BackendError, match="not a directory"):
        await backend.write_file("d/inner.txt/under", b"no")


async def test_delete_file_and_empty_directory(backend: Backend) -> None:
    await backend.write_file("gone.txt", b"bye")
    await backend.delete_file("gone.txt")
    with pytest.raises(NotFound):
        await backend.get_file_info("gone.txt")
    await backend.write_file("emptydir/x", b"")
    await backend.delete_file("emptydir/x")
    await backend.delete_file("emptydir")
    assert await backend.list_files("") == []


async def test_delete_refuses_non_empty_directory_and_root(backend: Backend) -> None:
    await backend.write_file("full/keep.txt", b"keep")
    with pytest.raises(BackendError, match="not empty"):
        await backend.delete_file("full")
    assert await backend.read_file("full/keep.txt", 10) == b"keep"
    with pytest.raises(BackendError, match="root"):
        await backend.delete_file("")


async def test_paths_cannot_climb_out(backend: Backend) -> None:
    with pytest.raises(PathRejected):
        await backend.read_file("../outside.txt", 100)
    with pytest.raises(PathRejected):
        await backend.write_file("a/../../escape.txt", b"x")


async def test_errors_are_sandchat_errors_with_the_workspace_path(backend: Backend) -> None:
    with pytest.raises(SandchatError) as caught:
        await backend.read_file("missing/thing.txt", 10)
    assert "/workspace/missing/thing.txt" in str(caught.value)


async def test_an_overwrite_keeps_or_resets_the_mode(backend: Backend) -> None:
    """A documented difference (README.md): Daytona's daemon writes every upload with mode 0644."""
    await backend.write_file("script.sh", b"echo 1\n")
    await run_ok(backend, "import os\nos.chmod('script.sh', 0o750)")
    info = await backend.write_file("script.sh", b"echo 2\n")
    expected = 0o644 if backend.name == "daytona" else 0o750
    assert info.mode == expected and (await backend.get_file_info("script.sh")).mode == expected
