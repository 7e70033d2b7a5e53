"""Text that came from the sandbox, the AI or a person, made safe to draw.

Everything shown goes through here: terminal escape sequences are removed (or, for what the person
typed, made visible) and the result is a ``rich.text.Text`` built from a plain string, so neither
escapes nor Rich markup in it have any effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text

from core.security.sanitize import CONTROL_CHARS, strip_terminal_escapes, visible_control_chars

if TYPE_CHECKING:
    from core.security.risk import RiskFinding


def untrusted(text: str, style: str = "") -> Text:
    """Output of the sandbox or the AI: escapes stripped, markup inert."""
    return Text(strip_terminal_escapes(text), style=style)


def typed(text: str, style: str = "") -> Text:
    """What the person typed: control characters shown as visible escapes (newlines and tabs kept)."""
    return Text(visible_control_chars(text), style=style)


def one_line(text: str, limit: int = 200) -> str:
    """The first line of ``text`` (escapes made visible), cut at ``limit`` characters, with a mark if cut."""
    first, _, rest = text.partition("\n")
    shown = visible_control_chars(first)
    cut = len(shown) > limit
    return shown[:limit] + (" …" if cut or rest else "")


def with_findings(code: str, findings: Iterable[RiskFinding], style: str = "bold white on red") -> Text:
    """Code with every risk finding's span (``code[start:end]``) highlighted; control characters made visible.

    The spans index the raw code, so the text is built piece by piece: making a control character visible
    changes lengths, and doing it before placing the highlights would put them in the wrong place.
    """
    spans = sorted((f.start, f.end) for f in findings if 0 <= f.start < f.end <= len(code))
    out = Text()
    at = 0
    for start, end in spans:
        start = max(start, at)
        if start >= end:
            continue
        out.append(_visible(code[at:start]))
        out.append(_visible(code[start:end]), style=style)
        at = end
    out.append(_visible(code[at:]))
    return out


def _visible(text: str) -> str:
    # newlines and tabs are layout here, not something hidden
    return CONTROL_CHARS.sub(lambda m: m.group() if m.group() in "\n\t" else visible_control_chars(m.group()), text)
