"""The errors sandchat raises, each naming the problem and what to do about it."""

from __future__ import annotations


class SandchatError(Exception):
    """Base of every error sandchat raises on purpose; ``str()`` is a message fit for the user."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ValidationError(SandchatError):
    """Input was refused before it reached a sandbox: a bad path, a command, a size."""

    def __init__(self, message: str, *, field: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.field = field


class PathRejected(ValidationError):
    """A path would leave the workspace or is malformed; never silently clamped."""

    def __init__(self, path: str, reason: str, *, hint: str = "") -> None:
        super().__init__(
            f"path {path!r} rejected: {reason}",
            field="path",
            hint=hint or "use a path inside /workspace, e.g. notes.txt or /workspace/src/app.py",
        )
        self.path = path
        self.reason = reason


class FileTooLarge(ValidationError):
    """Content over the size limit; refused before any data moves."""

    def __init__(self, size: int, limit: int, *, what: str = "content") -> None:
        super().__init__(
            f"{what} is {size:,} bytes, over the {limit:,}-byte limit",
            field="size",
            hint="split it into smaller files or raise the limit in the config",
        )
        self.size = size
        self.limit = limit


class BackendError(SandchatError):
    """The sandbox could not do what was asked (not found, not a directory, I/O error ...)."""


class NotFound(BackendError):
    """The file or directory does not exist in the sandbox."""


class SandboxUnavailable(BackendError):
    """Code cannot run with the isolation required here; the message names the cause and alternatives."""


class UnsupportedLanguage(ValidationError):
    """A ``run code[LANG]`` language that this sandbox cannot run."""
