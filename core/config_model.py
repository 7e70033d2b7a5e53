"""The typed config model: one frozen dataclass per TOML section, each field carrying its own check.

The defaults are sandchat's safe baseline: a 10 MiB file limit, timeouts on, the Daytona network blocked,
approval asked before anything changes. ``core.config`` reads, writes and edits this model.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar, get_args

from core.choices import (
    APPROVAL_MODES,
    BACKEND_MODES,
    DAYTONA_LANGUAGES,
    DEFAULT_THEME,
    RULE_ACTIONS,
    SEARCH_PROVIDERS,
)
from core.commands import Command
from core.config_checks import (
    Check,
    Choice,
    Cidr,
    Custom,
    Flag,
    Invalid,
    Language,
    ListOf,
    SandboxName,
    Seconds,
    TableOf,
    Text,
    Url,
    Whole,
    check_part,
    show,
)
from core.errors import SandchatError

T = TypeVar("T")

# Rules name tools as the assistant calls them; "*" is every tool. Taken from the command types so a new
# command is accepted here at once, and a misspelt tool in a deny rule is an error, not a rule that never fires.
TOOL_NAMES: tuple[str, ...] = tuple(sorted(cls.tool for cls in get_args(Command))) + ("*",)


def setting(default: T, check: Check, *, secret: bool = False) -> T:
    """A field with its default and check; ``secret`` keeps it out of the file unless asked and masks it."""
    return field(default=default, metadata={"check": check, "secret": secret})


def table_setting(check: Check) -> Mapping[str, str]:
    """A str -> str table field, empty by default."""
    return field(default_factory=dict, metadata={"check": check, "secret": False})


@dataclass(frozen=True)
class ApprovalRule:
    """One [[assistant.rules]] entry: what to do when ``tool`` acts on a path matching ``path`` (None: any)."""

    tool: str
    action: str
    path: str | None = None


_RULE_LIKE = '{ tool = "write_file", path = "src/**", action = "allow" } (path is optional)'


def _check_rule(value: object) -> ApprovalRule:
    if not isinstance(value, Mapping) or not {"tool", "action"} <= set(value) <= {"tool", "action", "path"}:
        raise Invalid(f"a rule like {_RULE_LIKE}", value)
    tool = check_part(Choice(TOOL_NAMES), value["tool"], ".tool")
    action = check_part(Choice(RULE_ACTIONS), value["action"], ".action")
    path = check_part(Text(nonempty=True), value["path"], ".path") if "path" in value else None
    return ApprovalRule(tool=str(tool), action=str(action), path=None if path is None else str(path))


@dataclass(frozen=True)
class BackendConfig:
    """[backend]: which sandbox runs code, and under which name."""

    mode: str = setting("auto", Choice(BACKEND_MODES))
    sandbox: str = setting("default", SandboxName())


@dataclass(frozen=True)
class LocalConfig:
    """[local]: limits of the local sandbox."""

    timeout: float = setting(30.0, Seconds())
    memory_mb: int = setting(1024, Whole(1, unit="MiB"))
    cpu_seconds: int = setting(60, Whole(1, unit="seconds"))
    output_bytes: int = setting(1024 * 1024, Whole(1, unit="bytes"))
    max_file_bytes: int = setting(10 * 1024 * 1024, Whole(1, unit="bytes"))
    processes: int = setting(64, Whole(1))
    languages: tuple[str, ...] = setting(("python", "bash", "node"), ListOf(Language(), '["python", "bash"]'))
    allow_weak_isolation: bool = setting(False, Flag())
    # uid 0 would run the assistant's code as root
    sandbox_uid: int = setting(64000, Whole(1, 2**32 - 2, note="never 0: sandboxed code does not run as root"))


@dataclass(frozen=True)
class DaytonaConfig:
    """[daytona]: the Daytona cloud sandbox; the API key is written only when the user saves it explicitly."""

    api_url: str = setting("https://app.daytona.io/api", Url())
    target: str = setting("us", Text(nonempty=True))
    api_key: str = setting("", Text(), secret=True)
    language: str = setting("python", Choice(DAYTONA_LANGUAGES))
    snapshot: str = setting("", Text())
    image: str = setting("", Text())
    cpu: int = setting(1, Whole(1, unit="CPUs"))
    memory_gb: int = setting(1, Whole(1, unit="GiB"))
    disk_gb: int = setting(3, Whole(1, unit="GiB"))
    auto_stop_minutes: int = setting(15, Whole(0, unit="minutes", note="0 = never stop"))
    auto_delete_minutes: int = setting(-1, Whole(-1, unit="minutes", note="-1 = never delete"))
    ephemeral: bool = setting(False, Flag())
    network_block_all: bool = setting(True, Flag())
    network_allow_list: tuple[str, ...] = setting((), ListOf(Cidr(), '["10.0.0.0/8"]'))
    labels: Mapping[str, str] = table_setting(TableOf(Text(), '{ team = "ml" }'))
    create_timeout: float = setting(60.0, Seconds())


@dataclass(frozen=True)
class AssistantConfig:
    """[assistant]: the model, how much it may do unasked, and per-tool rules."""

    base_url: str = setting("", Url(optional=True))
    model: str = setting("", Text())
    api_key: str = setting("", Text(), secret=True)
    system_prompt: str = setting("", Text())
    approval_mode: str = setting("ask", Choice(APPROVAL_MODES))
    max_steps: int = setting(10, Whole(1))
    rules: tuple[ApprovalRule, ...] = setting(
        (),
        ListOf(
            Custom(_check_rule, f"a rule like {_RULE_LIKE}", '{ tool = "execute_code", action = "ask" }'),
            '[{ tool = "execute_code", action = "ask" }]',
        ),
    )


@dataclass(frozen=True)
class SearchConfig:
    """[search]: the web search provider used by `search web:`."""

    provider: str = setting("none", Choice(SEARCH_PROVIDERS))
    url: str = setting("", Url(optional=True))
    max_results: int = setting(5, Whole(1, 50))
    api_key: str = setting("", Text(), secret=True)  # for key-based providers (brave)


@dataclass(frozen=True)
class AuditConfig:
    """[audit]: the record of everything done in a sandbox."""

    enabled: bool = setting(True, Flag())
    retention_days: int = setting(0, Whole(0, unit="days", note="0 = keep forever"))


@dataclass(frozen=True)
class KeysConfig:
    """[keys]: key remapping, binding id -> key, e.g. "app.quit" = "ctrl+q"."""

    bindings: Mapping[str, str] = table_setting(TableOf(Text(nonempty=True), '{ "app.quit" = "ctrl+q" }'))


@dataclass(frozen=True)
class UiConfig:
    """[ui]: how the app looks. ``theme``: one of Textual's themes (the command palette's "Change theme" lists
    them and saves the one chosen here); a name the app does not know is reported and the default used."""

    theme: str = setting(DEFAULT_THEME, Text(nonempty=True))


@dataclass(frozen=True)
class Config:
    """All of sandchat's settings; ``Config()`` is the defaults."""

    backend: BackendConfig = field(default_factory=BackendConfig)
    local: LocalConfig = field(default_factory=LocalConfig)
    daytona: DaytonaConfig = field(default_factory=DaytonaConfig)
    assistant: AssistantConfig = field(default_factory=AssistantConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    ui: UiConfig = field(default_factory=UiConfig)


SECTIONS: dict[str, Any] = {f.name: f.default_factory for f in fields(Config)}  # name -> section class


class ConfigError(SandchatError):
    """The config file or an environment override is unusable: names the file, line, key and what was expected."""

    def __init__(
        self,
        problem: str,
        *,
        key: str = "",
        expected: str = "",
        file: Path | None = None,
        line: int | None = None,
        env_var: str = "",
        command: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(_where(file, line, env_var) + problem, hint=hint or _fix(file, env_var, command))
        self.problem, self.key, self.expected = problem, key, expected
        self.file, self.line, self.env_var, self.command = file, line, env_var, command
        self._own_hint = hint

    def located(self, *, file: Path | None = None, line: int | None = None, env_var: str = "") -> ConfigError:
        """The same problem, now said to be at ``file``/``line`` or in ``env_var``."""
        return ConfigError(
            self.problem,
            key=self.key,
            expected=self.expected,
            file=file,
            line=line,
            env_var=env_var,
            command=self.command,
            hint=self._own_hint,
        )


def display_path(path: Path) -> str:
    """``path`` with the home directory shown as ``~``, as users type it."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):  # not under home, or no home at all
        return str(path)


def _where(file: Path | None, line: int | None, env_var: str) -> str:
    if env_var:
        return f"environment variable {env_var}: "
    if file is None:
        return ""
    return display_path(file) + (f", line {line}: " if line else ": ")


def _fix(file: Path | None, env_var: str, command: str) -> str:
    if env_var:
        return f"fix or unset {env_var}"
    if file is not None:
        return f"fix the file or run `{command}`" if command else "fix the file"
    return f"for example `{command}`" if command else ""


@dataclass(frozen=True)
class KeyInfo:
    """What a settings screen needs to know about one dotted key."""

    key: str
    expected: str
    default: object
    secret: bool


def config_keys() -> list[str]:
    """Every dotted key, in file order: ``backend.mode``, ``backend.sandbox``, ``local.timeout`` ..."""
    return [f"{name}.{f.name}" for name, cls in SECTIONS.items() for f in fields(cls)]


def secret_keys() -> list[str]:
    """The keys whose values are secrets (API keys)."""
    return [key for key in config_keys() if lookup(key)[1].metadata["secret"]]


def lookup(key: str) -> tuple[str, Field[Any]]:
    """The section name and dataclass field of a dotted key; unknown keys raise with a suggestion."""
    section, _, name = key.partition(".")
    if section not in SECTIONS:
        raise unknown_key(key, list(SECTIONS), section="")
    by_name = {f.name: f for f in fields(SECTIONS[section])}
    if name not in by_name:
        raise unknown_key(key, list(by_name), section=section)
    return section, by_name[name]


def describe_key(key: str) -> KeyInfo:
    """The expected value, default and secrecy of ``key``."""
    section, f = lookup(key)
    return KeyInfo(key, f.metadata["check"].expected, getattr(SECTIONS[section](), f.name), f.metadata["secret"])


def unknown_key(key: str, valid: list[str], *, section: str) -> ConfigError:
    """An error for a key (or, with ``section=""``, a section) that the model does not have."""
    wrong = key.rpartition(".")[2] if section else key.partition(".")[0]
    close = difflib.get_close_matches(wrong, valid, n=1)
    if not section:
        guess = f" (did you mean [{close[0]}]?)" if close else ""
        hint = "valid sections: " + ", ".join(valid)
        return ConfigError(f"unknown section [{wrong}]{guess}", key=wrong, expected="a known section", hint=hint)
    guess = f" (did you mean {section}.{close[0]}?)" if close else ""
    hint = f"valid keys in [{section}]: " + ", ".join(valid)
    return ConfigError(f"unknown key {key}{guess}", key=key, expected=f"a key of [{section}]", hint=hint)


def check_setting(key: str, value: object) -> object:
    """``value`` checked and normalised for ``key``, or a ConfigError naming the key and what it must be."""
    section, f = lookup(key)
    check: Check = f.metadata["check"]
    try:
        return check(value)
    except Invalid as bad:
        default = getattr(SECTIONS[section](), f.name)
        # for one bad list item, `config set` of the whole list would also drop the good items (deny rules!)
        command = "" if bad.at else f"sandchat config set {key} {shlex.quote(raw_text(default) or check.example)}"
        problem = f"{key}{bad.at} must be {bad.expected}, got {show(bad.got)}"
        raise ConfigError(problem, key=key + bad.at, expected=bad.expected, command=command) from None


def raw_text(value: object) -> str:
    """``value`` as text that `sandchat config set` reads back to the same value ("" for empty values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    return show(to_toml_value(value), limit=10_000) if value else ""


def config_from_toml(data: Mapping[str, object]) -> Config:
    """A Config from parsed TOML; unknown sections or keys and wrong values raise ConfigError (no location)."""
    sections: dict[str, Any] = {}  # section objects, typed by the model itself
    for name, table in data.items():
        if name not in SECTIONS:
            raise unknown_key(name, list(SECTIONS), section="")
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"[{name}] must be a table of settings, got {show(table)}",
                key=name,
                expected="a table",
                hint=f"write it as a [{name}] section of key = value lines",
            )
        values = {field_name: check_setting(f"{name}.{field_name}", value) for field_name, value in table.items()}
        sections[name] = replace(SECTIONS[name](), **values)
    return replace(Config(), **sections)


def to_toml_value(value: object) -> object:
    """A model value as tomli_w writes it: tuples as lists, rules as tables without an unset path."""
    if isinstance(value, ApprovalRule):
        parts = (("tool", value.tool), ("path", value.path), ("action", value.action))
        return {name: part for name, part in parts if part is not None}
    if isinstance(value, tuple | list):
        return [to_toml_value(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): to_toml_value(v) for k, v in value.items()}
    return value


def config_to_toml(config: Config, *, changed_only: bool = True) -> dict[str, dict[str, object]]:
    """The config as TOML tables; with ``changed_only``, only values that differ from the defaults."""
    out: dict[str, dict[str, object]] = {}
    for name, cls in SECTIONS.items():
        current, default = getattr(config, name), cls()
        table = {
            f.name: to_toml_value(getattr(current, f.name))
            for f in fields(cls)
            if not changed_only or getattr(current, f.name) != getattr(default, f.name)
        }
        if table:
            out[name] = table
    return out
