"""SecureOperations: the one pipeline every operation passes, from the TUI, the CLI or the AI.

parse -> validate (core/security) -> gate (policy / approval) -> backend -> recorder (audit log).

Nothing reaches a backend any other way. The gate and the recorder are seams: by default every
validated operation is allowed and nothing is recorded; the policy and the audit log plug in there.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal, Protocol

from core.backends.base import Backend, display_path
from core.backends.local_launch import canonical_language
from core.commands import (
    Command,
    CommandSyntaxError,
    DeleteFile,
    GetFileInfo,
    ListFiles,
    ReadFile,
    RunCode,
    SearchWeb,
    WriteFile,
    format_command,
    parse,
)
from core.errors import BackendError, SandchatError, ValidationError
from core.events import (
    Actor,
    Event,
    Listener,
    OperationBlocked,
    OperationFailed,
    OperationFinished,
    OperationStarted,
    OutputChunk,
)
from core.results import (
    OperationResult,
    Status,
    describe_bytes,
    describe_entries,
    describe_exec,
    describe_info,
    exec_summary,
)
from core.security.limits import DEFAULT_MAX_FILE_BYTES, check_size, content_size
from core.security.paths import PathPolicy
from core.security.risk import RiskFinding, classify
from core.security.sanitize import find_control_chars, strip_terminal_escapes

if TYPE_CHECKING:
    from core.search import SearchResult

    #: Runs a web search; raises SandchatError (e.g. core.search.SearchError) when the provider fails.
    Searcher = Callable[[str], Awaitable[list[SearchResult]]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What the pipeline enforces before anything moves."""

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_code_bytes: int = 1024 * 1024
    exec_timeout: float = 30.0
    languages: tuple[str, ...] = ()  # allowed languages of run code; empty: whatever the backend runs


@dataclass(frozen=True)
class OperationRequest:
    """A validated operation waiting for the gate's decision."""

    op_id: int
    actor: Actor
    command: Command
    text: str
    path: str  # /workspace/... or ""
    findings: tuple[RiskFinding, ...]


@dataclass(frozen=True)
class Decision:
    """The gate's answer; ``command`` may be an edited replacement (validated again)."""

    allowed: bool
    reason: str = ""
    command: Command | None = None


class Gate(Protocol):
    """Decides whether a validated operation may run (the approval policy plugs in here)."""

    async def decide(self, request: OperationRequest) -> Decision: ...


class Recorder(Protocol):
    """Records every outcome (the audit log plugs in here). Raising stops the operation: fail closed."""

    def before(self, request: OperationRequest) -> None: ...

    def after(self, result: OperationResult) -> None: ...


class AllowAll:
    """The default gate: validation is the only check."""

    async def decide(self, request: OperationRequest) -> Decision:
        return Decision(True, "no approval policy configured")


Outcome = tuple[str, str]  # (message, output)
Kind = Literal["blocked", "failed"]


