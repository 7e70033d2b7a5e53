"""Symlinks made by code in the sandbox: the ones that stay inside work, the ones that lead out are refused."""

from __future__ import annotations

import pytest

from core.backends.base import Backend
from core.errors import PathRejected
from tests.conformance.conftest import run_ok

MAKE_LINKS = """
import os
os.makedirs("sub", exist_ok=True)
open("sub/f.txt", "w").write("inside")
os.symlink("/etc/passwd", "out_abs")
os.symlink("../../../../../../etc", "out_rel")
os.symlink("sub", "in_dir")
os.symlink("sub/f.txt", "in_file")
os.symlink("/workspace/sub/f.txt", "in_abs")
os.symlink("in_dir/../out_rel/passwd", "chained_out")
os.symlink("missing-target", "dangling")
"""


@pytest.fixture
async def linked(backend: Backend) -> Backend:
    await run_ok(backend, MAKE_LINKS)
    return backend


@pytest.mark.parametrize("name", ["out_abs", "out_rel", "chained_out", "out_rel/passwd"])
async def test_links_out_of_the_workspace_are_refused(linked: Backend, name: str) -> None:
    with pytest.raises(PathRejected, match="outside the workspace"):
        await linked.read_file(name, 1_000_000)
    with pytest.raises(PathRejected):
        await linked.write_file(name, b"pwned")


async def test_a_directory_link_out_cannot_be_listed(linked: Backend) -> None:
    with pytest.raises(PathRejected):
        await linked.list_files("out_rel")


async def test_links_inside_are_followed(linked: Backend) -> None:
    assert await linked.read_file("in_file", 100) == b"inside"
    assert await linked.read_file("in_dir/f.txt", 100) == b"inside"
    assert await linked.read_file("in_abs", 100) == b"inside"
    assert [e.name for e in await linked.list_files("in_dir")] == ["f.txt"]
    await linked.write_file("in_file", b"changed through the link")
    assert await linked.read_file("sub/f.txt", 100) == b"changed through the link"


async def test_links_are_listed_and_described_as_links(linked: Backend) -> None:
    kinds = {e.name: e.kind for e in await linked.list_files("")}
    for name in ("out_abs", "out_rel", "in_dir", "in_file", "in_abs", "chained_out", "dangling"):
        assert kinds[name] == "symlink", name
    assert kinds["sub"] == "dir"
    info = await linked.get_file_info("out_abs")
    assert (info.kind, info.size) == ("symlink", len("/etc/passwd"))


async def test_deleting_a_link_removes_the_link_not_its_target(linked: Backend) -> None:
    await linked.delete_file("in_file")
    await linked.delete_file("out_abs")
    await linked.delete_file("dangling")
    names = [e.name for e in await linked.list_files("")]
    assert "in_file" not in names and "out_abs" not in names and "dangling" not in names
    assert await linked.read_file("sub/f.txt", 100) == b"inside"


async def test_links_made_by_a_later_run_are_seen(backend: Backend) -> None:
    await backend.write_file("plain.txt", b"plain")
    await run_ok(backend, "import os\nos.remove('plain.txt')\nos.symlink('/etc/hostname', 'plain.txt')")
    with pytest.raises(PathRejected):
        await backend.read_file("plain.txt", 100)
