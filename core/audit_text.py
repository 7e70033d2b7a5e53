"""The audit log's text search: a trigram index over command, path and message, kept off the append path.

The index is an FTS5 table with the trigram tokenizer (case-insensitive substring search in milliseconds over a
million records) where SQLite has it. It covers the path, the message and the first 4 KiB of the command, each
followed by END, a control character, so that every two characters of the text begin a trigram (see
:func:`match_expression`). It is contentless: the text lives once, in ``records``, and the delete trigger hands
back exactly what was indexed.

Appends do not touch it. Indexing a record in the append's own transaction cost more than the rest of the append
(FTS5 writes a new segment per transaction, then merges them); :func:`index_new` instead indexes every record past
the newest indexed one, in one transaction. The log runs it before every text query, so that a search sees every
committed record; every few hundred appends (its housekeeping), so that this catch-up stays a few milliseconds;
and before pruning (the delete trigger needs every deleted record indexed). A kill during a catch-up rolls it
back, and the next one does it again.

How a term is searched (case-insensitively: ASCII letters always, other letters when the term is two characters or
longer, as the tokenizer folds them and LIKE does not):

* three characters or more: the term itself, one trigram phrase;
* two characters: the term followed by each character that occurs in the indexed text (``records_text_chars``,
  kept by :func:`index_new`) or by END: exact, because every occurrence is followed by one of them, and as fast as
  a long term (about a hundred phrases for text in Latin script);
* one character, a term holding END or NUL, a log whose text holds a NUL or more than MAX_FOLLOWERS distinct
  characters, and SQLite without FTS5: a LIKE scan, also exact, but its time grows with the log when the term
  is rare (about half a second per million records when nothing matches).
"""

from __future__ import annotations

import sqlite3

TEXT_INDEX_CHARS = 4096
END = "\x01"
#: A two-character term becomes one phrase per known character; beyond this many it is scanned instead.
MAX_FOLLOWERS = 1000

# The indexed form of a row; the delete trigger must rebuild the very same values.
_INDEXED = "substr({r}.command, 1, {n}) || char(1), {r}.path || char(1), {r}.message || char(1)"

#: Statements creating the index; the first fails (and the rest are skipped) where SQLite has no FTS5 trigram.
SCHEMA = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS records_text USING fts5("
    "command, path, message, content='', tokenize='trigram')",
    "CREATE TABLE IF NOT EXISTS records_text_chars (ch TEXT PRIMARY KEY) WITHOUT ROWID",
    "DROP TRIGGER IF EXISTS records_text_add",  # schema 1 indexed every record as it was appended
    "DROP TRIGGER IF EXISTS records_text_remove",
    # Only records already indexed may be handed back: an FTS5 'delete' of text it never saw corrupts the index.
    f"""CREATE TRIGGER records_text_remove AFTER DELETE ON records
    WHEN old.seq <= (SELECT coalesce(max(rowid), 0) FROM records_text) BEGIN
        INSERT INTO records_text(records_text, rowid, command, path, message)
        VALUES ('delete', old.seq, {_INDEXED.format(r='old', n=TEXT_INDEX_CHARS)});
    END""",
)

_INDEX_ROWS = f"""INSERT INTO records_text(rowid, command, path, message)
    SELECT seq, {_INDEXED.format(r='records', n=TEXT_INDEX_CHARS)} FROM records WHERE seq > ? ORDER BY seq"""
_TEXT_OF_ROWS = f"SELECT substr(command, 1, {TEXT_INDEX_CHARS}), path, message FROM records WHERE seq > ?"


def has_text_index(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'records_text'").fetchone()
    return row is not None


def rebuild(conn: sqlite3.Connection) -> None:
    """Empty the index, in the caller's transaction (when its format changed); index_new fills it again."""
    conn.execute("INSERT INTO records_text(records_text) VALUES ('delete-all')")
    conn.execute("DELETE FROM records_text_chars")


def index_new(conn: sqlite3.Connection) -> int:
    """Index every record past the newest indexed one, in the caller's transaction; the newest seq indexed."""
    done = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM records_text").fetchone()[0])
    chars: set[str] = set()
    rows = 0
    for texts in conn.execute(_TEXT_OF_ROWS, (done,)):
        rows += 1
        for text in texts:
            chars.update(text)
    if not rows:
        return done
    conn.executemany("INSERT OR IGNORE INTO records_text_chars (ch) VALUES (?)", ((ch,) for ch in chars))
    conn.execute(_INDEX_ROWS, (done,))
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM records").fetchone()[0])


def catch_up(conn: sqlite3.Connection) -> int:
    """:func:`index_new` in a write transaction of its own, if anything is left to index; the newest seq indexed."""
    indexed, newest = conn.execute(
        "SELECT (SELECT coalesce(max(rowid), 0) FROM records_text), (SELECT coalesce(max(seq), 0) FROM records)"
    ).fetchone()
    if indexed >= newest:
        return int(indexed)  # nothing new: no need to take the write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = index_new(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return done


def match_expression(conn: sqlite3.Connection, text: str) -> str | None:
    """The FTS5 query that finds ``text`` as a substring, or None when it must be scanned with LIKE."""
    if END in text or "\x00" in text or len(text) < 2:
        return None  # the FTS5 query syntax cannot hold a NUL; LIKE stops at one (SQLite's text functions do)
    if len(text) >= 3:
        return _phrase(text)
    # ASCII letters fold the same way in Python and in the tokenizer; other characters are kept as they are.
    followers = {ch.lower() if ch.isascii() else ch for (ch,) in conn.execute("SELECT ch FROM records_text_chars")}
    if len(followers) > MAX_FOLLOWERS or "\x00" in followers:
        return None
    return " OR ".join(_phrase(text + ch) for ch in sorted(followers | {END}))


def _phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