class SecureOperations:
    """The pipeline. Methods are named in the user's words; ``run`` takes command text."""

    def __init__(
        self,
        backend: Backend,
        *,
        limits: Limits | None = None,
        paths: PathPolicy | None = None,
        gate: Gate | None = None,
        recorder: Recorder | None = None,
        searcher: Searcher | None = None,
    ) -> None:
        self.backend = backend
        self.limits = limits or Limits()
        self.paths = paths or PathPolicy()
        self.gate: Gate = gate or AllowAll()
        self.recorder = recorder
        self.searcher = searcher
        self._recorded_hash: tuple[str, str] = ("", "")
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns a function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the pipeline
                log.exception("listener %r failed on %r", listener, event)

    # -- the user's words --------------------------------------------------------------------
    async def run(self, text: str, *, actor: Actor = "user") -> OperationResult:
        """Parse command text and run it; a syntax error is a blocked operation, not an exception."""
        try:
            command = parse(text)
        except CommandSyntaxError as err:
            return self._end_early(actor, text, "parse", "blocked", err.pretty())
        return await self.execute(command, actor=actor)

    async def read_file(self, path: str, *, actor: Actor = "user") -> OperationResult:
        return await self.execute(ReadFile(path), actor=actor)

    async def write_file(self, path: str, content: str, *, actor: Actor = "user") -> OperationResult:
        return await self.execute(WriteFile(path, content), actor=actor)

    async def delete_file(self, path: str, *, actor: Actor = "user") -> OperationResult:
        return await self.execute(DeleteFile(path), actor=actor)

    async def list_files(self, directory: str = "", *, actor: Actor = "user") -> OperationResult:
        return await self.execute(ListFiles(directory), actor=actor)

    async def get_file_info(self, path: str, *, actor: Actor = "user") -> OperationResult:
        return await self.execute(GetFileInfo(path), actor=actor)

    async def execute_code(
        self, code: str, language: str = "python", *, actor: Actor = "user"
    ) -> OperationResult:
        return await self.execute(RunCode(code, language), actor=actor)

    async def search_web(self, query: str, *, actor: Actor = "user") -> OperationResult:
        return await self.execute(SearchWeb(query), actor=actor)

    # -- the pipeline --------------------------------------------------------------------------
    async def execute(self, command: Command, *, actor: Actor = "user") -> OperationResult:
        """Validate, ask the gate, run on the backend, record; always returns a result."""
        text = format_command(command)
        op_id = next(self._ids)
        started = time.perf_counter()
        self._emit(OperationStarted(op_id, actor, text, command.tool, time.time()))
        base = OperationResult(op_id, actor, text, command.tool, "ok", "", command=command)
        try:
            request = self._validate(op_id, actor, command, text)
        except ValidationError as err:
            return self._finish(base, started, "blocked", str(err))
        base = replace(base, path=request.path, findings=request.findings)
        decision = await self.gate.decide(request)
        if not decision.allowed:
            return self._finish(base, started, "denied", decision.reason or "denied")
        if decision.command is not None and decision.command != command:
            return await self.execute(decision.command, actor=actor)
        try:
            if self.recorder is not None:
                self._sync_policy_hash()
                self.recorder.before(request)
            result = await self._dispatch(base, command)
        except asyncio.CancelledError:  # the intent is on record: its outcome must be too
            self._finish(base, started, "failed", "cancelled before it finished")
            raise
        except ValidationError as err:  # e.g. a symlink out of the root, a file over the limit
            return self._finish(base, started, "blocked", str(err))
        except (BackendError, SandchatError) as err:
            return self._finish(base, started, "failed", str(err))
        except OSError as err:
            return self._finish(base, started, "failed", f"{type(err).__name__}: {err.strerror or err}")
        return self._finish(result, started, result.status, result.message)

    def _validate(self, op_id: int, actor: Actor, command: Command, text: str) -> OperationRequest:
        path = ""
        findings: tuple[RiskFinding, ...] = ()
        match command:
            case ReadFile(p) | DeleteFile(p) | GetFileInfo(p):
                path = display_path(self.paths.normalize(p, allow_root=False))
            case WriteFile(p, content):
                path = display_path(self.paths.normalize(p, allow_root=False))
                check_size(content_size(content), self.limits.max_file_bytes, "content")
            case ListFiles(d):
                path = display_path(self.paths.normalize(d, allow_root=True))
            case RunCode(code, language):
                if not code.strip():
                    raise ValidationError("there is no code to run", field="code")
                check_size(content_size(code), self.limits.max_code_bytes, "code")
                self._check_language(language)
                findings = tuple(classify(code, language))
            case SearchWeb(query):
                if find_control_chars(query):
                    raise ValidationError("the search query holds control characters", field="query")
        return OperationRequest(op_id, actor, command, text, path, findings)

    def policy_hash(self) -> str:
        """A stable hash of the rules in force (limits, path policy, gate), carried by every audit record."""
        gate = getattr(self.gate, "policy_hash", None)
        gate_part = gate() if callable(gate) else type(self.gate).__name__
        text = repr((self.limits, self.paths, gate_part))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def _sync_policy_hash(self) -> None:
        # An "always" answer changes what runs unasked, and a remote sandbox gets its id once it exists:
        # records after either must carry the new values.
        update = getattr(self.recorder, "update_context", None)
        current = (self.policy_hash(), self.backend.sandbox_id)
        if callable(update) and current != self._recorded_hash:
            update(policy_hash=current[0], sandbox_id=current[1])
            self._recorded_hash = current

    def _check_language(self, language: str) -> None:
        allowed = self.limits.languages
        if allowed and canonical_language(language) not in {canonical_language(a) for a in allowed}:
            raise ValidationError(
                f"running {language} code is not allowed here",
                field="language",
                hint=f"allowed: {', '.join(allowed)} (config key local.languages)",
            )

    async def _dispatch(self, base: OperationResult, command: Command) -> OperationResult:
        rel = base.path.removeprefix("/workspace").strip("/")
        backend = self.backend
        match command:
            case ReadFile():
                data = await backend.read_file(rel, self.limits.max_file_bytes)
                msg = f"read {len(data):,} bytes from {base.path}"
                return replace(base, message=msg, output=describe_bytes(data), content=data, bytes_out=len(data))
            case WriteFile(_, content):
                raw = content.encode("utf-8")
                info = await backend.write_file(rel, raw)
                return replace(base, message=f"wrote {len(raw):,} bytes to {info.path}", info=info, bytes_in=len(raw))
            case DeleteFile():
                await backend.delete_file(rel)
                return replace(base, message=f"deleted {base.path}")
            case ListFiles():
                entries = tuple(await backend.list_files(rel))
                msg = f"{len(entries)} entries in {base.path}"
                return replace(base, message=msg, entries=entries, output=describe_entries(entries))
            case GetFileInfo():
                info = await backend.get_file_info(rel)
                return replace(base, message=f"{info.kind} {info.path}", info=info, output=describe_info(info))
            case RunCode(code, language):
                return await self._run_code(base, code, language)
            case SearchWeb(query):
                return await self._search(base, query)
        raise AssertionError(f"unhandled command {command!r}")

    async def _search(self, base: OperationResult, query: str) -> OperationResult:
        if self.searcher is None:
            raise BackendError(
                "web search has no provider configured",
                hint="run `sandchat config set search.provider searxng` and `sandchat config set search.url URL`",
            )
        from core.search import format_results

        results = tuple(await self.searcher(query))
        output = format_results(list(results))
        return replace(base, message=f"{len(results)} results for {query!r}", output=output,
                       search_results=results, bytes_out=len(output.encode("utf-8")))

    async def _run_code(self, base: OperationResult, code: str, language: str) -> OperationResult:
        def on_output(stream: Literal["stdout", "stderr"], text: str) -> None:
            self._emit(OutputChunk(base.op_id, stream, strip_terminal_escapes(text)))

        result = await self.backend.execute_code(code, language, self.limits.exec_timeout, on_output)
        out = len(result.stdout.encode("utf-8", "replace")) + len(result.stderr.encode("utf-8", "replace"))
        return replace(
            base,
            status="ok" if result.ok else "error",
            message=exec_summary(result),
            output=describe_exec(result),
            exec=result,
            bytes_in=len(code.encode("utf-8")),
            bytes_out=out,
        )

    # -- endings --------------------------------------------------------------------------------
    def _finish(
        self, result: OperationResult, started: float, status: Status, message: str
    ) -> OperationResult:
        final = replace(
            result,
            status=status,
            message=strip_terminal_escapes(message),
            duration=time.perf_counter() - started,
        )
        if self.recorder is not None:
            try:
                self._sync_policy_hash()
                self.recorder.after(final)
            except SandchatError as err:  # it happened but is not on record: never silent, never lost
                final = replace(final, message=f"{final.message} [NOT RECORDED: {err}]", audit_error=str(err))
        event: OperationFinished
        if final.status in ("blocked", "denied"):
            event = OperationBlocked(final)
        elif final.status == "failed":
            event = OperationFailed(final)
        else:
            event = OperationFinished(final)
        self._emit(event)
        return final

    def _end_early(self, actor: Actor, text: str, tool: str, status: Kind, message: str) -> OperationResult:
        op_id = next(self._ids)
        started = time.perf_counter()
        shown = strip_terminal_escapes(text)
        self._emit(OperationStarted(op_id, actor, shown, tool, time.time()))
        base = OperationResult(op_id, actor, shown, tool, status, "")
        return self._finish(base, started, status, message)

