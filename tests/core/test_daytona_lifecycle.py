"""The Daytona sandbox's lifecycle: found again by name, started if stopped, ephemeral ones deleted; and
what the SDK sends: the create request's settings, and the routes it calls (checked against a list)."""

from __future__ import annotations

import os
import traceback
from pathlib import Path

import pytest

from core.backends.daytona import DaytonaSandbox, check_connection
from core.errors import SandchatError
from tests.daytona_server.fixtures import daytona_config, daytona_server, make_backend
from tests.daytona_server.server import FakeDaytona

__all__ = ["daytona_server"]

ROUTES_FILE = Path(__file__).resolve().parents[1] / "daytona_server" / "sdk_routes.txt"
ROUTES_HEADER = (
    "# The routes the Daytona SDK calls in a full sandchat session (start, every file operation, a code run,\n"
    "# a stopped sandbox started again, an ephemeral one deleted), as METHOD api|toolbox /template.\n"
    "# Checked by tests/core/test_daytona_lifecycle.py; regenerate with SANDCHAT_UPDATE_ROUTES=1.\n"
)


async def test_a_persistent_sandbox_is_found_again_by_a_second_instance(daytona_server: FakeDaytona) -> None:
    first = make_backend(daytona_server, sandbox="keep")
    await first.write_file("kept.txt", b"across runs")
    first_id = first.sandbox_id
    await first.close()
    assert daytona_server.sandbox(first_id).state == "started"  # left to Daytona's auto-stop
    daytona_server.stop_sandbox(first_id)

    second = make_backend(daytona_server, sandbox="keep")
    try:
        assert await second.read_file("kept.txt", 100) == b"across runs"
        assert second.sandbox_id == first_id
    finally:
        await second.close()
    assert daytona_server.routes.count("POST api /sandbox") == 1
    assert daytona_server.routes.count("POST api /sandbox/{sandbox_id}/start") == 1


async def test_names_keep_sandboxes_apart(daytona_server: FakeDaytona) -> None:
    boxes = [make_backend(daytona_server, sandbox=name) for name in ("one", "two", "three")]
    try:
        for box in boxes:
            await box.write_file("name.txt", box.session.name.encode())
        assert len({box.sandbox_id for box in boxes}) == 3
        again = make_backend(daytona_server, sandbox="three")  # the listing is paged: found on a later page
        assert await again.read_file("name.txt", 10) == b"three"
        await again.close()
    finally:
        for box in boxes:
            await box.close()


async def test_an_ephemeral_sandbox_is_deleted_on_close(daytona_server: FakeDaytona) -> None:
    box = make_backend(daytona_server, config=daytona_config(daytona_server, ephemeral=True, auto_stop_minutes=0))
    await box.write_file("tmp.txt", b"gone soon")
    body = daytona_server.sandbox(box.sandbox_id).body
    assert body["labels"]["sandchat.ephemeral"] == "test" and "sandchat.sandbox" not in body["labels"]
    assert body["autoDeleteInterval"] == 0 and body["autoStopInterval"] == 15  # Daytona's own backstop
    await box.close()
    assert daytona_server.store.sandboxes == {}


async def test_the_create_request_carries_the_settings(daytona_server: FakeDaytona) -> None:
    config = daytona_config(
        daytona_server,
        target="eu",
        auto_stop_minutes=30,
        auto_delete_minutes=120,
        network_allow_list=("10.0.0.0/8", "192.168.0.0/16"),
        labels={"team": "ml"},
        image="python:3.12-slim",
        cpu=2,
        memory_gb=4,
        disk_gb=10,
    )
    box = make_backend(daytona_server, config=config)
    await box.ready()
    body = daytona_server.sandbox(box.sandbox_id).body
    await box.close()
    assert body["labels"] == {"team": "ml", "sandchat.sandbox": "test", "code-toolbox-language": "python"}
    assert (body["target"], body["autoStopInterval"], body["autoDeleteInterval"]) == ("eu", 30, 120)
    assert body["networkBlockAll"] is True and body["networkAllowList"] == "10.0.0.0/8,192.168.0.0/16"
    assert (body["cpu"], body["memory"], body["disk"]) == (2, 4, 10)
    assert "python:3.12-slim" in body["buildInfo"]["dockerfileContent"]
    assert box.isolation().details[1].startswith("region: eu")


async def test_isolation_names_the_sandbox_region_and_network(daytona_server: FakeDaytona) -> None:
    box = make_backend(daytona_server)
    before = box.isolation()
    assert before.level == "strong" and "not started yet" in before.details[0]
    await box.ready()
    after = box.isolation()
    await box.close()
    assert after.summary.startswith("Daytona cloud sandbox")
    assert after.details[0] == f"sandbox {box.sandbox_id}"
    assert "region: us" in after.details[1]
    assert "all outbound traffic blocked" in after.details[2]


