"""A crash loses only text not yet shown: a process killed with SIGKILL mid-reply leaves every word it showed saved."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from core.history import ConversationStore
from tests.openai_server import OpenAIServer, Reply

ROOT = Path(__file__).resolve().parents[2]
WORDS = " ".join(f"w{i}" for i in range(400))
CHUNK = 5

# The child streams a reply into the history and prints each piece (as JSON) once the assistant has shown it.
CHILD = """
import asyncio, json, sys
from pathlib import Path
from core.backends.local import LocalSandbox
from core.operations import SecureOperations
from core.config_model import AssistantConfig
from core.assistant.events import ReplyDelta
from core.assistant.loop import Assistant
from core.history import ConversationStore

async def main(base_url, data, workspace):
    store = ConversationStore.open(Path(data))
    ops = SecureOperations(LocalSandbox(Path(workspace), name="crash"))
    assistant = Assistant(ops, AssistantConfig(base_url=base_url, model="m"), history=store)
    def show(event):
        if isinstance(event, ReplyDelta):
            print(json.dumps(event.text), flush=True)
    assistant.subscribe(show)
    await assistant.send("tell me many words")

asyncio.run(main(*sys.argv[1:4]))
"""


def test_sigkill_mid_stream_keeps_everything_shown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with OpenAIServer() as server:
        server.script(Reply(WORDS, chunk=CHUNK, delay=0.01))
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, server.base_url, str(data), str(tmp_path / "ws")],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        shown = [json.loads(child.stdout.readline()) for _ in range(30)]
        child.send_signal(signal.SIGKILL)
        rest = child.stdout.read()  # pieces printed after we stopped reading but before the kill landed
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    shown += [json.loads(line) for line in rest.splitlines() if line.strip()]
    printed = "".join(shown)
    assert len(printed) < len(WORDS)

    # the pieces as saved, before the next open turns them into a message: every piece shown is among them,
    # and at most one more (saved, then killed before it was shown)
    with closing(sqlite3.connect(data / "history.db")) as db:
        pieces = [row[0] for row in db.execute("SELECT text FROM message_deltas ORDER BY id")]
    assert "".join(pieces).startswith(printed)
    unshown = pieces[len(shown) :]
    assert pieces[: len(shown)] == shown and len(unshown) <= 1

    store = ConversationStore.open(data)
    assert store.recovered == 1
    [conversation] = store.list_conversations()
    messages = store.load_messages(conversation.id)
    assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "incomplete")]
    saved = messages[1].content
    assert saved == "".join(pieces) and saved.startswith(printed)
    assert WORDS.startswith(saved)
    assert "[REDACTED]" not in saved
    store.close()
