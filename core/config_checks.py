"""Value checks for the config model: each one knows what it expects, in words a user can act on.

A check takes a value as ``tomllib`` produced it and returns it normalised (ints become floats where a
float is meant, lists become tuples so the model stays immutable), or raises :class:`Invalid`.
"""

from __future__ import annotations

import ipaddress
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from core.errors import ValidationError
from core.paths import check_sandbox_name

_LANGUAGE = re.compile(r"[a-z0-9_+-]+")  # the canonical form `run code[LANG]` reads languages in


class Invalid(Exception):
    """A value failed its check; the loader turns this into a ConfigError naming the key and the file."""

    def __init__(self, expected: str, got: object, at: str = "") -> None:
        super().__init__(expected)
        self.expected = expected
        self.got = got
        self.at = at  # where inside the value: "[2].action", "['app.quit']", or "" for the value itself


def show(value: object, limit: int = 80) -> str:
    """A value the way the user wrote it in TOML, shortened: 'soon', true, [1, 2], { a = 1 }."""
    text = _toml_text(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _toml_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_text(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_text(v)}" for k, v in value.items()) + " }"
    return str(value)  # dates and times: TOML wrote them as their ISO text


@dataclass(frozen=True)
class Check(ABC):
    """Validates one setting; ``expected`` completes "KEY must be ...", ``example`` is valid raw text."""

    takes_text: ClassVar[bool] = False  # `config set KEY raw` keeps raw text as-is for these

    @property
    @abstractmethod
    def expected(self) -> str: ...

    @property
    @abstractmethod
    def example(self) -> str: ...

    @abstractmethod
    def __call__(self, value: object) -> object: ...


@dataclass(frozen=True)
class Text(Check):
    """Any string, or a non-empty one."""

    takes_text: ClassVar[bool] = True
    nonempty: bool = False

    @property
    def expected(self) -> str:
        return "a non-empty string" if self.nonempty else "a string"

    @property
    def example(self) -> str:
        return "TEXT"

    def __call__(self, value: object) -> object:
        if not isinstance(value, str) or (self.nonempty and not value.strip()):
            raise Invalid(self.expected, value)
        return value


@dataclass(frozen=True)
class Choice(Check):
    """One of a fixed set of words."""

    takes_text: ClassVar[bool] = True
    options: tuple[str, ...]

    @property
    def expected(self) -> str:
        return "one of " + ", ".join(repr(option) for option in self.options)

    @property
    def example(self) -> str:
        return self.options[0]

    def __call__(self, value: object) -> object:
        if value not in self.options:
            raise Invalid(self.expected, value)
        return value


@dataclass(frozen=True)
class Url(Check):
    """An http(s) URL with a host; ``optional`` allows "" meaning "the default"."""

    takes_text: ClassVar[bool] = True
    optional: bool = False

    @property
    def expected(self) -> str:
        text = "a URL starting with http:// or https://"
        return text + " (or empty for the default)" if self.optional else text

    @property
    def example(self) -> str:
        return "https://example.com"

    def __call__(self, value: object) -> object:
        if self.optional and value == "":
            return value
        if not isinstance(value, str) or not _is_web_url(value):
            raise Invalid(self.expected, value)
        return value


def _is_web_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in text)


@dataclass(frozen=True)
class SandboxName(Check):
    """A sandbox name, which becomes a directory name (the rule lives in core.paths)."""

    takes_text: ClassVar[bool] = True

    @property
    def expected(self) -> str:
        return "a sandbox name (letters, digits, '_', '.' or '-', at most 64, starting with a letter or digit)"

    @property
    def example(self) -> str:
        return "default"

    def __call__(self, value: object) -> object:
        if not isinstance(value, str):
            raise Invalid(self.expected, value)
        try:
            return check_sandbox_name(value)
        except ValidationError:
            raise Invalid(self.expected, value) from None


