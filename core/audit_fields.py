"""What goes into an audit record for an operation: redacted text, elided file contents, digests.

File contents are never stored: a write is recorded as ``write file:PATH content:<N bytes sha256:HEX>`` and a
read as the size and SHA-256 of the bytes read. Code that ran is stored (it is what was executed), after
redaction, with the size and SHA-256 of the code as submitted, so the exact text can still be matched
against a copy even where redaction changed it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from core.audit_types import AuditContext
from core.commands import Command, RunCode, WriteFile, format_command
from core.security.redact import redact, redact_known

if TYPE_CHECKING:
    from core.operations import OperationRequest
    from core.results import OperationResult
    from core.security.risk import RiskFinding

Scrub = Callable[[str], str]
Fields = dict[str, object]

#: Text that did not parse is kept up to this many characters; the rest is summarised by size and digest.
MAX_UNPARSED_CHARS = 16 * 1024
_CONTENT_MARK = re.compile(r"content:", re.IGNORECASE)
_FINDINGS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # json.dumps(...) builds one per call


def valid_text(text: str) -> str:
    """``text`` storable as UTF-8: lone surrogates (which SQLite cannot take) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _digest(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


def _encode(text: str) -> bytes:
    # surrogatepass: the digest of odd input must not raise; for valid text it equals the strict encoding.
    return text.encode("utf-8", "surrogatepass")


def _elided(size: int, sha: str) -> str:
    return f"<{size} bytes sha256:{sha}>"


def describe_command(command: Command | None, text: str) -> tuple[str, int | None, str | None]:
    """Command text fit to store (before redaction) and the size and SHA-256 of its content or code."""
    match command:
        case WriteFile(path, content):
            size, sha = _digest(_encode(content))
            return format_command(WriteFile(path, "")) + _elided(size, sha), size, sha
        case RunCode(code, _):
            size, sha = _digest(_encode(code))
            return text, size, sha
        case None:
            return _describe_unparsed(text)
    return text, None, None


def _describe_unparsed(text: str) -> tuple[str, int | None, str | None]:
    """Input that did not parse may still carry a file's content: cut it at ``content:`` and at a size cap."""
    mark = _CONTENT_MARK.search(text)
    keep = mark.end() if mark else len(text)
    keep = min(keep, MAX_UNPARSED_CHARS)
    if keep == len(text):
        return text, None, None
    size, sha = _digest(_encode(text[keep:]))
    return text[:keep] + _elided(size, sha), size, sha


def findings_json(findings: Iterable[RiskFinding]) -> str:
    """Risk findings as compact JSON: rule, severity and the span in the code (not the matched text)."""
    doc = [{"rule": f.rule, "severity": f.severity, "start": f.start, "end": f.end} for f in findings]
    return _FINDINGS_ENCODER.encode(doc)


def _context_fields(context: AuditContext) -> Fields:
    return {
        "session_id": context.session_id,
        "backend": context.backend,
        "sandbox_id": context.sandbox_id,
        "isolation": context.isolation,
        "policy_hash": context.policy_hash,
    }


def intent_fields(request: OperationRequest, context: AuditContext, scrub: Scrub) -> Fields:
    """The record written before an allowed operation runs (status "started")."""
    command, size, sha = describe_command(request.command, request.text)
    return {
        **_context_fields(context),
        "op_id": request.op_id,
        "actor": request.actor,
        "tool": request.command.tool,
        "command": scrub(command),
        "path": scrub(request.path),
        "decision": "allowed",
        "decision_reason": "",
        "status": "started",
        "message": "",
        "exit_code": None,
        "duration_ms": None,
        "bytes_in": 0,
        "bytes_out": 0,
        "content_size": size,
        "content_sha256": sha,
        "findings": findings_json(request.findings),
    }


def outcome_fields(result: OperationResult, context: AuditContext, scrub: Scrub) -> Fields:
    """The record written when an operation ended, whatever the outcome."""
    command, size, sha = describe_command(result.command, result.text)
    if result.tool == "read_file" and result.content is not None:
        size, sha = _digest(result.content)
    refused = result.status in ("blocked", "denied")
    message = scrub(result.message)
    return {
        **_context_fields(context),
        "op_id": result.op_id,
        "actor": result.actor,
        "tool": result.tool,
        "command": scrub(command),
        "path": scrub(result.path),
        "decision": result.status if refused else "allowed",
        "decision_reason": message if refused else "",
        "status": result.status,
        "message": message,
        "exit_code": result.exec.exit_code if result.exec is not None else None,
        "duration_ms": round(result.duration * 1000.0, 3),
        "bytes_in": result.bytes_in,
        "bytes_out": result.bytes_out,
        "content_size": size,
        "content_sha256": sha,
        "findings": findings_json(result.findings),
    }


def make_scrub(known_secrets: Iterable[str]) -> Scrub:
    """Redaction of every text field: exact known secrets first (patterns could split them), then patterns."""
    known = tuple(known_secrets)

    def scrub(text: str) -> str:
        if not text:
            return text
        return valid_text(redact(redact_known(text, known) if known else text))

    return scrub
