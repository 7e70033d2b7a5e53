"""strip_terminal_escapes and the visible forms of control characters, on hostile and huge input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.security.sanitize import (
    describe_control_char,
    find_control_chars,
    strip_terminal_escapes,
    visible_control_chars,
)

# What may never survive stripping: C0 except \t and \n (so \r and ESC too), DEL and C1.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

HOSTILE = [
    ("\x1b]52;c;ZXZpbA==\x07", ""),  # clipboard write
    ("\x1b]52;c;ZXZpbA==\x1b\\after", "after"),
    ("\x1b[2J", ""),  # clear screen
    ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),  # hyperlink: the text stays, the link goes
    ("\x9b31m", ""),  # 8-bit CSI
    ("\x9d0;title\x9c", ""),  # 8-bit OSC with 8-bit ST
    ("\x90q#0;2;0;0;0\x9c", ""),  # 8-bit DCS (sixel)
    ("\x1bP1$r0m\x1b\\", ""),  # DCS
    ("\x1b_Gf=100;AAAA\x1b\\image", "image"),  # APC (kitty graphics)
    ("\x1b^privacy message\x1b\\", ""),  # PM
    ("\x1bXstart of string\x1b\\", ""),  # SOS
    ("\x1b[31mred\x1b[0m", "red"),
    ("\x1b[?1049h\x1b[?25l", ""),  # private modes: alternate screen, hide cursor
    ("\x1b[>4;2m\x1b[=5u", ""),
    ("\x1b[38;2;255;0;0mtrue colour", "true colour"),
    ("\x1b[1;31", ""),  # malformed: no final byte
    ("\x1b[31\x1b[0mX", "X"),
    ("\x1b\x1b\x1b[31mX", "X"),
    ("\x1bc", ""),  # full reset
    ("\x1b7saved\x1b8", "saved"),
    ("\x1b(B\x1b)0\x1b#8", ""),  # charset designation, DEC alignment test
    ("\x1b]0;window title\x07text", "text"),
    ("\x1b]0;unterminated title and the rest", ""),
    ("before\x1b", "before"),  # lone ESC at the end
    ("a\x07b\x08c\x00d\x7fe", "abcde"),  # BEL, BS, NUL, DEL
    ("a\x85b\x84c\x9ad", "abcd"),  # C1 controls that start no string
    ("a\x9fhidden", "a"),  # 8-bit APC: a string up to ST, here to the end
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("line\r\nnext", "line\nnext"),
    ("10%\r20%\r100%\n", "10%\n20%\n100%\n"),  # a progress bar does not overwrite itself
    ("rm -rf ~\recho done", "rm -rf ~\necho done"),  # and \r cannot hide the first half
    ("\x1b[2curl http://x", "url http://x"),  # from the payloadbox corpus: ESC [ 2 c is a complete CSI
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE)
def test_strips_terminal_control(text: str, expected: str) -> None:
    assert strip_terminal_escapes(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "[bold red]x[/]",
        "[link=http://x]click[/link]",
        "plain text",
        "",
        "naïve 日本語 \u202e ok",
        "a\\x1bb",
        "50% [x]",
    ],
)
def test_leaves_ordinary_text_and_rich_markup_alone(text: str) -> None:
    # Rich markup is handled where text is rendered; bidi controls are not terminal controls.
    assert strip_terminal_escapes(text) == text


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from("\x1b\x9b\x9d\x90\x9c\x07\\[]P_^X;0123abcm\r\n\t ?()#7") | st.characters()
    )
)
def test_nothing_controlling_survives_and_stripping_twice_changes_nothing(text: str) -> None:
    once = strip_terminal_escapes(text)
    assert not FORBIDDEN.search(once)
    assert strip_terminal_escapes(once) == once


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cc"])))
def test_text_without_control_characters_is_unchanged(text: str) -> None:
    assert strip_terminal_escapes(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "\x1b" * 10_000_000,
        "\x1b[" * 5_000_000,
        "\x1b]" + "x" * 10_000_000,  # unterminated OSC to the end
        "\x9b" * 10_000_000,
    ],
    ids=["10MB-ESC", "10MB-CSI-introducers", "10MB-unterminated-OSC", "10MB-8bit-CSI"],
)
def test_huge_hostile_input_completes(text: str) -> None:
    assert strip_terminal_escapes(text) == ""


def test_huge_mixed_input_keeps_its_text() -> None:
    chunk = "line \x1b[31mred\x1b[0m \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n"
    out = strip_terminal_escapes(chunk * 200_000)
    assert out == "line red link\n" * 200_000


def test_visible_control_chars() -> None:
    assert visible_control_chars("a\x1b[31mb") == "a\\x1b[31mb"
    assert visible_control_chars("a\nb\tc\rd\x00e\x7f\x9b") == "a\\nb\\tc\\rd\\x00e\\x7f\\x9b"
    assert visible_control_chars("invoice\u202etxt.exe") == "invoice\\u202etxt.exe"
    assert visible_control_chars("x\u2028y\u2066z\u200f") == "x\\u2028y\\u2066z\\u200f"
    assert visible_control_chars("plain [b] \\ text é") == "plain [b] \\ text é"


def test_find_control_chars_gives_indices() -> None:
    assert find_control_chars("a\x1bb\nc\u202e") == [1, 3, 5]
    assert find_control_chars("clean") == []
    text = "x\x00y\x9f\u2029"
    assert [text[i] for i in find_control_chars(text)] == ["\x00", "\x9f", "\u2029"]


@pytest.mark.parametrize(
    ("char", "description"),
    [
        ("\x00", "NUL byte"),
        ("\x1b", "control character \\x1b"),
        ("\n", "control character \\n"),
        ("\x7f", "control character \\x7f"),
        ("\x9b", "C1 control character \\x9b"),
        ("\u2028", "line separator U+2028"),
        ("\u2029", "paragraph separator U+2029"),
        ("\u202e", "bidirectional-text control U+202E"),
    ],
)
def test_describe_control_char(char: str, description: str) -> None:
    assert describe_control_char(char) == description
