"""The filter bar over the audit table: time range, actor, tool, status and free text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import get_args

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Select

from core.audit import AuditFilter
from core.cli_audit import parse_when
from core.commands import Command
from core.errors import ValidationError

ACTORS: tuple[str, ...] = ("user", "assistant", "app")
STATUSES: tuple[str, ...] = ("started", "ok", "error", "failed", "blocked", "denied")
TOOLS: tuple[str, ...] = tuple(sorted(command.tool for command in get_args(Command)))

#: Seconds of quiet after a keystroke before a typed filter runs.
TYPING_PAUSE = 0.3


class TimeBound(Validator):
    """An ISO date or date-time, or an age such as 7d; empty means no bound."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__()
        self._now = now

    def validate(self, value: str) -> ValidationResult:
        if not value.strip():
            return self.success()
        try:
            parse_when(value, now=self._now())
        except ValidationError as err:
            return self.failure(err.hint or str(err))
        return self.success()


class AuditFilterBar(Horizontal):
    """Inputs and selects that make an AuditFilter; posts FiltersChanged when it changes."""

    DEFAULT_CSS = """
    AuditFilterBar { height: auto; }
    AuditFilterBar > Input { width: 1fr; }
    AuditFilterBar > #since, AuditFilterBar > #until { width: 22; }
    AuditFilterBar > Select { width: 17; }
    AuditFilterBar > #tool { width: 19; }
    """

    class FiltersChanged(Message):
        """The user changed a filter; ``filters`` is the whole new filter."""

        def __init__(self, filters: AuditFilter) -> None:
            super().__init__()
            self.filters = filters

    def __init__(self, *, clock: Callable[[], float], id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._clock = clock
        self._posted = AuditFilter()
        self._typing: Timer | None = None

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def compose(self) -> ComposeResult:
        validators = [TimeBound(self._now)]
        yield Input(placeholder="since: 7d, 2025-06-01", id="since", validators=validators, compact=True)
        yield Input(placeholder="until: 1d, 2025-07-01", id="until", validators=validators, compact=True)
        yield Select([(a, a) for a in ACTORS], prompt="actor", id="actor", compact=True)
        yield Select([(t, t) for t in TOOLS], prompt="tool", id="tool", compact=True)
        yield Select([(s, s) for s in STATUSES], prompt="status", id="status", compact=True)
        yield Input(placeholder="text in command, path or message", id="text", compact=True)

    def current(self) -> AuditFilter | None:
        """The filter the widgets describe, or None while a time does not parse."""
        try:
            since, until = (self._time(name) for name in ("since", "until"))
        except ValidationError:
            return None
        text = self.query_one("#text", Input).value.strip()
        return AuditFilter(since=since, until=until, actor=self._choice("actor"), tool=self._choice("tool"),
                           status=self._choice("status"), text=text or None)

    def _time(self, name: str) -> datetime | None:
        value = self.query_one(f"#{name}", Input).value.strip()
        return parse_when(value, now=self._now()) if value else None

    def _choice(self, name: str) -> str | None:
        value = self.query_one(f"#{name}", Select).value
        return value if isinstance(value, str) else None

    def apply(self) -> None:
        """Post the filter now, if it is valid and differs from the last one posted."""
        if self._typing is not None:
            self._typing.stop()
            self._typing = None
        filters = self.current()
        if filters is not None and filters != self._posted:
            self._posted = filters
            self.post_message(self.FiltersChanged(filters))

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._typing is not None:
            self._typing.stop()
        self._typing = self.set_timer(TYPING_PAUSE, self.apply)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.validation_result is not None and not event.validation_result.is_valid:
            reason = "; ".join(event.validation_result.failure_descriptions)
            self.notify(reason, title=f"{event.input.id}: not a time", severity="error", markup=False)
            return
        self.apply()

    @on(Select.Changed)
    def _chosen(self, event: Select.Changed) -> None:
        event.stop()
        self.apply()
