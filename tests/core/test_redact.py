"""Secret redaction: each recognised shape is removed, names and surrounding text are kept, cost stays linear."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.security.redact import REDACTED, redact, redact_known

# Realistic-looking but fake values, built by concatenation so this file itself holds no scannable secret.
OPENAI = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
TOKENS = {
    "openai": "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
    "openai project": OPENAI,
    "anthropic": "sk-" + "ant-api03-" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0",
    "daytona": "dtn_" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "github classic": "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789",
    "github oauth": "gho_" + "abcdefghijklmnopqrstuvwxyz0123456789",
    "github server": "ghs_" + "abcdefghijklmnopqrstuvwxyz0123456789",
    "github user": "ghu_" + "abcdefghijklmnopqrstuvwxyz0123456789",
    "github fine-grained": "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "aws access key id": "AKIA" + "IOSFODNN7EXAMPLE",
    "slack": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "google": "AIza" + "SyA-1234567890abcdefghijklmnopqrstu",
    "jwt": "eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_each_token_shape_is_redacted_and_the_words_around_it_are_kept(kind: str) -> None:
    token = TOKENS[kind]
    out = redact(f"use {token} here")
    assert token not in out
    assert out == f"use {REDACTED} here"


def test_a_word_ending_in_sk_is_not_taken_for_a_key() -> None:
    text = "desk-abcdefghijklmnopqrstuvwxyz and task-1234567890123456789012"
    assert redact(text) == text


def test_private_key_blocks_are_removed_whole_even_unterminated() -> None:
    body = "MIIEowIBAAKCAQEA7x\nabcdef\n"
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----"
    assert redact(f"before\n{pem}\nafter") == f"before\n{REDACTED}\nafter"
    cut = redact(f"x = '''-----BEGIN OPENSSH PRIVATE KEY-----\n{body}")
    assert body.strip() not in cut and cut.startswith("x = '''")


def test_authorization_headers_and_bearer_tokens_keep_the_scheme() -> None:
    assert redact("Authorization: Bearer abc.def-ghi_123") == f"Authorization: Bearer {REDACTED}"
    header = '{"Authorization": "Basic dXNlcjpwYXNz"}'
    assert redact(header) == f'{{"Authorization": "Basic {REDACTED}"}}'
    assert redact("curl -H 'bearer 0123456789abcdef'") == f"curl -H 'bearer {REDACTED}'"


def test_url_passwords_are_removed_and_user_and_host_kept() -> None:
    assert redact("postgres://admin:hunter2@db.local:5432/app") == f"postgres://admin:{REDACTED}@db.local:5432/app"
    assert redact("https://example.com:8080/path") == "https://example.com:8080/path"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2", "password=[REDACTED]"),
        ("api_key: abc123", "api_key: [REDACTED]"),
        ('secret = "s3cr3t value"', 'secret = "[REDACTED]"'),
        ("token='t0k'", "token='[REDACTED]'"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED]"),
        ('{"client_secret": "abc", "user": "bob"}', '{"client_secret": "[REDACTED]", "user": "bob"}'),
        ("export GITHUB_TOKEN=abc123def", "export GITHUB_TOKEN=[REDACTED]"),
        ("mysql --password s3cret -u root", "mysql --password [REDACTED] -u root"),
        ("DB_PASSWORD: 'x y z'", "DB_PASSWORD: '[REDACTED]'"),
    ],
)
def test_assignments_keep_the_name_and_lose_the_value(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["if password == entered:", "token = get_token()", "the password is long", "tokens are counted", "print(x)"],
)
def test_comparisons_calls_and_prose_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_redaction_is_idempotent_and_keeps_plain_text() -> None:
    text = f"key={OPENAI}\nprint('hello world')\n"
    once = redact(text)
    assert redact(once) == once
    assert "print('hello world')" in once


def test_known_secrets_are_removed_exactly_and_short_values_ignored() -> None:
    own = "my-own-configured-key-1234"
    assert redact_known(f"a {own} b {own}", [own, "ab"]) == f"a {REDACTED} b {REDACTED}"
    assert redact_known("ab ab", ["ab"]) == "ab ab"
    assert redact_known("x", []) == "x"


def test_overlapping_known_secrets_are_removed_longest_first() -> None:
    assert redact_known("AAAABBBBCCCC", ["AAAABBBB", "AAAABBBBCCCC"]) == REDACTED


@pytest.mark.parametrize(
    "hostile",
    [
        "sk-" * 200_000,
        "eyJ" * 200_000,
        "token=" * 100_000,
        'password="' * 100_000,
        "a://b:" * 100_000,
        "-----BEGIN PRIVATE KEY-----" * 20_000,
        "Authorization: Bearer " * 30_000,
        "x" * 600_000,
    ],
)
def test_hostile_input_of_600k_characters_is_redacted_in_linear_time(hostile: str) -> None:
    started = time.perf_counter()
    redact(hostile)
    assert time.perf_counter() - started < 2.0


@given(st.text(max_size=300))
def test_redact_never_raises_and_never_grows_a_secret(text: str) -> None:
    out = redact(text + " " + OPENAI)
    assert OPENAI not in out
