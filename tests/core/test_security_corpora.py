"""The validators against public payload lists (tests/data/corpora, see SOURCES.md there).

Expectations are computed from the payloads, never counted by hand: an independent, deliberately sloppy
decoder says what a careless system would make of each payload, and whatever it would read as a way out of
the workspace must be refused. Every payload that is accepted must resolve inside a real temporary root.
"""

from __future__ import annotations

import os
import posixpath
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from core.errors import PathRejected
from core.security.paths import PathPolicy, is_within
from core.security.risk import classify
from core.security.sanitize import strip_terminal_escapes

CORPORA = Path(__file__).resolve().parents[1] / "data" / "corpora"
LICENCE_FILES = {"_copyright.txt", "LICENSE", "README.md", "unicode-README.md"}
POLICY = PathPolicy()
TARGET = "etc/passwd"


def payload_files(prefix: str) -> list[Path]:
    files = sorted(p for p in CORPORA.glob(f"{prefix}*/*") if p.name not in LICENCE_FILES and p.is_file())
    assert files, f"no {prefix} lists in {CORPORA}"
    return files


@cache
def payloads(path: Path) -> tuple[str, ...]:
    """Non-empty lines, without their line end (several lists use CRLF)."""
    lines = path.read_bytes().decode("utf-8").split("\n")
    return tuple(line.removesuffix("\r") for line in lines if line.removesuffix("\r"))


# A bare prefix such as "../", "..\\" or "..%2f" ends in a separator or an escape that may hide one.
PREFIX_END = re.compile(r"(?:[/\\]|%[0-9a-fA-F]{2}|%u[0-9a-fA-F]{4})$")


def variants(payload: str) -> list[str]:
    """The payload made concrete: {FILE} filled in, a bare prefix tried alone and with a target appended."""
    if "{FILE}" in payload:
        return [payload.replace("{FILE}", TARGET)]
    if PREFIX_END.search(payload):
        return [payload, payload + TARGET]
    return [payload]


# --- an independent, sloppy decoder: what a careless system would read -------------------------------------


UTF8_WIDTHS = ((1, 0x80), (2, 0xE0), (3, 0xF0), (4, 0xF8), (5, 0xFC), (6, 0xFE))  # (width, lead byte below)


def lenient_utf8(data: bytes) -> str:
    """Decode UTF-8 the way old, broken decoders did: overlong and 5/6-byte forms included."""
    try:
        return data.decode("utf-8")  # valid UTF-8 reads the same either way
    except UnicodeDecodeError:
        pass
    out, i = [], 0
    while i < len(data):
        lead = data[i]
        width = next((w for w, top in UTF8_WIDTHS if lead < top), 0)
        tail = data[i + 1 : i + width]
        if width == 1:
            out.append(chr(lead))
        elif width and len(tail) == width - 1 and all(0x80 <= b < 0xC0 for b in tail):
            value = lead & (0x7F >> width)
            for b in tail:
                value = (value << 6) | (b & 0x3F)
            out.append(chr(value) if value < 0x110000 else "\ufffd")
        else:
            out.append("\ufffd")
            width = 1
        i += width
    return "".join(out)


def _decode_run(match: re.Match[str]) -> str:
    return lenient_utf8(bytes.fromhex(match[0].replace("%", "")))


def sloppy_decode(payload: str) -> str:
    """Percent-decode (IIS %u forms too) until nothing changes, fold Unicode look-alikes, read '\\' as '/'."""
    text = payload
    for _ in range(4):
        if "%" not in text:
            break
        decoded = re.sub(r"%[uU]([0-9a-fA-F]{4})", lambda m: chr(int(m[1], 16)), text)
        decoded = re.sub(r"(?:%[0-9a-fA-F]{2})+", _decode_run, decoded)
        if decoded == text:
            break
        text = decoded
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.replace("\\", "/")


@cache
def leaves_workspace(payload: str) -> bool:
    """True when the sloppy reading of the payload is a NUL injection or a path outside /workspace."""
    text = sloppy_decode(payload)
    if "\x00" in text or text.startswith("~") or re.match(r"[A-Za-z]:(?:/|$)", text):
        return True
    if text.startswith("/"):
        full = posixpath.normpath(text)
        return not (full == "/workspace" or full.startswith("/workspace/"))
    depth = 0
    for name in text.split("/"):
        depth += {"..": -1, ".": 0, "": 0}.get(name, 1)
        if depth < 0:
            return True
    return False


