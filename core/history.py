"""Conversation history: every message saved in SQLite (``data_dir/history.db``) as it happens.

What is kept: conversations (title, created, updated, model) and their messages (role, text, tool calls as
JSON, tool results with the command that ran and its status, timestamps, model, and whether the message is
complete, incomplete or cancelled). Conversations can be listed, resumed, renamed, deleted, searched (SQLite
FTS5 full-text search, falling back to LIKE) and exported as Markdown.

Saved as it happens. User messages and tool results are written when they exist. A reply being streamed gets
its row when its first text arrives, and every piece of text is appended to ``message_deltas`` (one small
insert, committed, per piece) *before* anyone is shown it. The assistant hands text on in pieces it has held
for at most 50 ms (:class:`core.assistant.reply.HeldText`): a fast model's hundreds of tokens a second are a
few commits a second, not one per token. When the reply ends the pieces become the message's text and are
removed. So everything shown is on disk, and a crash loses only text not yet shown (at most the last 50 ms of
it); the next open turns a reply left streaming into an incomplete message holding everything saved. Appending
rows instead of rewriting the message keeps each piece's cost constant however long the reply grows, and keeps
the search index out of the per-piece path.

Secrets are never stored: every text is passed through :func:`core.security.redact.redact` and
:func:`~core.security.redact.redact_known` (the configured API keys) before it is written. Streamed pieces are
redacted one by one, and the whole reply again when it is put together, which catches a secret spread over
several pieces. A consequence worth knowing: ``redact`` errs on the side of hiding, so code such as
``max_tokens = 4096`` is saved as ``max_tokens = [REDACTED]`` and a resumed conversation shows it so.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.assistant.messages import ChatMessage, MessageStatus, Role, ToolCallRequest
from core.errors import SandchatError
from core.history_export import conversation_markdown
from core.history_schema import connect
from core.paths import ensure_private_dir
from core.security.redact import redact, redact_known

DB_NAME = "history.db"
_COLUMNS = ("id, role, content, tool_calls, tool_call_id, tool_name, command, tool_status, status, model, "
            "created, updated")


class HistoryError(SandchatError):
    """A conversation that does not exist, or a history that cannot be used."""


@dataclass(frozen=True)
class ConversationInfo:
    """One conversation in a listing."""

    id: int
    title: str
    created: float
    updated: float
    model: str
    message_count: int


@dataclass(frozen=True)
class StoredMessage:
    """A saved message with its row id; ``streaming`` while its reply is still arriving (or was cut by a crash)."""

    id: int
    conversation_id: int
    message: ChatMessage
    updated: float
    streaming: bool = False


@dataclass(frozen=True)
class SearchHit:
    """A message (or, with ``message_id`` None, a title) that matches a search."""

    conversation_id: int
    title: str
    message_id: int | None
    role: str
    snippet: str
    created: float


class ConversationStore:
    """The history database. Open with :meth:`open`; every method commits before it returns."""

    def __init__(self, db_path: Path, *, known_secrets: Iterable[str] = ()) -> None:
        self.db_path = db_path
        self._secrets = tuple(s for s in known_secrets if s)
        self._conn, self.full_text = connect(db_path)
        self._lock = threading.Lock()
        self.recovered = self._recover_streaming()

    @classmethod
    def open(cls, data_dir: Path, *, known_secrets: Iterable[str] = ()) -> ConversationStore:
        """The history in ``data_dir`` (created 0o700 / 0o600 when missing)."""
        ensure_private_dir(data_dir)
        return cls(data_dir / DB_NAME, known_secrets=known_secrets)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _clean(self, text: str) -> str:
        return redact_known(redact(text), self._secrets)

    # -- conversations ---------------------------------------------------------------------------
    def create_conversation(self, title: str, model: str) -> int:
        """A new, empty conversation; returns its id."""
        now = time.time()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO conversations (title, created, updated, model) VALUES (?, ?, ?, ?)",
                (self._clean(title), now, now, model),
            )
        return int(cur.lastrowid or 0)

    def list_conversations(self, limit: int = 100) -> list[ConversationInfo]:
        """Conversations, the most recently updated first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT c.id, c.title, c.created, c.updated, c.model, "
                "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
                "FROM conversations c ORDER BY c.updated DESC, c.id DESC LIMIT ?", (limit,),
            ).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def conversation(self, conversation_id: int) -> ConversationInfo:
        """One conversation; HistoryError when there is none with that id."""
        with self._lock:
            row = self._conn.execute(
                "SELECT c.id, c.title, c.created, c.updated, c.model, "
                "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
                "FROM conversations c WHERE c.id = ?", (conversation_id,),
            ).fetchone()
        if row is None:
            raise HistoryError(f"there is no conversation {conversation_id}")
        return ConversationInfo(*row)

    def rename(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        with self._lock:
            cur = self._conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (self._clean(title.strip()), conversation_id)
            )
        self._check_found(cur.rowcount, conversation_id)

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation and all its messages."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._check_found(cur.rowcount, conversation_id)

    @staticmethod
    def _check_found(rowcount: int, conversation_id: int) -> None:
        if rowcount == 0:
            raise HistoryError(f"there is no conversation {conversation_id}")

    # -- messages --------------------------------------------------------------------------------
    def add_message(self, conversation_id: int, message: ChatMessage) -> int:
        """Save a whole message; returns its id."""
        with self._transaction():
            row = self._insert(conversation_id, message, message.status)
        return row

    def begin_message(self, conversation_id: int, role: Role, model: str, created: float | None = None) -> int:
        """A row for a reply that is about to stream; its text arrives through :meth:`append_delta`."""
        message = ChatMessage(role, "", model=model, created=time.time() if created is None else created)
        with self._transaction():
            row = self._insert(conversation_id, message, "streaming")
        return row

    def append_delta(self, message_id: int, text: str) -> None:
        """One more piece of a streaming reply, committed before this returns."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO message_deltas (message_id, text) VALUES (?, ?)", (message_id, self._clean(text))
            )

    def finish_message(self, message_id: int, message: ChatMessage) -> None:
        """The streamed reply is over: its full text, tool calls and status replace the pieces."""
        now = time.time()
        with self._transaction():
            self._conn.execute(
                "UPDATE messages SET content = ?, tool_calls = ?, status = ?, updated = ? WHERE id = ?",
                (self._clean(message.content), self._calls_json(message.tool_calls), message.status, now,
                 message_id),
            )
            self._conn.execute("DELETE FROM message_deltas WHERE message_id = ?", (message_id,))
            self._touch(message_id, now)

    def _insert(self, conversation_id: int, message: ChatMessage, status: str) -> int:
        now = time.time()
        cur = self._conn.execute(
            "INSERT INTO messages (conversation_id, role, content, tool_calls, tool_call_id, tool_name, command, "
            "tool_status, status, model, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (conversation_id, message.role, self._clean(message.content), self._calls_json(message.tool_calls),
             message.tool_call_id, message.tool_name, self._clean(message.command), message.tool_status, status,
             message.model, message.created, now),
        )
        row = int(cur.lastrowid or 0)
        self._touch(row, now)
        return row

    def _touch(self, message_id: int, now: float) -> None:
        self._conn.execute(
            "UPDATE conversations SET updated = ? WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)",
            (now, message_id),
        )

    def _calls_json(self, calls: tuple[ToolCallRequest, ...]) -> str:
        return json.dumps([{"id": c.id, "name": c.name, "arguments": self._clean(c.arguments)} for c in calls])

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        """Every message of a conversation in order; a streaming reply shows the text that has arrived."""
        self.conversation(conversation_id)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
            deltas = {row[0]: self._deltas(row[0]) for row in rows if row[8] == "streaming"}
        return [_stored(conversation_id, row, deltas.get(row[0])) for row in rows]

    def load_messages(self, conversation_id: int) -> list[ChatMessage]:
        """The conversation as the assistant resumes it."""
        return [stored.message for stored in self.messages(conversation_id)]

    def _deltas(self, message_id: int) -> str:
        rows = self._conn.execute(
            "SELECT text FROM message_deltas WHERE message_id = ? ORDER BY id", (message_id,)
        ).fetchall()
        return "".join(row[0] for row in rows)

    def _recover_streaming(self) -> int:
        """Replies left streaming by a crash become incomplete messages with all the text that arrived."""
        with self._lock:
            rows = self._conn.execute("SELECT id, content FROM messages WHERE status = 'streaming'").fetchall()
        for message_id, content in rows:
            with self._transaction():
                text = content + self._deltas(message_id)
                self._conn.execute(
                    "UPDATE messages SET content = ?, status = 'incomplete' WHERE id = ?",
                    (self._clean(text), message_id),
                )
                self._conn.execute("DELETE FROM message_deltas WHERE message_id = ?", (message_id,))
        return len(rows)

    # -- search and export -------------------------------------------------------------------------
    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages whose text holds every word of ``query`` (and conversations whose title does), best first."""
        words = query.split()
        if not words:
            return []
        with self._lock:
            hits = self._search_titles(words, limit)
            hits += self._search_fts(words, limit) if self.full_text else self._search_like(words, limit)
        return hits[:limit]

    def _search_titles(self, words: list[str], limit: int) -> list[SearchHit]:
        where = " AND ".join("title LIKE ? ESCAPE '\\'" for _ in words)
        rows = self._conn.execute(
            f"SELECT id, title, created FROM conversations WHERE {where} ORDER BY updated DESC LIMIT ?",
            (*(_like(w) for w in words), limit),
        ).fetchall()
        return [SearchHit(cid, title, None, "title", title, created) for cid, title, created in rows]

    def _search_fts(self, words: list[str], limit: int) -> list[SearchHit]:
        # each word quoted: the user's text is searched for, never read as FTS5 query syntax
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self._conn.execute(
            "SELECT m.conversation_id, c.title, m.id, m.role, "
            "snippet(messages_fts, 0, '[', ']', '…', 12), m.created "
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "JOIN conversations c ON c.id = m.conversation_id "
            "WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?", (match, limit),
        ).fetchall()
        return [SearchHit(*row) for row in rows]

    def _search_like(self, words: list[str], limit: int) -> list[SearchHit]:
        where = " AND ".join("m.content LIKE ? ESCAPE '\\'" for _ in words)
        rows = self._conn.execute(
            "SELECT m.conversation_id, c.title, m.id, m.role, substr(m.content, 1, 120), m.created "
            f"FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE {where} "
            "ORDER BY m.id DESC LIMIT ?", (*(_like(w) for w in words), limit),
        ).fetchall()
        return [SearchHit(*row) for row in rows]

    def export_markdown(self, conversation_id: int) -> str:
        """The conversation as a Markdown document."""
        return conversation_markdown(self.conversation(conversation_id), self.messages(conversation_id))


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _stored(conversation_id: int, row: tuple[object, ...], deltas: str | None) -> StoredMessage:
    (msg_id, role, content, calls, call_id, tool_name, command, tool_status, status, model, created, updated) = row
    streaming = status == "streaming"
    calls_data = json.loads(str(calls)) if calls else []
    message = ChatMessage(
        role=_role(str(role)), content=str(content) + (deltas or ""),
        tool_calls=tuple(ToolCallRequest(c["id"], c["name"], c["arguments"]) for c in calls_data),
        tool_call_id=str(call_id), tool_name=str(tool_name), command=str(command), tool_status=str(tool_status),
        status=_status("incomplete" if streaming else str(status)), model=str(model), created=float(str(created)),
    )
    return StoredMessage(int(str(msg_id)), conversation_id, message, float(str(updated)), streaming)


_ROLES: dict[str, Role] = {"system": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_STATUSES: dict[str, MessageStatus] = {"complete": "complete", "incomplete": "incomplete", "cancelled": "cancelled"}


def _role(role: str) -> Role:
    return _ROLES.get(role, "user")


def _status(status: str) -> MessageStatus:
    return _STATUSES.get(status, "incomplete")
