"""Size limits, checked before any data moves."""

from __future__ import annotations

from core.errors import FileTooLarge

__all__ = ["DEFAULT_MAX_FILE_BYTES", "check_size", "content_size"]

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024

# Encoding in slices keeps the temporary copy small when a large non-ASCII text is measured.
_SLICE = 1 << 20


def check_size(size: int, limit: int, what: str = "content") -> None:
    """Raise FileTooLarge when ``size`` bytes is over ``limit``; exactly ``limit`` is allowed."""
    if size > limit:
        raise FileTooLarge(size, limit, what=what)


def content_size(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes, as it will be written.

    A lone surrogate, which strict UTF-8 cannot encode, counts as the 3 bytes ``surrogatepass`` gives it
    instead of making the measurement itself fail.
    """
    if text.isascii():
        return len(text)
    slices = (text[start : start + _SLICE] for start in range(0, len(text), _SLICE))
    return sum(len(piece.encode("utf-8", "surrogatepass")) for piece in slices)
