"""Web search and the approval policy, reached through the real ``sandchat exec``."""

from __future__ import annotations

import json

from core.paths import AppPaths
from tests.core.test_cli import sandchat
from tests.core.test_search_helpers import ScriptedServer, no_proxy, searxng_payload, server

__all__ = ["no_proxy", "server"]  # fixtures used below


def test_search_web_through_a_searxng_instance(app_paths: AppPaths, server: ScriptedServer) -> None:
    server.answer("/search", searxng_payload(3))
    assert sandchat("config", "set", "search.provider", "searxng").returncode == 0
    assert sandchat("config", "set", "search.url", server.url).returncode == 0
    out = sandchat("exec", "--json", "search web:sandbox isolation")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "ok" and result["message"] == "3 results for 'sandbox isolation'"
    assert server.seen and "q=sandbox+isolation" in server.seen[0].path


def test_search_without_a_provider_says_how_to_set_one(app_paths: AppPaths) -> None:
    out = sandchat("exec", "search web:anything")
    assert out.returncode == 4 and "search.provider" in out.stderr


def test_a_deny_rule_applies_to_the_persons_own_commands(app_paths: AppPaths) -> None:
    cfg = app_paths.config_file
    cfg.parent.mkdir(parents=True)
    cfg.write_text('[assistant]\nrules = [{ tool = "delete_file", path = "keep/**", action = "deny" }]\n')
    assert sandchat("exec", "write file:keep/a.txt content:x").returncode == 0
    denied = sandchat("exec", "delete file:keep/a.txt")
    assert denied.returncode == 5 and "DENIED" in denied.stderr
    assert (app_paths.workspace("default") / "keep" / "a.txt").exists()
    listed = sandchat("audit", "list", "--json", "--status", "denied").stdout.splitlines()
    records = [json.loads(line) for line in listed]
    assert len(records) == 1 and records[0]["decision"] == "denied" and records[0]["policy_hash"]
