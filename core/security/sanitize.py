"""Make text from the sandbox or the AI safe to show: no terminal control sequences reach the screen.

Two tools for two needs:

- ``strip_terminal_escapes`` removes every terminal control sequence (CSI, OSC, DCS/SOS/PM/APC strings,
  two-character escapes, their 8-bit C1 forms) and every other control character except ``\\n`` and ``\\t``.
  Use it on program output and chat text before it is rendered.
- ``visible_control_chars`` / ``find_control_chars`` show or locate control characters where the user must
  see exactly what was there, e.g. a rejected path or a command waiting for approval.

Carriage returns: ``"\\r\\n"`` becomes ``"\\n"`` and a lone ``"\\r"`` also becomes ``"\\n"``. A terminal would
move the cursor back and let later text overwrite earlier text; that is how a progress bar redraws itself, and
also how ``rm -rf ~\\recho done`` hides its first half. Turning it into a new line shows everything that was
printed, at the cost of one line per progress-bar update.

Rich markup such as ``[bold]`` is plain text here and is left alone: markup is the renderer's business.
Bidirectional-text controls (U+202A-U+202E, U+2066-U+2069) are not terminal controls either and are kept by
``strip_terminal_escapes``; ``find_control_chars`` reports them for views that must show code exactly.

Everything is a single regular-expression pass with no nested or overlapping quantifiers, so the work is
linear in the length of the text, whatever the text is.
"""

from __future__ import annotations

import re

__all__ = [
    "CONTROL_CHARS",
    "describe_control_char",
    "find_control_chars",
    "strip_terminal_escapes",
    "visible_control_chars",
]

_ST = r"(?:\x1b\\|\x9c)"  # string terminator, 7-bit or 8-bit

# Each alternative starts at a distinct introducer and uses only possessive or bounded repeats, so no input
# makes the engine backtrack more than one step. The leading run swallows introducers that are cut short by
# the next one (ESC ESC [ ...), as a terminal does; without it, 10 MB of ESC would be ten million matches.
_TERMINAL_SEQUENCE = re.compile(
    r"(?=[\x00-\x08\x0b-\x1f\x7f-\x9f])[\x1b\x90\x98\x9b\x9d-\x9f]*(?:"
    + "|".join(
        (
            # CSI: ESC [ or 8-bit CSI, parameters, intermediates, one final byte (absent if malformed).
            r"(?:\x1b\[|\x9b)[\x30-\x3f]*+[\x20-\x2f]*+[\x40-\x7e]?",
            # OSC: ESC ] or 8-bit OSC up to BEL or ST; an unterminated one runs to the next ESC or the end.
            rf"(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*+(?:\x07|{_ST})?",
            # DCS, SOS, PM, APC: up to ST, or to the next ESC or the end when unterminated.
            rf"(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*+{_ST}?",
            # nF escapes (charset designation such as ESC ( B): intermediates then one final byte.
            r"\x1b[\x20-\x2f]++[\x30-\x7e]?",
            # Two-character escapes: ESC c (reset), ESC 7 / ESC 8 (save/restore cursor) ...; or lone ESC.
            r"\x1b[\x30-\x7e]?",
            # Runs of the other controls: C0 except \t, \n and ESC; DEL; C1 except the introducers above.
            r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x8f\x91-\x97\x99\x9a\x9c]++",
        )
    )
    + ")"
)

_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

#: Characters that must never pass unseen: C0 (including \t, \n, \r), DEL, C1, line and paragraph
#: separators, and the bidirectional-text controls that can make text display differently from what it is.
CONTROL_CHARS = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f\u2028\u2029{_BIDI_CONTROLS}]")

_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def strip_terminal_escapes(text: str) -> str:
    """Remove every terminal control sequence and control character except ``\\n`` and ``\\t``."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _TERMINAL_SEQUENCE.sub("", text)


def _escape(char: str) -> str:
    code = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible_control_chars(text: str) -> str:
    """Replace each control character by a visible escape such as ``\\x1b`` or ``\\u202e``.

    Backslashes already in the text are left as they are, so the result is for people to read, not to decode.
    """
    return CONTROL_CHARS.sub(lambda match: _escape(match.group()), text)


def find_control_chars(text: str) -> list[int]:
    """The indices of the characters that ``visible_control_chars`` would replace."""
    return [match.start() for match in CONTROL_CHARS.finditer(text)]


def describe_control_char(char: str) -> str:
    """Name one control character for a message, e.g. ``"control character \\x1b"``."""
    code = ord(char)
    if code == 0:
        return "NUL byte"
    if code < 0x20 or code == 0x7F:
        return f"control character {_escape(char)}"
    if code <= 0x9F:
        return f"C1 control character {_escape(char)}"
    if char == "\u2028":
        return "line separator U+2028"
    if char == "\u2029":
        return "paragraph separator U+2029"
    if char in _BIDI_CONTROLS:
        return f"bidirectional-text control U+{code:04X}"
    return f"character U+{code:04X}"
