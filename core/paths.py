"""Where sandchat keeps its files: asked of platformdirs once, overridable by the environment.

``SANDCHAT_CONFIG_DIR`` and ``SANDCHAT_DATA_DIR`` replace the platform directories (tests, portable
installs). Directories are created lazily, with mode 0o700, only when something is written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ValidationError

APP_NAME = "sandchat"
CONFIG_ENV = "SANDCHAT_CONFIG_DIR"
DATA_ENV = "SANDCHAT_DATA_DIR"

_SANDBOX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_sandbox_name(name: str) -> str:
    """A sandbox name becomes a directory name: letters, digits, ``_ . -``, at most 64, no leading dot."""
    if not _SANDBOX_NAME.fullmatch(name) or name in (".", ".."):
        raise ValidationError(
            f"sandbox name {name!r} is not allowed",
            field="sandbox",
            hint="use letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit)",
        )
    return name


@dataclass(frozen=True)
class AppPaths:
    """The config and data roots, and what lives under them."""

    config_dir: Path
    data_dir: Path

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> AppPaths:
        env = os.environ if environ is None else environ
        import platformdirs  # light, but only needed here

        config = env.get(CONFIG_ENV) or str(platformdirs.user_config_path(APP_NAME))
        data = env.get(DATA_ENV) or str(platformdirs.user_data_path(APP_NAME))
        return cls(Path(config).expanduser(), Path(data).expanduser())

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def workspaces_dir(self) -> Path:
        return self.data_dir / "workspaces"

    def workspace(self, sandbox: str) -> Path:
        """The local workspace directory of a named sandbox (not created here)."""
        return self.workspaces_dir / check_sandbox_name(sandbox)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0o700; an existing directory is left as it is."""
    missing: list[Path] = []
    cur = path
    while not cur.exists():
        missing.append(cur)
        cur = cur.parent
    for p in reversed(missing):
        p.mkdir(mode=0o700, exist_ok=True)
    return path