def test_the_sloppy_decoder_sees_the_classic_tricks() -> None:
    tricks = [
        "..%c0%af",
        "%c0%ae%c0%ae/",
        "%252e%252e%252f",
        "..%5c",
        "%uff0e%uff0e/",
        "\uff0e\uff0e\uff0f",
        "..\\",
    ]
    for trick in tricks:
        assert leaves_workspace(trick + "x"), trick
    assert leaves_workspace("notes.txt%00.png") and leaves_workspace("%2500")
    assert not leaves_workspace("0x2e0x2e/etc") and not leaves_workspace("a/../b")


# --- path traversal ----------------------------------------------------------------------------------------


def is_traversal_list(path: Path) -> bool:
    return "traversal" in path.name.lower() or "dotdot" in path.name.lower()


@pytest.mark.parametrize("path", payload_files("traversal-"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_traversal_payloads_are_refused_or_stay_inside(path: Path, tmp_path: Path) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    real_root = os.path.realpath(root)
    candidates = [c for payload in payloads(path) for c in variants(payload)]
    attacks = {c for c in candidates if leaves_workspace(c)}
    accepted: dict[str, str] = {}
    for candidate in candidates:
        try:
            accepted[candidate] = POLICY.normalize(candidate, allow_root=True)
        except PathRejected:
            pass
    # Everything a careless decoder would read as leaving the workspace is refused ...
    assert sorted(attacks & accepted.keys()) == []
    # ... and everything accepted, '..' in it or not, resolves inside a real root, symlinks and all.
    for candidate, rel in accepted.items():
        real = os.path.realpath(os.path.join(root, rel))
        assert real == real_root or real.startswith(real_root + os.sep), (candidate, rel)
        assert is_within(root, root / rel) and ".." not in rel.split("/")
    if is_traversal_list(path):
        assert attacks, "the oracle found no attack in a traversal list: it is broken"


@pytest.mark.parametrize(
    "name", ["unicode-naughty-unicode.txt", "unicode-right-to-left.txt", "unicode-corrupted.txt"]
)
def test_hostile_unicode_without_control_characters_survives_stripping(name: str) -> None:
    lines = payloads(CORPORA / "traversal-fuzzdb" / name)
    plain = [line for line in lines if not re.search(r"[\x00-\x1f\x7f-\x9f]", line)]
    assert plain
    assert [strip_terminal_escapes(line) for line in plain] == plain


# --- command injection -------------------------------------------------------------------------------------

CMD_PAYLOADS = sorted({p for path in payload_files("cmdinj-") for p in payloads(path)})

Marker = Callable[[str], bool]
MARKERS: list[tuple[str, Marker, str, tuple[str, ...]]] = [
    ("/etc/passwd", lambda p: "/etc/passwd" in p, "credential-access", ("medium", "high", "critical")),
    ("/etc/shadow", lambda p: "/etc/shadow" in p, "credential-access", ("high", "critical")),
    ("nc -e", lambda p: re.search(r"\bnc\b[^|;&\n]*\s-e\b", p) is not None, "reverse-shell", ("critical",)),
]


@pytest.mark.parametrize("language", ["bash", "python"])
def test_classify_never_fails_and_spans_point_into_the_payload(language: str) -> None:
    assert CMD_PAYLOADS
    for payload in CMD_PAYLOADS:
        findings = classify(payload, language)
        assert findings == sorted(findings, key=lambda f: (f.start, f.end, f.rule))
        for f in findings:
            assert 0 <= f.start < f.end <= len(payload)
            assert payload[f.start : f.end].strip()


@pytest.mark.parametrize(("marker", "present", "rule", "severities"), MARKERS, ids=[m[0] for m in MARKERS])
def test_payloads_with_a_dangerous_marker_get_the_matching_rule(
    marker: str, present: Marker, rule: str, severities: tuple[str, ...]
) -> None:
    marked = [p for p in CMD_PAYLOADS if present(p)]
    # Only markers that the public corpora really contain are listed; the others are unit-tested in test_security_risk.
    assert marked, f"no payload in the corpora contains {marker!r}"
    for payload in marked:
        for language, code in [("bash", payload), ("python", f"import os\nos.system({payload!r})\n")]:
            found = {(f.rule, f.severity) for f in classify(code, language)}
            assert any((rule, s) in found for s in severities), (language, payload, found)