@dataclass(frozen=True)
class Seconds(Check):
    """A finite number of seconds > 0; an int is accepted and stored as a float."""

    @property
    def expected(self) -> str:
        return "a number of seconds > 0"

    @property
    def example(self) -> str:
        return "30"

    def __call__(self, value: object) -> object:
        # bool is an int subclass, but `timeout = true` is a mistake, not 1 second
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(self.expected, value)
        if not math.isfinite(value) or value <= 0:
            raise Invalid(self.expected, value)
        return float(value)


@dataclass(frozen=True)
class Whole(Check):
    """A whole number in ``[minimum, maximum]``; ``unit`` and ``note`` only shape the message."""

    minimum: int
    maximum: int | None = None
    unit: str = ""
    note: str = ""

    @property
    def expected(self) -> str:
        of = f" of {self.unit}" if self.unit else ""
        bound = f" >= {self.minimum}" if self.maximum is None else f" from {self.minimum} to {self.maximum}"
        return f"a whole number{of}{bound}" + (f" ({self.note})" if self.note else "")

    @property
    def example(self) -> str:
        return str(max(self.minimum, 1))

    def __call__(self, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(self.expected, value)
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            raise Invalid(self.expected, value)
        return value


@dataclass(frozen=True)
class Flag(Check):
    """A TOML boolean; 1/0 and "yes" are refused so a typo never flips a safety switch silently."""

    @property
    def expected(self) -> str:
        return "true or false"

    @property
    def example(self) -> str:
        return "true"

    def __call__(self, value: object) -> object:
        if not isinstance(value, bool):
            raise Invalid(self.expected, value)
        return value


@dataclass(frozen=True)
class Language(Check):
    """A language name as `run code[LANG]` reads it: lower case letters, digits, '_', '+', '-'."""

    takes_text: ClassVar[bool] = True

    @property
    def expected(self) -> str:
        return "a language name in lower case, like 'python'"

    @property
    def example(self) -> str:
        return "python"

    def __call__(self, value: object) -> object:
        if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
            raise Invalid(self.expected, value)
        return value


@dataclass(frozen=True)
class Cidr(Check):
    """An IPv4 or IPv6 network in CIDR form, host bits clear (a set host bit is usually a typo)."""

    takes_text: ClassVar[bool] = True

    @property
    def expected(self) -> str:
        return "a CIDR range like '10.0.0.0/8' (host bits clear)"

    @property
    def example(self) -> str:
        return "10.0.0.0/8"

    def __call__(self, value: object) -> object:
        if not isinstance(value, str) or "/" not in value:
            raise Invalid(self.expected, value)
        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError:
            raise Invalid(self.expected, value) from None
        return value


@dataclass(frozen=True)
class ListOf(Check):
    """A TOML array whose items all pass ``item``; stored as a tuple."""

    item: Check
    like: str

    @property
    def expected(self) -> str:
        return f"a list like {self.like}"

    @property
    def example(self) -> str:
        return self.like

    def __call__(self, value: object) -> object:
        if not isinstance(value, list | tuple):
            raise Invalid(self.expected, value)
        return tuple(check_part(self.item, item, f"[{index}]") for index, item in enumerate(value))


@dataclass(frozen=True)
class TableOf(Check):
    """A TOML table of string keys whose values all pass ``item``; stored as a dict."""

    item: Check
    like: str

    @property
    def expected(self) -> str:
        return f"a table like {self.like}"

    @property
    def example(self) -> str:
        return self.like

    def __call__(self, value: object) -> object:
        if not isinstance(value, Mapping):
            raise Invalid(self.expected, value)
        return {str(key): check_part(self.item, item, f"[{str(key)!r}]") for key, item in value.items()}


@dataclass(frozen=True)
class Custom(Check):
    """A check written as a function (approval rules), with its own wording."""

    check: Callable[[object], object]
    wording: str
    sample: str

    @property
    def expected(self) -> str:
        return self.wording

    @property
    def example(self) -> str:
        return self.sample

    def __call__(self, value: object) -> object:
        return self.check(value)


def check_part(check: Check, value: object, at: str) -> object:
    """Check one part of a value (a list item, a table entry), keeping the path to it for the message."""
    try:
        return check(value)
    except Invalid as bad:
        raise Invalid(bad.expected, bad.got, at + bad.at) from None
