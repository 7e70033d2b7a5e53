"""The installed command line: ``sandchat ask`` as a subprocess against the local OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from core.paths import AppPaths
from tests.core.test_cli import sandchat
from tests.openai_server import Call, OpenAIServer, Reply, ToolCalls

KEY = "sk-proj-e2e-local-server-key-0001"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def configure(server: OpenAIServer) -> dict[str, str]:
    assert sandchat("config", "set", "assistant.model", "test-model").returncode == 0
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url}


def write_call() -> ToolCalls:
    return ToolCalls((Call("write_file", json.dumps({"file_path": "out.txt", "content": "written"})),))


def test_without_a_terminal_the_assistants_write_is_denied(app_paths: AppPaths, server: OpenAIServer) -> None:
    env = configure(server)
    server.script(write_call(), Reply("I could not write it."))
    run = sandchat("ask", "write out.txt", env=env)
    assert run.returncode == 0, run.stderr
    assert "I could not write it." in run.stdout and "--approve" in run.stderr
    assert not (app_paths.workspace("default") / "out.txt").exists()


def test_with_approve_it_writes_and_the_audit_names_the_assistant(app_paths: AppPaths, server: OpenAIServer) -> None:
    env = configure(server)
    server.script(write_call(), Reply("Done."))
    run = sandchat("ask", "--approve", "--json", "write out.txt", env=env)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["reply"].endswith("Done.") and doc["tool_calls"][0]["status"] == "ok"
    assert (app_paths.workspace("default") / "out.txt").read_text() == "written"
    listed = sandchat("audit", "list", "--json", "--tool", "write_file").stdout.splitlines()
    records = [json.loads(line) for line in listed]
    assert {r["actor"] for r in records} == {"assistant"} and {r["status"] for r in records} == {"started", "ok"}
    for name in ("audit.db", "audit.db-wal", "history.db", "history.db-wal"):
        path = app_paths.data_dir / name
        assert not path.exists() or KEY.encode() not in path.read_bytes()


def test_without_a_model_it_says_how_to_configure_one(app_paths: AppPaths) -> None:
    run = sandchat("ask", "hello")
    assert run.returncode == 2 and "OPENAI_API_KEY" in run.stdout + run.stderr