async def test_doctor_reports_each_check(daytona_server: FakeDaytona) -> None:
    config = daytona_config(daytona_server)
    good = await check_connection(config, daytona_server.api_key)
    assert [(name, ok) for name, ok, _ in good] == [
        ("API key", True), ("URL reachable", True), ("API key accepted", True), ("region", True), ("round trip", True),
    ]
    bad = await check_connection(config, "not-the-key-9876")
    assert [ok for _, ok, _ in bad] == [True, True, False, False, False]
    assert "did not accept the API key" in bad[2][2] and "not-the-key-9876" not in repr(bad)
    missing = await check_connection(config, "")
    assert missing[0] == ("API key", False, missing[0][2]) and "DAYTONA_API_KEY" in missing[0][2]
    daytona_server.stop()
    down = await check_connection(config, "key")
    assert down[1][1] is False and "cannot connect" in down[1][2]


async def test_the_api_key_never_appears_in_an_error(daytona_server: FakeDaytona) -> None:
    secret = "dtn_SECRET_should_never_be_shown_42"
    daytona_server.api_key = secret
    box = make_backend(daytona_server, api_key=secret)
    errors: list[BaseException] = []
    faults = [("files/info", 401), ("files/info", 403), ("files/info", 429), ("bulk-download", 502), ("code-run", 503)]
    try:
        await box.write_file("f.txt", b"x")
        for match, status in faults:
            daytona_server.faults.fail(match, status, message=f"denied for Bearer {secret}", times=-1)
            errors.append(await _failure(box))
            daytona_server.faults.clear()
        daytona_server.faults.drop("code-run", times=-1)
        errors.append(await _failure(box))
    finally:
        await box.close()
    wrong = make_backend(daytona_server, api_key=secret + "-wrong")
    errors.append(await _failure(wrong))
    await wrong.close()
    assert len(errors) == 7
    for error in errors:
        shown = "".join(traceback.format_exception(error)) + repr(error) + str(error)
        assert secret not in shown, shown


async def _failure(box: DaytonaSandbox) -> BaseException:
    try:
        await box.read_file("f.txt", 10)
        await box.execute_code("print(1)", "python", 5)
    except SandchatError as error:
        return error
    raise AssertionError("no error")


async def test_the_sdk_calls_only_the_routes_on_record(daytona_server: FakeDaytona) -> None:
    """Every route a full session uses; a new SDK version that changes them fails here (and in the fake).

    To accept a change on purpose: SANDCHAT_UPDATE_ROUTES=1 pytest tests/core/test_daytona_lifecycle.py
    """
    daytona_server.stop_sandbox((await _full_session(daytona_server, ephemeral=False)).sandbox_id)
    await _full_session(daytona_server, ephemeral=False)  # found stopped, started again
    await _full_session(daytona_server, ephemeral=True)  # created, then deleted
    assert daytona_server.sources == {"sdk-python-async"}
    seen = sorted(set(daytona_server.routes))
    if os.environ.get("SANDCHAT_UPDATE_ROUTES"):
        ROUTES_FILE.write_text(ROUTES_HEADER + "".join(f"{route}\n" for route in seen))
    on_record = ROUTES_FILE.read_text().split("\n")
    assert seen == [line for line in on_record if line and not line.startswith("#")]


async def _full_session(server: FakeDaytona, *, ephemeral: bool) -> DaytonaSandbox:
    box = make_backend(server, sandbox="routes", config=daytona_config(server, ephemeral=ephemeral))
    try:
        await box.write_file("d/f.txt", b"1")
        await box.read_file("d/f.txt", 10)
        await box.list_files("d")
        await box.get_file_info("d/f.txt")
        await box.execute_code("import os; os.symlink('f.txt', 'd/link')", "python", 10)
        await box.delete_file("d/link")
        await box.delete_file("d/f.txt")
        await box.delete_file("d")
    finally:
        await box.close()
    return box


@pytest.mark.parametrize("language", ["typescript", "javascript"])
async def test_code_runs_in_a_sandbox_made_for_another_language(daytona_server: FakeDaytona, language: str) -> None:
    box = make_backend(daytona_server, config=daytona_config(daytona_server, language=language))
    try:
        result = await box.execute_code("print('python anyway')", "python", 10)
    finally:
        await box.close()
    assert result.stdout == "python anyway\n"
