"""sandchat's settings: load them (file, then environment), edit them, save them, and pick a backend.

Precedence, lowest first: the defaults in ``Config()``, the TOML file, then the environment variables that
their ecosystems already name (``DAYTONA_API_KEY``, ``OPENAI_API_KEY`` ...), then ``--backend`` on the command
line for the backend alone.

Two ways to start: :func:`load_config` raises on a broken file (``sandchat config ...``, ``--strict-config``);
:func:`load_config_or_defaults` returns the defaults and the error, so the app starts and shows the warning.
A broken file is never overwritten: :func:`save_config` refuses unless ``force=True``.

Saving writes only the values that differ from the defaults: user files stay short, and a default improved
in a later version reaches every user who never chose that value. ``sandchat config show`` (via
:func:`to_display_dict`) is where every key is discoverable.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import tomli_w

from core.atomic import write_atomic
from core.choices import BACKEND_MODES
from core.config_file import config_from_parsed, read_config_file, read_toml
from core.config_model import (
    ApprovalRule,
    AssistantConfig,
    AuditConfig,
    BackendConfig,
    Config,
    ConfigError,
    DaytonaConfig,
    KeyInfo,
    KeysConfig,
    LocalConfig,
    SearchConfig,
    UiConfig,
    check_setting,
    config_keys,
    config_to_toml,
    describe_key,
    display_path,
    lookup,
    secret_keys,
    to_toml_value,
)
from core.errors import ValidationError
from core.paths import ensure_private_dir

if TYPE_CHECKING:
    from core.services import BackendChoice

__all__ = [
    "ENV_OVERRIDES",
    "ApprovalRule",
    "AssistantConfig",
    "AuditConfig",
    "BackendConfig",
    "Config",
    "ConfigError",
    "DaytonaConfig",
    "KeyInfo",
    "KeysConfig",
    "UiConfig",
    "LoadedConfig",
    "LocalConfig",
    "SearchConfig",
    "config_keys",
    "describe_key",
    "get_value",
    "load_config",
    "load_config_or_defaults",
    "mask_secret",
    "resolve_backend",
    "save_config",
    "set_value",
    "to_display_dict",
    "update_config_file",
]

# environment variable -> the key it overrides; an empty (or blank) variable counts as unset
ENV_OVERRIDES: dict[str, str] = {
    "DAYTONA_API_KEY": "daytona.api_key",
    "DAYTONA_API_URL": "daytona.api_url",
    "DAYTONA_TARGET": "daytona.target",
    "OPENAI_API_KEY": "assistant.api_key",
    "OPENAI_BASE_URL": "assistant.base_url",
    "BRAVE_API_KEY": "search.api_key",
    "SANDCHAT_SEARCH_API_KEY": "search.api_key",  # after BRAVE_API_KEY: the more specific one wins
}

FILE_HEADER = (
    "# sandchat settings. Only values that differ from the defaults are written here;\n"
    "# `sandchat config show` shows every key. Comments in this file are not kept when sandchat saves it.\n\n"
)
FILE_MODE = 0o600  # always: base URLs and prompts can be sensitive too, and the directory is private anyway


@dataclass(frozen=True)
class LoadedConfig:
    """The settings in effect and where they came from."""

    config: Config  # defaults <- file <- environment
    source: Path
    exists: bool  # something is at ``source`` (a broken file counts)
    file_config: Config = field(default_factory=Config)  # the file alone: what a settings editor saves back
    env_overrides: dict[str, str] = field(default_factory=dict)  # key -> the variable that set it


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """The strict path: defaults, the file at ``path`` (if any), the environment; any problem raises."""
    file_config = read_config_file(path)
    env = os.environ if environ is None else environ
    config, overrides, problems = _apply_env(file_config or Config(), env)
    if problems:
        raise problems[0]
    return LoadedConfig(config, path, file_config is not None, file_config or Config(), overrides)


def load_config_or_defaults(
    path: Path, environ: Mapping[str, str] | None = None
) -> tuple[LoadedConfig, ConfigError | None]:
    """The start-up path: never raises for a bad file or variable; returns what works and the first problem.

    A broken file is ignored as a whole (defaults are the safe baseline: approval asked, network blocked),
    a bad environment variable is skipped; the caller shows the error so the user knows.
    """
    file_error: ConfigError | None = None
    try:
        file_config = read_config_file(path)
    except ConfigError as error:
        file_config, file_error = None, error
    env = os.environ if environ is None else environ
    config, overrides, problems = _apply_env(file_config or Config(), env)
    exists = file_config is not None or (file_error is not None and path.exists())
    loaded = LoadedConfig(config, path, exists, file_config or Config(), overrides)
    return loaded, file_error or (problems[0] if problems else None)


def _apply_env(config: Config, environ: Mapping[str, str]) -> tuple[Config, dict[str, str], list[ConfigError]]:
    overrides: dict[str, str] = {}
    problems: list[ConfigError] = []
    for variable, key in ENV_OVERRIDES.items():
        value = environ.get(variable, "").strip()  # a pasted key's stray newline is never part of the key
        if not value:
            continue
        try:
            config = _with_value(config, key, check_setting(key, value))
        except ConfigError as error:
            problems.append(error.located(env_var=variable))
            continue
        overrides[key] = variable
    return config, overrides, problems


def save_config(config: Config, path: Path, *, include_secrets: bool = False, force: bool = False) -> None:
    """Write ``config`` to ``path`` atomically (mode 0o600, parent directories 0o700).

    Without ``include_secrets`` the API keys in ``config`` are not written; keys the file already holds are
    kept as they are, so saving a setting never silently drops a key the user stored. An existing file that
    does not parse or validate is not overwritten (ConfigError) unless ``force``.
    """
    target = Path(os.path.realpath(path))  # write through a symlink (dotfile managers), not over it
    existing = _existing_config(path, target, force)
    if not include_secrets:
        config = _with_secrets_of(config, existing)
    text = FILE_HEADER + tomli_w.dumps(config_to_toml(config))
    try:
        ensure_private_dir(target.parent)
        write_atomic(target, text.encode("utf-8"), mode=FILE_MODE)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"could not be written: {reason}", file=path, hint="the old file is unchanged") from None


def _existing_config(path: Path, target: Path, force: bool) -> Config:
    try:
        return read_config_file(target) or Config()
    except ConfigError as error:
        if force:
            return Config()
        raise ConfigError(
            f"{error.problem}; the file is broken, so sandchat did not save over it",
            key=error.key,
            expected=error.expected,
            file=path,
            line=error.line,
            hint="fix the file by hand first; nothing was changed",
        ) from None


def _with_secrets_of(config: Config, source: Config) -> Config:
    for key in secret_keys():
        config = _with_value(config, key, get_value(source, key))
    return config


def update_config_file(path: Path, key: str, raw: str) -> Config:
    """Set one key in the file (`sandchat config set`) and return the file's new settings.

    Edits the file's own values, so environment overrides are never written into it, and it can repair
    the very value that made the file invalid; a file still broken elsewhere, or not TOML, is not written.
    Setting a secret key here is the explicit save that writes it.
    """
    section, found = lookup(key)
    value = to_toml_value(check_setting(key, parse_raw(key, raw)))
    parsed = read_toml(path)
    data, text = parsed if parsed is not None else ({}, "")
    table = data.get(section, {})
    # `local = 5` held nothing valid, so setting local.timeout may replace it with a proper table
    data[section] = {**(table if isinstance(table, dict) else {}), found.name: value}
    config = config_from_parsed(path, data, text)
    save_config(config, path, include_secrets=True, force=True)  # checked above; only the file's own keys
    return config


def get_value(config: Config, key: str) -> object:
    """The value of a dotted key, e.g. ``get_value(config, "local.timeout") == 30.0``."""
    section, found = lookup(key)
    return getattr(getattr(config, section), found.name)


def set_value(config: Config, key: str, raw: str) -> Config:
    """A copy of ``config`` with ``key`` set from user text, checked exactly as the file is.

    ``raw`` is read as a TOML value when it is one (``30``, ``true``, ``["python"]``, ``"quoted"``), else as
    plain text; text settings always take the text as typed, so ``assistant.model 4`` is the string "4".
    """
    return _with_value(config, key, check_setting(key, parse_raw(key, raw)))


def parse_raw(key: str, raw: str) -> object:
    """The value ``raw`` stands for, given what ``key`` takes (see :func:`set_value`)."""
    check = lookup(key)[1].metadata["check"]
    try:
        parsed = tomllib.loads(f"value = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    if list(parsed) != ["value"]:  # "1\nother = 2" is text, not a way to smuggle in a second key
        return raw
    value = parsed["value"]
    return raw if check.takes_text and not isinstance(value, str) else value


def _with_value(config: Config, key: str, value: object) -> Config:
    section, found = lookup(key)
    return replace(config, **{section: replace(getattr(config, section), **{found.name: value})})


def mask_secret(value: str) -> str:
    """``"sk-proj-...abcd"`` -> ``"****abcd"``; short secrets show nothing of themselves, empty stays empty."""
    if not value:
        return ""
    return "****" + value[-4:] if len(value) >= 12 else "****"


def to_display_dict(config: Config) -> dict[str, dict[str, object]]:
    """Every section and key with its value as TOML would hold it, secrets masked (for `config show`)."""
    out = config_to_toml(config, changed_only=False)
    for key in secret_keys():
        section, _, name = key.partition(".")
        out[section][name] = mask_secret(str(out[section][name]))
    return out


def resolve_backend(
    config: Config, environ: Mapping[str, str], override: str | None, *, config_file: Path | None = None
) -> BackendChoice:
    """Which backend runs and why: ``--backend`` > ``backend.mode`` (unless auto) > auto-detection.

    Auto picks Daytona when a Daytona API key is available (environment or config), else the local sandbox.
    """
    from core.services import BackendChoice  # services builds the real services and may import this module

    if override is not None and override not in BACKEND_MODES:
        hint = "use --backend " + ", ".join(BACKEND_MODES)
        raise ValidationError(f"--backend {override!r} is not a backend", field="backend", hint=hint)
    if override is not None and override != "auto":
        return BackendChoice(override, f"--backend {override}" + _missing_key_note(config, environ, override))
    if override is None and config.backend.mode != "auto":
        mode = config.backend.mode
        where = display_path(config_file) if config_file is not None else "the config file"
        return BackendChoice(mode, f"backend.mode = {mode} in {where}" + _missing_key_note(config, environ, mode))
    label = "auto" if override is None else "auto (--backend auto)"
    if environ.get("DAYTONA_API_KEY", "").strip():
        return BackendChoice("daytona", f"{label}: DAYTONA_API_KEY is set")
    if config.daytona.api_key:
        return BackendChoice("daytona", f"{label}: daytona.api_key is set in the config file")
    return BackendChoice("local", f"{label}: no Daytona API key (set DAYTONA_API_KEY to use Daytona)")


def _missing_key_note(config: Config, environ: Mapping[str, str], name: str) -> str:
    """Daytona chosen by hand without a key: say so now rather than at the first failed call."""
    if name != "daytona" or environ.get("DAYTONA_API_KEY", "").strip() or config.daytona.api_key:
        return ""
    return " (but no Daytona API key is set: set DAYTONA_API_KEY)"
