"""Text that came from the sandbox, the AI or a person, made safe to draw.

Everything shown goes through here: terminal escape sequences are removed (or, for what the person
typed, made visible) and the result is a ``rich.text.Text`` built from a plain string, so neither
escapes nor Rich markup in it have any effect.
"""

from __future__ import annotations

from rich.text import Text

from core.security.sanitize import strip_terminal_escapes, visible_control_chars


def untrusted(text: str, style: str = "") -> Text:
    """Output of the sandbox or the AI: escapes stripped, markup inert."""
    return Text(strip_terminal_escapes(text), style=style)


def typed(text: str, style: str = "") -> Text:
    """What the person typed: control characters shown as visible escapes (newlines and tabs kept)."""
    return Text(visible_control_chars(text), style=style)
