"""Size limits: exact UTF-8 sizes and the FileTooLarge error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import FileTooLarge, ValidationError
from core.security.limits import DEFAULT_MAX_FILE_BYTES, check_size, content_size


def test_default_limit_is_ten_mebibytes() -> None:
    assert DEFAULT_MAX_FILE_BYTES == 10 * 1024 * 1024


def test_check_size_allows_the_limit_itself() -> None:
    check_size(0, 10, "content")
    check_size(10, 10, "content")


def test_check_size_refuses_over_the_limit_and_names_what() -> None:
    with pytest.raises(FileTooLarge) as caught:
        check_size(11, 10, "code")
    assert isinstance(caught.value, ValidationError)
    assert (caught.value.size, caught.value.limit) == (11, 10)
    assert str(caught.value).startswith("code is 11 bytes, over the 10-byte limit")


@pytest.mark.parametrize(
    ("text", "size"),
    [("", 0), ("abc", 3), ("é", 2), ("日本", 6), ("🙂", 4), ("a\x00b", 3), ("\ud800", 3)],
)
def test_content_size_counts_utf8_bytes(text: str, size: int) -> None:
    assert content_size(text) == size


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_content_size_matches_encoding(text: str) -> None:
    assert content_size(text) == len(text.encode("utf-8"))


def test_content_size_of_large_text_crosses_slices() -> None:
    text = "é" * (3 * 1024 * 1024 + 7) + "🙂"
    assert content_size(text) == len(text.encode("utf-8"))
    assert content_size("x" * DEFAULT_MAX_FILE_BYTES) == DEFAULT_MAX_FILE_BYTES
