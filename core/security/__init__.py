"""The security checks every operation passes before it reaches a sandbox, and every output passes after.

- ``paths``: ``PathPolicy.normalize`` turns a user's or the AI's path into a workspace-relative one or refuses
  it; ``is_within`` lets a backend check a resolved real path.
- ``limits``: size limits, checked before any data moves.
- ``sanitize``: strips terminal control sequences from text before it is shown; makes control characters
  visible where the user must see exactly what was there.
- ``risk``: flags dangerous constructs in code and shell commands for the approval step; never edits code.
"""

from __future__ import annotations

from core.security.limits import DEFAULT_MAX_FILE_BYTES, check_size, content_size
from core.security.paths import PathPolicy, is_within
from core.security.risk import RiskFinding, Severity, classify
from core.security.sanitize import (
    describe_control_char,
    find_control_chars,
    strip_terminal_escapes,
    visible_control_chars,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "PathPolicy",
    "RiskFinding",
    "Severity",
    "check_size",
    "classify",
    "content_size",
    "describe_control_char",
    "find_control_chars",
    "is_within",
    "strip_terminal_escapes",
    "visible_control_chars",
]
