"""Each fault the fake Daytona can inject gives the right user-facing error, or is recovered from unseen."""

from __future__ import annotations

import time

import pytest

from core.backends.daytona import DaytonaSandbox
from core.errors import BackendError, FileTooLarge, PathRejected, SandboxUnavailable
from tests.daytona_server.fixtures import daytona_backend, daytona_config, daytona_server, make_backend
from tests.daytona_server.server import FakeDaytona

__all__ = ["daytona_backend", "daytona_server"]


def count(server: FakeDaytona, route: str) -> int:
    return sum(1 for r in server.routes if r == route)


async def test_slow_start_is_waited_for_by_the_first_operation(daytona_server: FakeDaytona) -> None:
    daytona_server.store.start_delay = 1.0
    box = make_backend(daytona_server)
    try:
        began = time.perf_counter()
        await box.start()
        assert time.perf_counter() - began < 0.1  # start() only begins the connection
        await box.write_file("first.txt", b"waited")
        assert 1.0 <= time.perf_counter() - began < 5.0
        assert await box.read_file("first.txt", 10) == b"waited"
    finally:
        await box.close()


async def test_create_timeout_deletes_the_half_created_sandbox(daytona_server: FakeDaytona) -> None:
    daytona_server.store.never_start = True
    box = make_backend(daytona_server, config=None)
    box.session.config = box.config = box.config.__class__(api_url=daytona_server.api_url, create_timeout=1.0)
    with pytest.raises(SandboxUnavailable, match="within 1 s") as caught:
        await box.ready()
    assert "was deleted" in str(caught.value)
    assert daytona_server.store.sandboxes == {}
    assert count(daytona_server, "DELETE api /sandbox/{sandbox_id}") == 1
    await box.close()


async def test_a_rejected_key_says_so(daytona_server: FakeDaytona) -> None:
    box = make_backend(daytona_server, api_key="wrong-key-123456")
    with pytest.raises(SandboxUnavailable, match="did not accept the API key") as caught:
        await box.read_file("x", 10)
    assert "DAYTONA_API_KEY" in str(caught.value) and "wrong-key-123456" not in str(caught.value)
    await box.close()


async def test_a_401_mid_session_is_not_retried(daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona) -> None:
    await daytona_backend.write_file("f.txt", b"1")
    daytona_server.faults.fail("files/info", 401, message="Invalid credentials", times=-1)
    with pytest.raises(SandboxUnavailable, match="HTTP 401"):
        await daytona_backend.read_file("f.txt", 10)
    assert count(daytona_server, "GET toolbox /files/info") == 1


