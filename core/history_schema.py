"""The conversation history's SQLite schema and connections (see core/history.py for what it keeps and why).

WAL mode with ``synchronous=NORMAL``: every statement commits on its own, a commit is in the WAL file when it
returns, and what is in the WAL survives the process being killed at any moment. Only an OS crash or a power
cut can lose the last commits, which for a chat history is the right price for not waiting on the disk for
every streamed token.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1

_TABLES = (
    """CREATE TABLE IF NOT EXISTS conversations (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
        model TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS conversations_by_update ON conversations(updated)",
    # status: complete, incomplete, cancelled, or streaming while a reply arrives (its text is then
    # content followed by its rows in message_deltas, in id order)
    """CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL, content TEXT NOT NULL, tool_calls TEXT NOT NULL, tool_call_id TEXT NOT NULL,
        tool_name TEXT NOT NULL, command TEXT NOT NULL, tool_status TEXT NOT NULL, status TEXT NOT NULL,
        model TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id)",
    "CREATE INDEX IF NOT EXISTS messages_streaming ON messages(status) WHERE status = 'streaming'",
    """CREATE TABLE IF NOT EXISTS message_deltas (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        text TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS deltas_by_message ON message_deltas(message_id, id)",
)

# Full-text search over message text, kept by triggers. The index is not written per streamed token: a
# streaming message's content is empty until the reply is finished (or recovered after a crash).
_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(content, content='messages', content_rowid='id')",
    """CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    """CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END""",
    """CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
    END""",
)


class HistorySchemaTooNew(Exception):
    """The history database was written by a newer sandchat."""


def connect(path: Path) -> tuple[sqlite3.Connection, bool]:
    """A connection to the history at ``path`` (created 0o600 if new) and whether full-text search works."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite gives -wal/-shm the same mode
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn, _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise


def _ensure_schema(conn: sqlite3.Connection) -> bool:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise HistorySchemaTooNew(f"history schema {version} is newer than this sandchat understands")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _TABLES:
            conn.execute(statement)
        fts = _create_fts(conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return fts


def _create_fts(conn: sqlite3.Connection) -> bool:
    conn.execute("SAVEPOINT fts")
    try:
        for statement in _FTS:
            conn.execute(statement)
    except sqlite3.OperationalError:  # an SQLite built without FTS5: search falls back to LIKE
        conn.execute("ROLLBACK TO fts")
        conn.execute("RELEASE fts")
        return False
    conn.execute("RELEASE fts")
    return True
