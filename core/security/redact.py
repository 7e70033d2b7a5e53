"""Secrets out of text before it is stored: recognisable tokens, credentials in URLs, ``name = value`` assignments.

Used by the audit log on every text field it writes. What it recognises:

* API tokens by their published shapes: OpenAI (``sk-``, ``sk-proj-``), Anthropic (``sk-ant-``), Daytona
  (``dtn_``), GitHub (``ghp_ gho_ ghs_ ghu_ ghr_ github_pat_``), AWS access key ids (``AKIA``/``ASIA``),
  Slack (``xox[abprs]-``), Google API keys (``AIza``), JWTs (``eyJ...eyJ...``);
* PEM private key blocks (an unterminated one is redacted to the end of the text);
* ``Authorization: Bearer ...`` (and ``Basic``/``Token``) header values, and any ``Bearer <token>``;
* the password of ``scheme://user:password@host``;
* the value of assignments whose name contains password, passwd, passphrase, secret, token, api key,
  access key, private key, auth key or credential (``password=...``, ``api_key: ...``,
  ``aws_secret_access_key = ...``, ``"token": "..."``, ``--password x``), keeping the name and any quotes.

The assignment rule errs on the side of hiding: ``max_tokens = 4096`` becomes ``max_tokens = [REDACTED]``.
A log that lost a number is better than one that kept a password.

Every pattern starts with a literal or a bounded prefix and its repeated parts are bounded or cannot
overlap the next candidate, so the cost is linear in the length of the text (no catastrophic backtracking).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

#: Known secrets shorter than this are not searched for: redacting every "a" would destroy the text.
MIN_KNOWN_SECRET = 8

# Every pattern opens with a literal or a one-character class (a lookahead where the rest is case-insensitive),
# which lets the regex engine skip ahead to candidates instead of trying each position.


def _token(prefix: str, width: int, body: str) -> str:
    """A token opening with ``prefix`` (``width`` characters) that is not glued to a word on its left.

    The boundary is checked after the prefix, with a fixed-width lookbehind, so the literal prefix stays first;
    refusing glued candidates also keeps two candidates' scans from overlapping, which keeps the cost linear.
    """
    return f"{prefix}(?<![A-Za-z0-9_-].{{{width}}}){body}"


_TOKENS = re.compile(
    "|".join(
        (
            _token("sk-", 3, r"[A-Za-z0-9_-]{20,}"),  # OpenAI, incl. sk-proj-, sk-svcacct-; Anthropic sk-ant-
            _token("dtn_", 4, r"[A-Za-z0-9_-]{16,}"),  # Daytona
            _token("gh[pousr]_", 4, r"[A-Za-z0-9]{20,}"),  # GitHub
            _token("github_pat_", 11, r"[A-Za-z0-9_]{20,}"),
            r"(?:AKIA|ASIA)(?<![A-Za-z0-9].{4})[A-Z0-9]{16}(?![A-Za-z0-9])",  # AWS access key id
            _token("xox[abprs]-", 5, r"[A-Za-z0-9-]{10,}"),  # Slack
            _token("AIza", 4, r"[A-Za-z0-9_-]{30,}"),  # Google API key
            _token("eyJ", 3, r"[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),  # JWT
        )
    )
)

_PEM = re.compile(
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|\Z)"
)

_AUTH_HEADER = re.compile(
    r"(?=[Aa])((?i:authorization)[\"']?\s{0,20}[:=]\s{0,20}[\"']?(?i:bearer|basic|token)\s{1,20})[^\s\"',;]+"
)
_BEARER = re.compile(r"(?=[Bb])(\b(?i:bearer)\s{1,20})[A-Za-z0-9._~+/-]{8,}=*")

# ://user:password@ (the scheme does not matter); the password may not hold '/', '@' or whitespace.
_URL_PASSWORD = re.compile(r"(://[^\s/:@]{0,256}:)[^\s/@]{1,256}(@)")

_SECRET_NAME = (
    r"(?=[PpSsTtAaCc])(?i:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|auth[_-]?key|credential)"
)
# The name (plus the rest of its identifier and an optional closing quote), then ':' or '=' (not '=='),
# then the value: quoted (kept quoted, bounded) or bare. A bare value followed by '(' is a call, not a secret.
_ASSIGNMENT = re.compile(
    r"(" + _SECRET_NAME + r"[A-Za-z0-9_-]{0,30}[\"']?\s{0,20}(?::|=(?!=))\s{0,20})"
    r"(?:(\"[^\"\n]{0,4096}+\"?|'[^'\n]{0,4096}+'?)|([^\s,;'\"()\[\]{}<>]++)(?!\())"
)
_FLAG = re.compile(r"(--?" + _SECRET_NAME + r"[A-Za-z0-9_-]{0,30}[ =])([^\s\"'-][^\s\"']*+)")


def _assignment_value(match: re.Match[str]) -> str:
    quoted = match[2]
    if quoted is not None:
        quote = quoted[0]
        closing = quote if len(quoted) > 1 and quoted.endswith(quote) else ""
        return f"{match[1]}{quote}{REDACTED}{closing}"
    return match[1] + REDACTED


def redact(text: str) -> str:
    """``text`` with every recognisable secret replaced by ``[REDACTED]``; names and structure are kept."""
    if not text:
        return text
    text = _PEM.sub(REDACTED, text)
    text = _TOKENS.sub(REDACTED, text)
    text = _AUTH_HEADER.sub(lambda m: m[1] + REDACTED, text)
    text = _BEARER.sub(lambda m: m[1] + REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m[1] + REDACTED + m[2], text)
    text = _ASSIGNMENT.sub(_assignment_value, text)
    return _FLAG.sub(lambda m: m[1] + REDACTED, text)


def redact_known(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each known secret value (at least 8 characters) replaced."""
    # Longest first, so a secret that contains another one is removed whole.
    for secret in sorted({s for s in secrets if len(s) >= MIN_KNOWN_SECRET}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text
