"""What the settings screen edits: each key's value as text, where it comes from, and how edits are checked
and written back to the file. Plain Python (no Textual), so it can be reasoned about on its own.

The form always starts from the file's own values (``LoadedConfig.file_config``), never the values in effect:
a key set by an environment variable is shown with that variable and left alone, so saving never copies an
API key out of the environment into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.config import (
    Config,
    ConfigError,
    LoadedConfig,
    config_keys,
    describe_key,
    get_value,
    load_config_or_defaults,
    mask_secret,
    parse_raw,
    save_config,
    set_value,
)
from core.config_checks import Choice
from core.config_file import config_from_parsed, read_toml
from core.config_model import check_setting, lookup, raw_text, to_toml_value

FieldKind = Literal["flag", "choice", "text"]


@dataclass(frozen=True)
class SettingField:
    """One key as the form shows it."""

    key: str
    expected: str
    default_text: str
    kind: FieldKind
    text: str  # the file's value as `sandchat config set` reads it back; "" for secrets, which are never shown
    options: tuple[str, ...] = ()
    secret: bool = False
    saved_secret: str = ""  # the file's secret, masked ("" when the file holds none)
    env_var: str = ""  # the environment variable that sets this key, if any
    env_text: str = ""  # the value that variable gives (masked for secrets)

    @property
    def section(self) -> str:
        """The TOML section, e.g. ``local``."""
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        """The key within its section, e.g. ``timeout``."""
        return self.key.partition(".")[2]


@dataclass(frozen=True)
class SettingsFile:
    """The config file as the form edits it, with the problems found while reading it."""

    path: Path
    fields: tuple[SettingField, ...]
    file_config: Config  # the file's own settings (the defaults when the file is missing or broken)
    file_error: ConfigError | None = None  # the file is broken: it is shown, and never saved over as is
    env_error: ConfigError | None = None  # an environment variable was unusable and is ignored
    repairable: bool = True  # False when the file is not TOML at all: no value typed here can fix it

    @property
    def broken_key(self) -> str:
        """The form key that the file's error is about ("" when it is about no single key)."""
        if self.file_error is None:
            return ""
        named = self.file_error.key.split("[", 1)[0]
        return next((f.key for f in self.fields if f.key == named), "")


def load_settings(path: Path, environ: Mapping[str, str]) -> SettingsFile:
    """Read ``path`` for editing; a broken file is reported, with its parsed values where it is TOML."""
    loaded, error = load_config_or_defaults(path, environ)
    file_error = error if error is not None and not error.env_var else None
    env_error = error if error is not None and error.env_var else None
    raw: dict[str, Any] | None = None
    repairable = True
    if file_error is not None:
        try:
            parsed = read_toml(path)
        except ConfigError:
            repairable = False
        else:
            raw = parsed[0] if parsed is not None else {}
    fields = tuple(_field(key, loaded, raw) for key in config_keys())
    return SettingsFile(path, fields, loaded.file_config, file_error, env_error, repairable)


def _field(key: str, loaded: LoadedConfig, raw: dict[str, Any] | None) -> SettingField:
    info = describe_key(key)
    check = lookup(key)[1].metadata["check"]
    value = get_value(loaded.file_config, key) if raw is None else _raw_value(raw, key, info.default)
    env_var = loaded.env_overrides.get(key, "")
    env_value = raw_text(get_value(loaded.config, key)) if env_var else ""
    kind: FieldKind = "text"
    if isinstance(value, bool) and isinstance(info.default, bool):
        kind = "flag"
    elif isinstance(check, Choice) and value in check.options:
        kind = "choice"  # a broken file's unknown choice stays editable text, so it can be seen and fixed
    return SettingField(
        key=key,
        expected=info.expected,
        default_text=raw_text(info.default),
        kind=kind,
        text="" if info.secret else raw_text(value),
        options=check.options if isinstance(check, Choice) else (),
        secret=info.secret,
        saved_secret=mask_secret(str(value)) if info.secret and value else "",
        env_var=env_var,
        env_text=mask_secret(env_value) if info.secret else env_value,
    )


def _raw_value(raw: dict[str, Any], key: str, default: object) -> object:
    """The value a broken (but TOML) file gives ``key``, as written, or the default."""
    section, _, name = key.partition(".")
    table = raw.get(section)
    return table.get(name, default) if isinstance(table, dict) else default


def check_edits(settings: SettingsFile, edits: Mapping[str, str]) -> tuple[Config, dict[str, ConfigError]]:
    """The file's settings with ``edits`` applied, and the edits that are invalid (each with its reason)."""
    config = settings.file_config
    problems: dict[str, ConfigError] = {}
    for key, raw in edits.items():
        try:
            config = set_value(config, key, raw)
        except ConfigError as error:
            problems[key] = error
    return config, problems


def write_settings(settings: SettingsFile, config: Config, edits: Mapping[str, str]) -> None:
    """Write checked edits: atomically, mode 0o600; a file that broke since it was read is not overwritten.

    A secret is written only when it is one of the edits; a broken file is repaired as `config set` does.
    """
    if settings.file_error is not None:
        repair_file(settings.path, edits)
        return
    save_config(config, settings.path, include_secrets=any(describe_key(key).secret for key in edits))


def repair_file(path: Path, edits: Mapping[str, str]) -> Config:
    """:func:`core.config.update_config_file` for several keys at once, in one write.

    Edits the file's own TOML values, then checks the whole file: if it is still broken elsewhere (or is not
    TOML), ConfigError and nothing is written. Keys not edited keep exactly what the file held.
    """
    parsed = read_toml(path)
    data, text = parsed if parsed is not None else ({}, "")
    for key, raw in edits.items():
        section, found = lookup(key)
        value = to_toml_value(check_setting(key, parse_raw(key, raw)))
        table = data.get(section, {})
        # `local = 5` held nothing valid, so setting local.timeout may replace it with a proper table
        data[section] = {**(table if isinstance(table, dict) else {}), found.name: value}
    config = config_from_parsed(path, data, text)
    save_config(config, path, include_secrets=True, force=True)  # the file's own keys only, checked above
    return config
