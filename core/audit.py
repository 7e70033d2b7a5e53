"""The audit log: the user's verifiable record of every operation, plugged into the pipeline as its Recorder.

Files (all under the data directory, which is 0o700):

* ``audit.db``: SQLite in WAL mode, one row per record, each committed in its own transaction;
* ``audit.key``: the 32-byte HMAC key (0o600), never inside the database;
* ``audit.anchor``: the newest committed seq and its MAC, rewritten after every commit.

What is recorded. ``before(request)`` writes an *intent* record (status "started", decision "allowed") right
before an allowed operation reaches the sandbox, and raises SandchatError when it cannot: the pipeline then
does not run the operation (fail closed), and an operation cut short by a crash still leaves its intent.
``after(result)`` writes the *outcome* record for every operation, including the blocked and denied ones that
never reached ``before``; it raises SandchatError too, so a lost outcome is never silent (the operation has
already happened then, so the caller decides how to show it). Intent and outcome share ``session_id`` and
``op_id``; an intent without an outcome is an operation that was cut short.

Before anything is written, command, path and message pass through redaction (known secret values, then
recognisable secret shapes), and file contents are replaced by their size and SHA-256 (core/audit_fields.py).

Tamper evidence (core/audit_chain.py): every record carries ``prev_mac`` and an HMAC-SHA256 over it and all its
fields, seq included. :meth:`AuditLog.verify` names the first record that changed, went missing, moved or was
cut off. The database may be ahead of the anchor (a crash between a commit and the anchor write leaves it one
record behind; that is reported as a note); an anchor ahead of the database means the tail was cut off. The key
sits next to the log, so this detects edits by anything that cannot read the key file (and accidents); a
party that can read the key can rewrite history, which only an export kept elsewhere (``export_jsonl``) shows.

Cost. An operation (intent and outcome) adds about half a millisecond. ``durability="normal"`` (the default):
a commit does not wait for the disk and the anchor is overwritten in place; a killed process still loses no
committed record and leaves a log that opens and verifies, but an OS crash or a power cut can lose the last
records (core/audit_store.py, core/audit_chain.write_anchor). ``durability="full"`` waits for the disk at every
record, commit and anchor (about 1.5 ms a record more here). Either way, every HOUSEKEEPING_EVERY appends the
log indexes the new records for text search and checkpoints the WAL, a few milliseconds (see ``_tidy``).
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from core import audit_query, audit_reports, audit_store, audit_text
from core.audit_chain import AnchorUnreadable, KeyUnavailable, Signer, load_key, read_anchor, write_anchor
from core.audit_fields import intent_fields, make_scrub, outcome_fields
from core.audit_store import Durability
from core.audit_types import AuditContext, AuditFilter, AuditRecord, PruneReport, ToolStats, VerifyReport
from core.audit_verify import Progress, verify_log
from core.errors import SandchatError
from core.paths import ensure_private_dir

if TYPE_CHECKING:
    from core.operations import OperationRequest
    from core.results import OperationResult

__all__ = ["AuditContext", "AuditFilter", "AuditLog", "AuditRecord", "PruneReport", "ToolStats", "VerifyReport"]

#: Appends between two rounds of housekeeping (text index, WAL checkpoint); see AuditLog._tidy.
HOUSEKEEPING_EVERY = 256

_BEFORE_HINT = "the operation was not run, because it could not be recorded; check free disk space and {dir}"
_AFTER_HINT = "the operation ended but its outcome is missing from the audit log; check free disk space and {dir}"


class AuditLog:
    """An append-only, HMAC-chained log of operation records in SQLite; satisfies the pipeline's Recorder."""

    def __init__(
        self,
        db_path: Path,
        *,
        key_path: Path,
        anchor_path: Path,
        context: AuditContext,
        known_secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        durability: Durability = "normal",
    ) -> None:
        if durability not in ("normal", "full"):
            raise ValueError(f"durability must be 'normal' or 'full', not {durability!r}")
        self.db_path = db_path
        self.key_path = key_path
        self.anchor_path = anchor_path
        self.context = context  # replace it (or call update_context) once the sandbox id is known
        self.durability: Durability = durability
        self._clock = clock
        self._scrub = make_scrub(known_secrets)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._closed = False
        self._tidied = 0  # the seq after which this log last did its housekeeping (see _tidy)
        self._conn = self._connect()
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints are part of the housekeeping
        self._reader = self._connect()  # list/get/count never wait behind a write, nor hold one up
        self._text_index = audit_text.has_text_index(self._conn)
        self._signer, self._key_problem = self._load_signer()
        self._expected_head = self._anchored_head()

    def _anchored_head(self) -> tuple[int, str] | None:
        """The record the anchor names: every append first checks it is still in the database, so a tail cut
        off between two runs is never silently written over. None when there is no readable anchor (verify
        reports that); the check then starts with this process's first append."""
        try:
            anchor = read_anchor(self.anchor_path)
        except AnchorUnreadable:
            return None
        return (anchor.seq, anchor.mac) if anchor is not None and anchor.seq > 0 else None

    @classmethod
    def open(
        cls,
        data_dir: Path,
        context: AuditContext,
        *,
        known_secrets: Iterable[str] = (),
        durability: Durability = "normal",
    ) -> AuditLog:
        """The log kept in ``data_dir`` (audit.db, audit.key, audit.anchor), created on first use."""
        ensure_private_dir(data_dir)
        return cls(
            data_dir / "audit.db",
            key_path=data_dir / "audit.key",
            anchor_path=data_dir / "audit.anchor",
            context=context,
            known_secrets=known_secrets,
            durability=durability,
        )

    def _connect(self) -> sqlite3.Connection:
        try:
            ensure_private_dir(self.db_path.parent)
            return audit_store.connect(self.db_path, self.durability)
        except (sqlite3.Error, OSError, audit_store.SchemaTooNew) as err:
            raise SandchatError(
                f"audit log {self.db_path} cannot be opened: {_cause(err)}",
                hint="sandchat runs no operation without its audit log; move the damaged file aside to start anew",
            ) from err

    def _load_signer(self) -> tuple[Signer | None, str]:
        # A new key only for a log that never held a record: a fresh key over old records would make the
        # whole history look forged, and silently starting over would hide that the key went missing.
        fresh = audit_store.is_empty(self._conn) and not self.anchor_path.exists()
        try:
            return Signer(load_key(self.key_path, create=fresh)), ""
        except KeyUnavailable as err:
            return None, str(err)
        except OSError as err:
            return None, f"key file cannot be created: {self.key_path}: {_cause(err)}"

    # -- recording --------------------------------------------------------------------------------
    def update_context(self, **changes: str) -> AuditContext:
        """Change fields of the context for records written from now on (e.g. ``sandbox_id=...``)."""
        self.context = replace(self.context, **changes)
        return self.context

    def before(self, request: OperationRequest) -> None:
        """Record the intent to run ``request``; raises SandchatError (so the operation stops) if it cannot."""
        self._append(intent_fields(request, self.context, self._scrub), _BEFORE_HINT)

    def after(self, result: OperationResult) -> None:
        """Record how an operation ended, whatever the outcome; raises SandchatError if it cannot."""
        self._append(outcome_fields(result, self.context, self._scrub), _AFTER_HINT)

    def _append(self, fields: dict[str, object], hint: str) -> None:
        hint = hint.format(dir=self.db_path.parent)
        with self._write_lock:
            if self._closed:
                raise SandchatError("audit log is closed", hint=hint)
            if self._signer is None:
                raise SandchatError(f"audit log cannot be written: {self._key_problem}", hint=hint)
            try:
                seq, mac = audit_store.append(
                    self._conn, self._signer, fields, self._clock(), expect=self._expected_head
                )
                write_anchor(self.anchor_path, seq, mac, self._signer, durable=self.durability == "full")
                self._expected_head = (seq, mac)
            except audit_store.TailMismatch as err:
                raise SandchatError(
                    f"audit log {self.db_path} was cut or changed: {err}",
                    hint="run `sandchat audit verify`; sandchat records nothing more over a damaged log",
                ) from err
            except (sqlite3.Error, OSError) as err:
                raise SandchatError(f"audit log {self.db_path} could not record the operation: {_cause(err)}",
                                    hint=hint) from err
            if seq - self._tidied >= HOUSEKEEPING_EVERY:
                self._tidy(seq)

    def _tidy(self, seq: int) -> None:
        """Index the records appended since the last time for text search, and checkpoint the WAL (write lock held).

        Doing both here, rather than in every append (the text index) or whenever the WAL reaches 1000 pages
        (SQLite's automatic checkpoint, with an fsync in NORMAL mode), keeps the appends in between cheap: a few
        milliseconds once per HOUSEKEEPING_EVERY records instead. Neither is needed for the records to be safe,
        so a failure waits for the next round; a text query indexes first anyway (and scans when it cannot).
        """
        self._tidied = seq
        if self._text_index:
            with contextlib.suppress(sqlite3.Error):
                audit_text.catch_up(self._conn)
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    # -- reading ----------------------------------------------------------------------------------
    def list(
        self, filters: AuditFilter | None = None, *, limit: int = 50, before_seq: int | None = None
    ) -> builtins.list[AuditRecord]:
        """Matching records, newest first; pass the last seq of a page as ``before_seq`` for the next page."""
        flt, indexed = self._ready(filters)
        with self._reading() as conn, _read_transaction(conn):
            selection = audit_query.select(conn, flt, text_index=indexed, before_seq=before_seq)
            return audit_query.list_records(conn, selection, limit)

    def get(self, seq: int) -> AuditRecord | None:
        """The record with this seq, if it is (still) in the log."""
        with self._reading() as conn:
            return audit_query.get_record(conn, seq)

    def count(self, filters: AuditFilter | None = None) -> int:
        """How many records match; on a connection of its own: counting a million records must not hold up the
        pages the audit screen asks for meanwhile."""
        flt, indexed = self._ready(filters)
        with self._snapshot() as conn, _read_transaction(conn):
            return audit_query.count_records(conn, audit_query.select(conn, flt, text_index=indexed))

    def export_jsonl(self, out: TextIO, filters: AuditFilter | None = None) -> int:
        """Write matching records oldest first as JSON lines (seq, prev_mac, mac included); returns the count."""
        flt, indexed = self._ready(filters)
        with self._snapshot() as conn, _read_transaction(conn):
            return audit_reports.export_jsonl(conn, audit_query.select(conn, flt, text_index=indexed), out)

    def stats(self, filters: AuditFilter | None = None) -> builtins.list[ToolStats]:
        """Per tool: outcomes, success and blocked rates, p50/p95 duration (intent records not counted)."""
        flt, indexed = self._ready(filters)
        with self._snapshot() as conn, _read_transaction(conn):
            return audit_reports.tool_stats(conn, audit_query.select(conn, flt, text_index=indexed, outcomes_only=True))

    def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Check every MAC and link, the sequence, and the tail against the anchor.

        ``progress(checked, total)`` is called as the walk goes (core.audit_verify.PROGRESS_EVERY records);
        an exception it raises stops the walk and comes out of here.
        """
        with self._snapshot() as conn:
            return verify_log(conn, self._signer, self._key_problem, self.anchor_path, progress)

    @property
    def last_seq(self) -> int:
        """The seq of the newest record (or of the last pruned one when none is left); 0 for an empty log."""
        with self._reading() as conn:
            return audit_store.head(conn)[0]

    # -- housekeeping ------------------------------------------------------------------------------
    def prune(self, before: datetime) -> PruneReport:
        """Delete records older than ``before``, keeping the rest verifiable from a MACed checkpoint.

        Refuses (SandchatError) when the log does not verify: pruning would destroy the evidence.
        """
        report = self.verify()
        if not report.ok or self._signer is None:
            raise SandchatError(f"audit log not pruned: {report.problem}", hint="investigate with verify first")
        with self._write_lock:
            try:
                return audit_reports.prune_before(
                    self._conn, self._signer, audit_query.epoch_of(before), self._clock()
                )
            except sqlite3.Error as err:
                raise SandchatError(f"audit log {self.db_path} could not be pruned: {_cause(err)}") from err

    def close(self) -> None:
        """Close the database; later writes raise SandchatError."""
        with self._write_lock, self._read_lock:
            if self._closed:
                return
            self._closed = True
            if self._text_index:
                with contextlib.suppress(sqlite3.Error):  # so that the next text query has little to index
                    audit_text.catch_up(self._conn)
            try:
                self._conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass  # only a planner hint; closing matters more
            self._conn.close()
            self._reader.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------------------
    def _ready(self, filters: AuditFilter | None) -> tuple[AuditFilter, bool]:
        """The filter to run, and whether the text index may serve it (a text filter brings it up to date first)."""
        flt = filters or AuditFilter()
        if not (flt.text and self._text_index):
            return flt, self._text_index
        with self._write_lock:
            if self._closed:
                raise SandchatError("audit log is closed")
            try:
                audit_text.catch_up(self._conn)
            except sqlite3.Error:
                return flt, False  # e.g. a read-only medium: LIKE finds the same records, only more slowly
        return flt, True

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock:
            if self._closed:
                raise SandchatError("audit log is closed")
            yield self._reader

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own for long reads, so they hold up neither writes nor short queries."""
        if self._closed:
            raise SandchatError("audit log is closed")
        conn = sqlite3.connect(self.db_path, isolation_level=None, timeout=10.0)
        try:
            yield conn
        finally:
            conn.close()


@contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One snapshot for the seq bounds of a query and the query itself."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")


def _cause(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    return str(err) or type(err).__name__
