"""``sandchat audit list|show|verify|export|stats|prune``: read and check the record of every operation."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TextIO

from core.audit import AuditFilter, AuditLog, AuditRecord
from core.errors import ValidationError
from core.security.sanitize import visible_control_chars

_RELATIVE = re.compile(r"(\d+)([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or an age such as 30m, 12h, 7d, 2w."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.fullmatch(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"{text!r} is not a time", field="time", hint="use e.g. 2026-11-29, 2026-11-29T14:00 or 7d / 12h / 30m"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def filters_from(args: argparse.Namespace) -> AuditFilter:
    return AuditFilter(
        since=parse_when(args.since) if args.since else None,
        until=parse_when(args.until) if args.until else None,
        actor=args.actor, tool=args.tool, status=args.status, text=args.text, session_id=args.session,
    )


def record_line(r: AuditRecord) -> str:
    """One record on one line for people; control characters made visible."""
    exit_part = f" exit={r.exit_code}" if r.exit_code is not None else ""
    duration = f" {r.duration_ms:.0f}ms" if r.duration_ms is not None else ""
    command = r.command.splitlines()[0] if r.command else ""
    command = command[:80] + ("…" if len(r.command) > len(command[:80]) else "")
    return visible_control_chars(f"{r.seq:>7} {r.time[:19]} {r.actor:<9} {r.status:<8}{exit_part}{duration} {command}")


def run_audit(args: argparse.Namespace, log: AuditLog, out: TextIO, err: TextIO | None = None) -> int:
    """Carry out one ``audit`` action; 0 on success, 1 when verification fails or a record is missing."""
    action = args.audit_action
    if action == "list":
        records = log.list(filters_from(args), limit=args.limit, before_seq=args.before_seq)
        for r in records:
            out.write((json.dumps(r.as_dict(), ensure_ascii=False) if args.json else record_line(r)) + "\n")
        return 0
    if action == "show":
        record = log.get(args.seq)
        if record is None:
            sys.stderr.write(f"sandchat: no audit record {args.seq} (the newest is {log.last_seq})\n")
            return 1
        data = record.as_dict()
        text = json.dumps(data, indent=2, ensure_ascii=False) if args.json else _show(data)
        out.write(text + "\n")
        return 0
    if action == "verify":
        return _verify(log, out, err)
    if action == "export":
        return _export(args, log, out)
    if action == "stats":
        return _stats(args, log, out)
    report = log.prune(parse_when(args.before))
    out.write(f"pruned {report.deleted} records; checkpoint at record {report.checkpoint_seq}; "
              f"{report.total_pruned} pruned in all; the chain stays verifiable\n")
    return 0


def _show(data: dict[str, object]) -> str:
    width = max(len(k) for k in data)
    return "\n".join(visible_control_chars(f"{k:<{width}}  {v}") for k, v in data.items())


def _verify(log: AuditLog, out: TextIO, err: TextIO | None) -> int:
    """``err``, when it is a terminal, shows how far the walk is (a million records take a while)."""
    shown = err is not None and err.isatty()

    def progress(checked: int, total: int) -> None:
        assert err is not None
        if total:
            err.write(f"\rverifying… {checked:,} of {total:,} records ({checked * 100 // total}%)")
            err.flush()

    report = log.verify(progress if shown else None)
    if shown:
        assert err is not None
        err.write("\r\x1b[K")  # the progress line gives way to the result
    if report.ok:
        out.write(f"audit log OK: {report.records_checked} records verified\n")
    else:
        out.write(f"audit log BROKEN at record {report.first_bad_seq}: {report.problem}\n")
    for note in report.notes:
        out.write(f"note: {note}\n")
    return 0 if report.ok else 1


def _export(args: argparse.Namespace, log: AuditLog, out: TextIO) -> int:
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            count = log.export_jsonl(handle, filters_from(args))
        sys.stderr.write(f"exported {count} records to {args.output}\n")
    else:
        log.export_jsonl(out, filters_from(args))
    return 0


def _stats(args: argparse.Namespace, log: AuditLog, out: TextIO) -> int:
    rows = log.stats(filters_from(args))
    if args.json:
        out.write(json.dumps([asdict(r) | {"success_rate": r.success_rate, "blocked_rate": r.blocked_rate}
                              for r in rows], indent=2) + "\n")
        return 0
    out.write(f"{'tool':<15} {'count':>8} {'success':>8} {'blocked':>8} {'p50 ms':>9} {'p95 ms':>9}\n")
    for r in rows:
        out.write(f"{r.tool:<15} {r.count:>8} {r.success_rate:>8.1%} {r.blocked_rate:>8.1%} "
                  f"{_ms(r.p50_ms):>9} {_ms(r.p95_ms):>9}\n")
    return 0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