async def test_429_is_retried_after_its_retry_after(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.write_file("f.txt", b"data")
    daytona_server.faults.fail("files/info", 429, message="Too many requests", retry_after=0, times=2)
    assert await daytona_backend.read_file("f.txt", 10) == b"data"
    assert count(daytona_server, "GET toolbox /files/info") == 3


async def test_429_that_never_ends_is_reported(daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona) -> None:
    await daytona_backend.ready()
    daytona_server.faults.fail("files/info", 429, message="Too many requests", retry_after=0, times=-1)
    with pytest.raises(BackendError, match="limiting the rate"):
        await daytona_backend.get_file_info("f.txt")


async def test_429_on_code_run_is_retried_because_nothing_ran(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.ready()
    daytona_server.faults.fail("code-run", 429, retry_after=0)
    result = await daytona_backend.execute_code("print('ran once')", "python", 10)
    assert result.stdout == "ran once\n"


async def test_502_with_empty_body_on_a_read_is_retried(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.write_file("f.txt", b"content")
    daytona_server.faults.fail("bulk-download", 502, times=2)
    assert await daytona_backend.read_file("f.txt", 100) == b"content"
    assert count(daytona_server, "POST toolbox /files/bulk-download") == 3


async def test_502_on_a_code_run_is_reported_and_never_rerun(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.ready()
    daytona_server.faults.fail("code-run", 502, after_handling=True)  # the code ran; only the answer is lost
    with pytest.raises(SandboxUnavailable, match="502"):
        await daytona_backend.execute_code("open('runs.txt', 'a').write('ran\\n')", "python", 10)
    assert count(daytona_server, "POST toolbox /process/code-run") == 2  # the start-up scan, then this run
    assert await daytona_backend.read_file("runs.txt", 100) == b"ran\n"


async def test_a_dropped_connection_on_a_read_is_retried(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.write_file("f.txt", b"content")
    daytona_server.faults.drop("files/info")
    assert await daytona_backend.read_file("f.txt", 100) == b"content"


async def test_a_dropped_connection_on_a_code_run_is_reported(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.ready()
    daytona_server.faults.drop("code-run")
    with pytest.raises(SandboxUnavailable, match="cannot reach Daytona"):
        await daytona_backend.execute_code("print(1)", "python", 10)
    assert count(daytona_server, "POST toolbox /process/code-run") == 2


async def test_a_sandbox_stopped_mid_session_is_started_again_for_a_read(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.write_file("kept.txt", b"still here")
    daytona_server.stop_sandbox(daytona_backend.sandbox_id)
    assert await daytona_backend.read_file("kept.txt", 100) == b"still here"
    assert daytona_server.sandbox(daytona_backend.sandbox_id).state == "started"
    assert count(daytona_server, "POST api /sandbox/{sandbox_id}/start") == 1


async def test_a_sandbox_stopped_mid_session_is_started_again_for_code(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.ready()
    daytona_server.stop_sandbox(daytona_backend.sandbox_id)
    result = await daytona_backend.execute_code("open('runs.txt', 'a').write('ran\\n')", "python", 10)
    assert result.ok  # the proxy refused the first try (400, sandbox not running): the code had not run
    assert await daytona_backend.read_file("runs.txt", 100) == b"ran\n"


async def test_after_an_idle_spell_the_state_is_checked_first(daytona_server: FakeDaytona) -> None:
    box = make_backend(daytona_server, idle_recheck=0.0)
    try:
        await box.write_file("f.txt", b"x")
        daytona_server.stop_sandbox(box.sandbox_id)
        daytona_server.routes.clear()
        assert await box.read_file("f.txt", 10) == b"x"
        assert daytona_server.routes[:2] == ["GET api /sandbox/{sandbox_id}", "POST api /sandbox/{sandbox_id}/start"]
        assert not any("400" in r for r in daytona_server.routes)
    finally:
        await box.close()


async def test_a_sandbox_deleted_behind_our_back_is_replaced_on_the_next_operation(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.write_file("f.txt", b"x")
    first = daytona_backend.sandbox_id
    daytona_server.store.delete(daytona_server.sandbox(first))
    with pytest.raises(SandboxUnavailable, match="no longer exists"):
        await daytona_backend.read_file("f.txt", 10)
    assert await daytona_backend.list_files("") == []
    assert daytona_backend.sandbox_id != first


async def test_sizes_are_checked_before_any_byte_moves(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    with pytest.raises(FileTooLarge):
        await daytona_backend.write_file("big.bin", b"x" * (daytona_backend.max_file_bytes + 1))
    await daytona_backend.write_file("small.bin", b"y" * 100)
    with pytest.raises(FileTooLarge):
        await daytona_backend.read_file("small.bin", 99)
    assert count(daytona_server, "POST toolbox /files/bulk-upload") == 1
    assert count(daytona_server, "POST toolbox /files/bulk-download") == 0


async def test_a_slow_transfer_times_out_with_a_plain_message(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.write_file("f.txt", b"x")
    daytona_backend.transfer_timeout = 1
    daytona_server.faults.delay("bulk-download", 3)
    with pytest.raises(BackendError, match="reading /workspace/f.txt timed out"):
        await daytona_backend.read_file("f.txt", 10)


async def test_the_daemon_timeout_is_a_timed_out_result(
    daytona_backend: DaytonaSandbox, daytona_server: FakeDaytona
) -> None:
    await daytona_backend.ready()
    daytona_server.faults.fail(
        "code-run", 408, message="command execution timeout", code="PROCESS_EXECUTION_TIMEOUT", source="DAYTONA_DAEMON"
    )
    result = await daytona_backend.execute_code("print(1)", "python", 2)
    assert result.timed_out and result.exit_code is None
    assert "Daytona daemon" in result.killed_reason


async def test_an_unreachable_api_says_where_it_tried(daytona_server: FakeDaytona) -> None:
    port = daytona_server.port
    daytona_server.stop()
    box = make_backend(daytona_server, retry_delays=())  # the SDK itself retries a refused connection twice
    with pytest.raises(SandboxUnavailable, match=f"cannot reach Daytona at http://127.0.0.1:{port}/api"):
        await box.ready()
    await box.close()


async def test_an_image_without_python3_is_explained_and_an_ephemeral_sandbox_not_left_behind(
    daytona_server: FakeDaytona,
) -> None:
    daytona_server.faults.respond("code-run", 200, {"exitCode": 127, "result": "sh: 1: python3: not found"}, times=-1)
    box = make_backend(daytona_server, config=daytona_config(daytona_server, ephemeral=True))
    with pytest.raises(SandboxUnavailable, match="python3: not found") as caught:
        await box.ready()
    assert "needs python3" in str(caught.value)
    assert daytona_server.store.sandboxes == {}
    await box.close()


async def test_a_workspace_too_big_to_scan_is_checked_along_each_path(
    daytona_backend: DaytonaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.backends.daytona_runner.SCAN_LIMITS", (5, 5.0))  # "huge": more than 5 entries
    make = "import os\nfor i in range(20):\n    open(f'f{i}', 'w').write('x')\nos.makedirs('sub')\n"
    make += "open('sub/in.txt', 'w').write('inside')\nos.symlink('sub', 'in')\nos.symlink('/etc', 'out')"
    assert (await daytona_backend.execute_code(make, "python", 10)).ok
    assert daytona_backend.session.live is not None and not daytona_backend.session.live.links.complete
    assert await daytona_backend.read_file("in/in.txt", 100) == b"inside"
    with pytest.raises(PathRejected):
        await daytona_backend.read_file("out/passwd", 100)
