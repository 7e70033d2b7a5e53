"""The real command line in production mode: ``sandchat`` over the Daytona SDK against the local Daytona server."""

from __future__ import annotations

import json

from core.paths import AppPaths
from tests.core.test_cli import sandchat
from tests.daytona_server.fixtures import daytona_server
from tests.daytona_server.server import FakeDaytona

__all__ = ["daytona_server"]


def env_for(server: FakeDaytona) -> dict[str, str]:
    return {"DAYTONA_API_KEY": server.api_key, "DAYTONA_API_URL": server.api_url, "DAYTONA_TARGET": "eu"}


def test_a_daytona_key_selects_production_mode_and_doctor_checks_the_connection(
    app_paths: AppPaths, daytona_server: FakeDaytona
) -> None:
    doctor = sandchat("doctor", env=env_for(daytona_server))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "backend:    daytona (auto: DAYTONA_API_KEY is set)" in doctor.stdout
    assert "round trip: ok" in doctor.stdout and daytona_server.api_key not in doctor.stdout + doctor.stderr


def test_operations_run_in_the_daytona_sandbox_and_the_audit_names_it(
    app_paths: AppPaths, daytona_server: FakeDaytona
) -> None:
    env = env_for(daytona_server)
    run = sandchat("exec", "--json", "write file:hello.py content:print('from daytona')",
                   "run code:exec(open('hello.py').read())", "read file:../../etc/passwd", "--keep-going", env=env)
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["status"] for r in results] == ["ok", "ok", "blocked"], run.stderr
    assert results[1]["exec"]["stdout"] == "from daytona\n"
    assert not (app_paths.workspace("default") / "hello.py").exists()  # nothing on the local disk
    records = [json.loads(line) for line in sandchat("audit", "list", "--json", env=env).stdout.splitlines()]
    assert {r["backend"] for r in records} == {"daytona:eu"}
    ids = {r["sandbox_id"] for r in records if r["tool"] == "execute_code"}
    assert len(ids) == 1 and ids != {"default"}  # Daytona's own id, once the sandbox exists


def test_a_bad_daytona_key_is_reported_plainly(app_paths: AppPaths, daytona_server: FakeDaytona) -> None:
    env = env_for(daytona_server) | {"DAYTONA_API_KEY": "dtn_wrong_key_0123456789"}
    doctor = sandchat("doctor", env=env)
    assert doctor.returncode == 4 and "API key accepted: FAILED" in doctor.stdout
    run = sandchat("exec", "list files:", env=env)
    assert run.returncode == 4 and "dtn_wrong_key_0123456789" not in run.stderr
