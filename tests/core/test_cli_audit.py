"""``sandchat audit`` over the records that real ``sandchat exec`` runs leave behind."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from core.cli_audit import parse_when
from core.errors import ValidationError
from core.paths import AppPaths
from tests.core.test_cli import ROOT, sandchat

SECRET = "sk-proj-Zx9vQw8rT7yU6iO5pA4sD3fG2hJ1kL0m"


def fill(app_paths: AppPaths) -> None:
    result = sandchat("exec", "--keep-going", "-", stdin=(
        f"write file:notes.txt content:my key is {SECRET}\n"
        "read file:notes.txt\n"
        "read file:../../etc/shadow\n"
        "run code:print(6*7)\n"
        "run code:import sys; sys.exit(2)\n"
    ))
    assert result.returncode == 3, result.stderr  # the blocked read


def test_list_show_and_filters(app_paths: AppPaths) -> None:
    fill(app_paths)
    listed = sandchat("audit", "list", "--json")
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    outcomes = [r for r in records if r["status"] != "started"]
    assert [r["tool"] for r in reversed(outcomes)] == ["write_file", "read_file", "read_file", "execute_code",
                                                      "execute_code"]
    assert [r["status"] for r in reversed(outcomes)] == ["ok", "ok", "blocked", "ok", "error"]
    blocked = sandchat("audit", "list", "--status", "blocked", "--json").stdout.splitlines()
    assert len(blocked) == 1 and json.loads(blocked[0])["path"] == ""
    code = sandchat("audit", "list", "--tool", "execute_code", "--status", "error", "--json").stdout.splitlines()
    assert json.loads(code[0])["exit_code"] == 2
    seq = outcomes[0]["seq"]
    shown = sandchat("audit", "show", str(seq))
    assert shown.returncode == 0 and "seq" in shown.stdout and "execute_code" in shown.stdout
    assert sandchat("audit", "show", "999999").returncode == 1


def test_contents_and_secrets_never_reach_the_log(app_paths: AppPaths) -> None:
    fill(app_paths)
    for name in ("audit.db", "audit.db-wal"):
        path = app_paths.data_dir / name
        if path.exists():
            assert SECRET.encode() not in path.read_bytes()
    listed = sandchat("audit", "list", "--tool", "write_file", "--json").stdout.splitlines()
    write = json.loads(listed[0])
    assert write["content_size"] == len(f"my key is {SECRET}") and len(write["content_sha256"]) == 64
    assert "my key is" not in write["command"]


def test_verify_detects_tampering_and_names_the_record(app_paths: AppPaths) -> None:
    fill(app_paths)
    ok = sandchat("audit", "verify")
    assert ok.returncode == 0 and "audit log OK" in ok.stdout
    with sqlite3.connect(app_paths.data_dir / "audit.db") as conn:
        seq = conn.execute("SELECT seq FROM records WHERE status = 'blocked'").fetchone()[0]
        conn.execute("UPDATE records SET status = 'ok' WHERE seq = ?", (seq,))
    broken = sandchat("audit", "verify")
    assert broken.returncode == 1 and f"BROKEN at record {seq}" in broken.stdout
    assert f"BROKEN at record {seq}" in sandchat("doctor").stdout


def test_export_stats_and_prune(app_paths: AppPaths, tmp_path: object) -> None:
    fill(app_paths)
    lines = sandchat("audit", "export", "--format", "jsonl").stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    assert all(len(e["mac"]) == 64 for e in exported) and len(exported) >= 9
    stats = json.loads(sandchat("audit", "stats", "--json").stdout)
    by_tool = {s["tool"]: s for s in stats}
    assert by_tool["read_file"]["count"] == 2 and by_tool["read_file"]["blocked_rate"] == 0.5
    assert by_tool["execute_code"]["success_rate"] == 0.5
    pruned = sandchat("audit", "prune", "--before", "2099-01-01")
    assert pruned.returncode == 0 and "chain stays verifiable" in pruned.stdout
    assert sandchat("audit", "verify").returncode == 0
    assert sandchat("audit", "list").stdout.strip() == ""


def test_turning_the_log_off_is_honoured_and_shown(app_paths: AppPaths) -> None:
    assert sandchat("config", "set", "audit.enabled", "false").returncode == 0
    assert sandchat("exec", "list files:").returncode == 0
    assert not (app_paths.data_dir / "audit.db").exists()
    assert "audit log:  disabled" in sandchat("doctor").stdout


def test_parse_when() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert parse_when("7d", now=now) == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_when("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(ValidationError, match="not a time"):
        parse_when("yesterday-ish")


def test_verify_on_a_terminal_shows_its_progress_then_clears_it(app_paths: AppPaths) -> None:
    fill(app_paths)
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAYTONA_", "OPENAI_"))}
    try:
        done = subprocess.run([sys.executable, "-m", "tui.main", "audit", "verify"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=secondary, text=True, timeout=120, check=False)
        os.close(secondary)
        shown = b""
        while chunk := _read(primary):
            shown += chunk
    finally:
        os.close(primary)
    records = len(sandchat("audit", "list", "--json").stdout.splitlines())
    assert done.returncode == 0 and f"audit log OK: {records} records verified" in done.stdout
    assert f"verifying… 0 of {records} records (0%)".encode() in shown and shown.endswith(b"\r\x1b[K")
    assert "verifying" not in done.stdout  # progress goes to the terminal only, never into piped output


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the other side is closed and everything was read
        return b""
