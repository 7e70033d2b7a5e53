"""The config model over real files: defaults, validation with file/line/key, env overrides, atomic saves."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import (
    ENV_OVERRIDES,
    ApprovalRule,
    Config,
    ConfigError,
    describe_key,
    get_value,
    load_config,
    load_config_or_defaults,
    mask_secret,
    resolve_backend,
    save_config,
    set_value,
    to_display_dict,
    update_config_file,
)
from core.config_file import find_line
from core.config_model import config_keys
from core.errors import ValidationError


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "conf" / "sandchat" / "config.toml"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, text: str | bytes) -> ConfigError:
    write(path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return caught.value


def every_value_changed() -> Config:
    """A config where no value is the default, so a round trip exercises every field."""
    c = Config()
    return replace(
        c,
        backend=replace(c.backend, mode="local", sandbox="work.2"),
        local=replace(
            c.local,
            timeout=2.5,
            memory_mb=256,
            cpu_seconds=5,
            output_bytes=4096,
            max_file_bytes=1000,
            processes=8,
            languages=("python",),
            allow_weak_isolation=True,
            sandbox_uid=65534,
        ),
        daytona=replace(
            c.daytona,
            api_url="https://daytona.example/api",
            target="eu",
            language="typescript",
            snapshot="snap",
            image="python:3.12",
            cpu=2,
            memory_gb=4,
            disk_gb=10,
            auto_stop_minutes=0,
            auto_delete_minutes=30,
            ephemeral=True,
            network_block_all=False,
            network_allow_list=("10.0.0.0/8", "2001:db8::/32"),
            labels={"team": "ml", "a.b": "c"},
            create_timeout=120.0,
        ),
        assistant=replace(
            c.assistant,
            base_url="http://localhost:11434/v1",
            model="llama3",
            system_prompt='Be "brief".\nOK',
            approval_mode="auto-edit",
            max_steps=3,
            rules=(ApprovalRule("write_file", "allow", "src/**"), ApprovalRule("execute_code", "deny")),
        ),
        search=replace(c.search, provider="searxng", url="https://searx.example", max_results=7),
        audit=replace(c.audit, enabled=False, retention_days=90),
        keys=replace(c.keys, bindings={"app.quit": "ctrl+q"}),
    )


# --- defaults -------------------------------------------------------------------------------------------------


def test_missing_file_gives_defaults_and_creates_nothing(path: Path) -> None:
    loaded = load_config(path, {})
    assert loaded.config == Config() and loaded.file_config == Config()
    assert loaded.source == path and not loaded.exists and loaded.env_overrides == {}
    assert not path.parent.exists()


def test_defaults_are_the_safe_baseline() -> None:
    c = Config()
    assert c.local.max_file_bytes == 10 * 1024 * 1024 and c.local.timeout == 30.0
    assert c.daytona.network_block_all and c.daytona.network_allow_list == ()
    assert c.assistant.approval_mode == "ask" and not c.local.allow_weak_isolation
    assert c.backend.mode == "auto" and c.daytona.auto_delete_minutes == -1 and c.audit.retention_days == 0


def test_config_keys_are_unique_and_described() -> None:
    keys = config_keys()
    assert len(keys) == len(set(keys)) and "local.timeout" in keys and "keys.bindings" in keys
    info = describe_key("local.timeout")
    assert info.expected == "a number of seconds > 0" and info.default == 30.0 and not info.secret
    assert describe_key("daytona.api_key").secret


# --- round trip and atomic writes ------------------------------------------------------------------------------


def test_round_trip_of_every_field(path: Path) -> None:
    config = every_value_changed()
    save_config(config, path)
    assert load_config(path, {}).config == config
    assert load_config(path, {}).exists


def test_only_changed_values_are_written(path: Path) -> None:
    save_config(set_value(Config(), "local.timeout", "5"), path)
    text = path.read_text()
    assert "timeout = 5.0" in text and "memory_mb" not in text and "[daytona]" not in text
    save_config(Config(), path)
    assert all(line.startswith("#") or not line for line in path.read_text().splitlines())
    assert load_config(path, {}).config == Config()


@settings(max_examples=40, deadline=None)
@given(
    timeout=st.floats(min_value=0, exclude_min=True, allow_nan=False, allow_infinity=False),
    memory=st.integers(1, 2**63 - 1),
    delete=st.integers(-1, 10**6),
    model=st.text(max_size=40),
    languages=st.lists(st.from_regex(r"[a-z0-9_+-]{1,10}", fullmatch=True), max_size=4),
    labels=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=3),
)
def test_round_trip_property(
    timeout: float, memory: int, delete: int, model: str, languages: list[str], labels: dict[str, str]
) -> None:
    c = Config()
    config = replace(
        c,
        local=replace(c.local, timeout=timeout, memory_mb=memory, languages=tuple(languages)),
        daytona=replace(c.daytona, auto_delete_minutes=delete, labels=labels),
        assistant=replace(c.assistant, model=model),
    )
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "config.toml"
        save_config(config, target)
        assert load_config(target, {}).config == config


def test_save_leaves_no_temp_files_and_makes_private_dirs(path: Path) -> None:
    save_config(every_value_changed(), path)
    assert os.listdir(path.parent) == ["config.toml"]
    for directory in (path.parent, path.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_failed_write_keeps_the_old_file_and_no_temp_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_config(set_value(Config(), "local.timeout", "5"), path)
    before = path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ConfigError, match="could not be written: No space left on device") as caught:
        save_config(every_value_changed(), path)
    assert caught.value.file == path
    assert path.read_bytes() == before and os.listdir(path.parent) == ["config.toml"]


def test_save_writes_through_a_symlink(tmp_path: Path) -> None:
    real = write(tmp_path / "dotfiles" / "config.toml", "[local]\ntimeout = 3\n")
    link = tmp_path / "conf" / "config.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    save_config(set_value(Config(), "local.timeout", "4"), link)
    assert link.is_symlink() and load_config(real, {}).config.local.timeout == 4.0


# --- validation: every field, wrong type and wrong value -------------------------------------------------------

WRONG_TYPE: dict[str, tuple[str, str]] = {
    "backend.mode": ("1", "one of 'auto', 'local', 'daytona'"),
    "backend.sandbox": ("true", "a sandbox name"),
    "local.timeout": ('"soon"', "a number of seconds > 0"),
    "local.memory_mb": ('"1024"', "a whole number of MiB >= 1"),
    "local.cpu_seconds": ("1.5", "a whole number of seconds >= 1"),
    "local.output_bytes": ("true", "a whole number of bytes >= 1"),
    "local.max_file_bytes": ('"10MB"', "a whole number of bytes >= 1"),
    "local.processes": ("[64]", "a whole number >= 1"),
    "local.languages": ('"python"', "a list like"),
    "local.allow_weak_isolation": ("1", "true or false"),
    "local.sandbox_uid": ('"nobody"', "a whole number from 1 to 4294967294"),
    "daytona.api_url": ("5", "a URL starting with http:// or https://"),
    "daytona.target": ("[]", "a non-empty string"),
    "daytona.api_key": ("123", "a string"),
    "daytona.language": ("3", "one of 'python', 'typescript', 'javascript'"),
    "daytona.snapshot": ("false", "a string"),
    "daytona.image": ("{ a = 1 }", "a string"),
    "daytona.cpu": ('"2"', "a whole number of CPUs >= 1"),
    "daytona.memory_gb": ("1.0", "a whole number of GiB >= 1"),
    "daytona.disk_gb": ("true", "a whole number of GiB >= 1"),
    "daytona.auto_stop_minutes": ('"15"', "a whole number of minutes >= 0"),
    "daytona.auto_delete_minutes": ("false", "a whole number of minutes >= -1"),
    "daytona.ephemeral": ('"no"', "true or false"),
    "daytona.network_block_all": ("0", "true or false"),
    "daytona.network_allow_list": ('"10.0.0.0/8"', "a list like"),
    "daytona.labels": ('["a"]', "a table like"),
    "daytona.create_timeout": ("true", "a number of seconds > 0"),
    "assistant.base_url": ("1", "a URL starting with http:// or https://"),
    "assistant.model": ("4", "a string"),
    "assistant.api_key": ("true", "a string"),
    "assistant.system_prompt": ("[1]", "a string"),
    "assistant.approval_mode": ("true", "one of 'read-only', 'ask', 'auto-edit', 'full-auto'"),
    "assistant.max_steps": ('"10"', "a whole number >= 1"),
    "assistant.rules": ('"allow all"', "a list like"),
    "search.provider": ("1", "one of 'none', 'searxng', 'brave', 'duckduckgo'"),
    "search.api_key": ("true", "a string"),
    "search.url": ("1", "a URL starting with http:// or https://"),
    "search.max_results": ("5.5", "a whole number from 1 to 50"),
    "audit.enabled": ('"yes"', "true or false"),
    "audit.retention_days": ("1.0", "a whole number of days >= 0"),
    "keys.bindings": ('"ctrl+q"', "a table like"),
    "ui.theme": ("3", "a non-empty string"),
}

WRONG_VALUE: list[tuple[str, str, str, str]] = [  # key, TOML value, the key in the error, expected
    ("backend.mode", '"cloud"', "backend.mode", "one of"),
    ("backend.sandbox", '"../x"', "backend.sandbox", "a sandbox name"),
    ("local.timeout", "0", "local.timeout", "> 0"),
    ("local.timeout", "-1.5", "local.timeout", "> 0"),
    ("local.timeout", "inf", "local.timeout", "> 0"),
    ("local.timeout", "nan", "local.timeout", "> 0"),
    ("local.memory_mb", "0", "local.memory_mb", ">= 1"),
    ("local.sandbox_uid", "0", "local.sandbox_uid", "never 0"),
    ("local.sandbox_uid", "4294967295", "local.sandbox_uid", "from 1 to"),
    ("local.languages", '["python", "Bash!"]', "local.languages[1]", "a language name"),
    ("local.languages", "[1]", "local.languages[0]", "a language name"),
    ("daytona.api_url", '"ftp://daytona.io"', "daytona.api_url", "http:// or https://"),
    ("daytona.api_url", '"app.daytona.io/api"', "daytona.api_url", "http:// or https://"),
    ("daytona.api_url", '"https://"', "daytona.api_url", "http:// or https://"),
    ("daytona.target", '"  "', "daytona.target", "a non-empty string"),
    ("daytona.language", '"rust"', "daytona.language", "one of"),
    ("daytona.auto_stop_minutes", "-1", "daytona.auto_stop_minutes", ">= 0"),
    ("daytona.auto_delete_minutes", "-2", "daytona.auto_delete_minutes", "-1 = never delete"),
    ("daytona.network_allow_list", '["10.0.0.1/8"]', "daytona.network_allow_list[0]", "CIDR"),
    ("daytona.network_allow_list", '["10.0.0.0/8", "lan"]', "daytona.network_allow_list[1]", "CIDR"),
    ("daytona.network_allow_list", '["10.0.0.0"]', "daytona.network_allow_list[0]", "CIDR"),
    ("daytona.labels", "{ team = 1 }", "daytona.labels['team']", "a string"),
    ("daytona.create_timeout", "0", "daytona.create_timeout", "> 0"),
    ("assistant.base_url", '"localhost:11434"', "assistant.base_url", "or empty for the default"),
    ("assistant.approval_mode", '"yolo"', "assistant.approval_mode", "one of"),
    ("assistant.max_steps", "0", "assistant.max_steps", ">= 1"),
    ("assistant.rules", '[{ tool = "read_file" }]', "assistant.rules[0]", "a rule like"),
    ("assistant.rules", '[{ tool = "rm", action = "deny" }]', "assistant.rules[0].tool", "'write_file'"),
    ("assistant.rules", '[{ tool = "read_file", action = "no" }]', "assistant.rules[0].action", "'allow', 'ask'"),
    ("assistant.rules", '[{ tool = "*", action = "ask", path = "" }]', "assistant.rules[0].path", "non-empty"),
    ("assistant.rules", '[{ tool = "*", action = "ask", when = 1 }]', "assistant.rules[0]", "a rule like"),
    ("assistant.rules", '["read_file"]', "assistant.rules[0]", "a rule like"),
    ("search.provider", '"google"', "search.provider", "one of"),
    ("search.url", '"searx.local"', "search.url", "http://"),
    ("search.max_results", "51", "search.max_results", "from 1 to 50"),
    ("audit.retention_days", "-1", "audit.retention_days", ">= 0"),
    ("keys.bindings", '{ "app.quit" = "" }', "keys.bindings['app.quit']", "a non-empty string"),
]


def test_every_key_has_a_wrong_type_case() -> None:
    assert sorted(WRONG_TYPE) == sorted(config_keys())


def file_with(key: str, literal: str) -> str:
    section, _, name = key.partition(".")
    other = "[audit]\nenabled = true\n" if section != "audit" else "[keys]\nbindings = {}\n"
    return f"# my settings\n{other}\n[{section}]\n# why\n{name} = {literal}\n"  # the key is on line 7


@pytest.mark.parametrize(("key", "literal", "expected"), [(k, *v) for k, v in WRONG_TYPE.items()])
def test_wrong_type_names_file_line_key_and_expected(path: Path, key: str, literal: str, expected: str) -> None:
    error = load_error(path, file_with(key, literal))
    assert (error.file, error.line, error.key) == (path, 7, key)
    assert expected in error.expected
    assert str(error).startswith(f"{path}, line 7: {key} must be {error.expected}, got ")
    assert "fix the file" in str(error)


@pytest.mark.parametrize(("key", "literal", "error_key", "expected"), WRONG_VALUE)
def test_wrong_value_names_key_and_expected(path: Path, key: str, literal: str, error_key: str, expected: str) -> None:
    error = load_error(path, file_with(key, literal))
    assert (error.file, error.line, error.key) == (path, 7, error_key)
    assert expected in error.expected and f"{error_key} must be" in str(error)


def test_message_reads_as_documented(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".config" / "sandchat" / "config.toml"
    text = "# sandchat\n\n[backend]\nmode = 'local'\n\n[local]\ntimeout = 'soon'\n"
    assert str(load_error(path, text)) == (
        "~/.config/sandchat/config.toml, line 7: local.timeout must be a number of seconds > 0, got 'soon' "
        "(fix the file or run `sandchat config set local.timeout 30`)"
    )


def test_ints_are_accepted_for_seconds(path: Path) -> None:
    write(path, "[local]\ntimeout = 5\n[daytona]\ncreate_timeout = 90\n")
    config = load_config(path, {}).config
    assert config.local.timeout == 5.0 and isinstance(config.local.timeout, float)
    assert config.daytona.create_timeout == 90.0


def test_approval_rules_load_in_array_table_form(path: Path) -> None:
    text = '[[assistant.rules]]\ntool = "write_file"\npath = "src/**"\naction = "allow"\n\n'
    text += '[[assistant.rules]]\ntool = "*"\naction = "deny"\n'
    rules = load_config(write(path, text), {}).config.assistant.rules
    assert rules == (ApprovalRule("write_file", "allow", "src/**"), ApprovalRule("*", "deny", None))
    error = load_error(path, text.replace('action = "deny"', 'action = "never"'))
    assert (error.key, error.line) == ("assistant.rules[1].action", 8)


def test_a_dotted_key_at_top_level_is_located(path: Path) -> None:
    error = load_error(path, "# x\nlocal.timeout = 'soon'\n")
    assert (error.key, error.line) == ("local.timeout", 2)
    error = load_error(path, "[keys.bindings]\n'app.quit' = 3\n")
    assert error.key == "keys.bindings['app.quit']" and error.line == 1


def test_unknown_key_is_named_with_a_suggestion(path: Path) -> None:
    error = load_error(path, "[local]\ntimeout = 5\ntimout = 3\n")
    assert (error.key, error.line) == ("local.timout", 3)
    assert "unknown key local.timout (did you mean local.timeout?)" in str(error)
    assert "valid keys in [local]: timeout, memory_mb" in error.hint


def test_unknown_section_is_named_with_a_suggestion(path: Path) -> None:
    error = load_error(path, "[local]\ntimeout = 5\n\n[serch]\nprovider = 'none'\n")
    assert (error.key, error.line) == ("serch", 4)
    assert "unknown section [serch] (did you mean [search]?)" in str(error)
    assert "valid sections: backend, local, daytona" in error.hint
    assert "unknown section [zzz]" in str(load_error(path, "zzz = 1\n"))


def test_a_section_that_is_not_a_table(path: Path) -> None:
    error = load_error(path, "\nlocal = 5\n")
    assert (error.key, error.line) == ("local", 2) and "[local] must be a table of settings, got 5" in str(error)


# --- unreadable files -------------------------------------------------------------------------------------------


def test_toml_syntax_error_has_line_and_column(path: Path) -> None:
    error = load_error(path, "[local]\ntimeout = 5\nmemory_mb = = 3\n")
    assert error.line == 3 and error.expected == "valid TOML" and "not valid TOML" in str(error)
    assert "(column 13)" in str(error) and "at line" not in str(error)
    assert load_error(path, "[local]\ntimeout = 5\ntimeout = 6\n").line == 3  # a duplicate key
    assert load_error(path, '[local]\nlanguages = ["python"').line == 2


def test_a_directory_at_the_path_is_an_error(path: Path) -> None:
    path.mkdir(parents=True)
    with pytest.raises(ConfigError, match="is a directory") as caught:
        load_config(path, {})
    assert caught.value.file == path
    loaded, error = load_config_or_defaults(path, {})
    assert loaded.config == Config() and loaded.exists and error is not None


def test_invalid_utf8_is_an_error_with_its_line(path: Path) -> None:
    error = load_error(path, b"[local]\ntimeout = 5\nmodel = '\xff'\n")
    assert error.line == 3 and "not UTF-8" in str(error) and "0xff" in str(error)


def test_a_byte_order_mark_is_accepted(path: Path) -> None:
    write(path, "\ufeff[local]\ntimeout = 5\n")
    assert load_config(path, {}).config.local.timeout == 5.0


# --- environment ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DAYTONA_API_KEY", "dtn_env_key"),
        ("DAYTONA_API_URL", "https://env.daytona.example/api"),
        ("DAYTONA_TARGET", "eu"),
        ("OPENAI_API_KEY", "sk-env"),
        ("OPENAI_BASE_URL", "http://localhost:8080/v1"),
    ],
)
def test_environment_wins_over_the_file(path: Path, variable: str, value: str) -> None:
    key = ENV_OVERRIDES[variable]
    section, _, name = key.partition(".")
    file_value = "https://file.example" if "url" in name else "from-file"
    write(path, f'[{section}]\n{name} = "{file_value}"\n')
    loaded = load_config(path, {variable: value})
    assert get_value(loaded.config, key) == value and loaded.env_overrides == {key: variable}
    assert get_value(loaded.file_config, key) == file_value
    for blank in ("", "  \n"):
        ignored = load_config(path, {variable: blank})
        assert get_value(ignored.config, key) == file_value and ignored.env_overrides == {}


def test_a_bad_environment_variable_is_named(path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"DAYTONA_API_URL": "daytona.local"})
    error = caught.value
    assert error.env_var == "DAYTONA_API_URL" and error.key == "daytona.api_url" and error.file is None
    assert str(error).startswith("environment variable DAYTONA_API_URL: daytona.api_url must be a URL")
    assert "unset DAYTONA_API_URL" in error.hint
    loaded, warning = load_config_or_defaults(path, {"DAYTONA_API_URL": "daytona.local", "DAYTONA_TARGET": "eu"})
    assert warning is not None and warning.env_var == "DAYTONA_API_URL"
    assert loaded.config.daytona.api_url == Config().daytona.api_url and loaded.config.daytona.target == "eu"


def test_start_up_path_returns_defaults_plus_env_and_the_error(path: Path) -> None:
    write(path, "[local]\ntimeout = 'soon'\n")
    loaded, error = load_config_or_defaults(path, {"OPENAI_API_KEY": "sk-x"})
    assert error is not None and error.key == "local.timeout" and error.line == 2
    assert loaded.config == set_value(Config(), "assistant.api_key", "sk-x") and loaded.exists
    assert loaded.env_overrides == {"assistant.api_key": "OPENAI_API_KEY"}
    fine, none = load_config_or_defaults(path.parent / "absent.toml", {})
    assert none is None and fine.config == Config() and not fine.exists


# --- secrets and broken files ------------------------------------------------------------------------------------


def with_keys(config: Config) -> Config:
    return set_value(set_value(config, "daytona.api_key", "dtn_secret_1234"), "assistant.api_key", "sk-secret-5678")


def test_secrets_are_not_written_by_default(path: Path) -> None:
    save_config(with_keys(set_value(Config(), "local.timeout", "5")), path)
    text = path.read_text()
    assert "secret" not in text and "api_key" not in text
    assert load_config(path, {}).config == set_value(Config(), "local.timeout", "5")


def test_secrets_written_on_request_with_mode_600(path: Path) -> None:
    save_config(with_keys(Config()), path, include_secrets=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path, {}).config == with_keys(Config())


def test_saving_keeps_a_key_the_file_already_holds(path: Path) -> None:
    save_config(with_keys(Config()), path, include_secrets=True)
    save_config(set_value(Config(), "local.timeout", "9"), path)
    assert load_config(path, {}).config == with_keys(set_value(Config(), "local.timeout", "9"))


def test_an_environment_key_is_never_saved(path: Path) -> None:
    loaded = load_config(path, {"OPENAI_API_KEY": "sk-from-env-abcd"})
    save_config(loaded.config, path)
    assert "sk-from-env" not in path.read_text()


BROKEN = ["[local]\ntimeout = 'soon'\n", "[local\n", "[nope]\n"]


@pytest.mark.parametrize("text", BROKEN)
def test_a_broken_file_is_never_overwritten(path: Path, text: str) -> None:
    write(path, text)
    with pytest.raises(ConfigError, match="the file is broken, so sandchat did not save over it") as caught:
        save_config(Config(), path)
    assert caught.value.file == path and path.read_text() == text
    save_config(set_value(Config(), "local.timeout", "5"), path, force=True)
    assert load_config(path, {}).config.local.timeout == 5.0


# --- set, get, display ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("local.timeout", "45", 45.0),
        ("local.timeout", "0.5", 0.5),
        ("local.memory_mb", "2048", 2048),
        ("local.allow_weak_isolation", "true", True),
        ("local.languages", '["python", "bash"]', ("python", "bash")),
        ("daytona.labels", '{ team = "ml" }', {"team": "ml"}),
        ("daytona.auto_delete_minutes", "0", 0),
        ("assistant.model", "gpt-4o", "gpt-4o"),
        ("assistant.model", "4", "4"),  # a text setting keeps the text as typed
        ("assistant.model", '"quoted"', "quoted"),
        ("assistant.system_prompt", "", ""),
        ("backend.mode", "daytona", "daytona"),
        ("assistant.rules", '[{ tool = "execute_code", action = "ask" }]', (ApprovalRule("execute_code", "ask"),)),
    ],
)
def test_set_value_then_get_value(key: str, raw: str, value: object) -> None:
    config = set_value(Config(), key, raw)
    assert get_value(config, key) == value
    assert get_value(Config(), key) != value or raw == ""


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("local.timeout", "soon", "a number of seconds > 0"),
        ("local.timeout", "1\nmemory_mb = 2", "a number of seconds > 0"),  # one value, never a second key
        ("local.memory_mb", "1.5", "a whole number of MiB >= 1"),
        ("local.allow_weak_isolation", "yes", "true or false"),
        ("local.languages", "python", "a list like"),
        ("backend.mode", "cloud", "one of 'auto', 'local', 'daytona'"),
        ("daytona.network_allow_list", '["10.0.0.1/8"]', "a CIDR range"),
    ],
)
def test_set_value_refuses_bad_values(key: str, raw: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        set_value(Config(), key, raw)
    assert caught.value.key.startswith(key) and expected in caught.value.expected
    assert caught.value.file is None
    # a whole-value fix is suggested, but not for one bad item: setting the whole list would drop the good ones
    suggested = f"for example `sandchat config set {key} " in str(caught.value)
    assert suggested == (caught.value.key == key)


def test_unknown_keys_in_get_and_set() -> None:
    with pytest.raises(ConfigError, match=r"did you mean local\.timeout\?"):
        get_value(Config(), "local.timout")
    with pytest.raises(ConfigError, match=r"unknown section \[locl\]"):
        set_value(Config(), "locl.timeout", "5")


def test_display_masks_secrets() -> None:
    shown = to_display_dict(with_keys(Config()))
    assert shown["daytona"]["api_key"] == "****1234" and shown["assistant"]["api_key"] == "****5678"
    assert to_display_dict(Config())["assistant"]["api_key"] == ""
    assert shown["local"]["languages"] == ["python", "bash", "node"] and list(shown)[0] == "backend"
    assert mask_secret("sk-...abcd-long-enough") == "****ough" and mask_secret("short") == "****"


# --- the `config set` path ------------------------------------------------------------------------------------


def test_update_config_file_repairs_the_broken_value(path: Path) -> None:
    write(path, "[backend]\nmode = 'local'\n[local]\ntimeout = 'soon'\n")
    config = update_config_file(path, "local.timeout", "30")
    assert config == set_value(Config(), "backend.mode", "local")
    assert load_config(path, {}).config == config


def test_update_config_file_keeps_file_secrets_and_refuses_other_breakage(path: Path) -> None:
    write(path, "[assistant]\napi_key = 'sk-in-file'\n[local]\nmemory_mb = 0\n")
    with pytest.raises(ConfigError) as caught:
        update_config_file(path, "local.timeout", "5")
    assert caught.value.key == "local.memory_mb" and caught.value.line == 4
    update_config_file(path, "local.memory_mb", "512")
    assert load_config(path, {}).config.assistant.api_key == "sk-in-file"
    with pytest.raises(ConfigError, match="not valid TOML"):
        update_config_file(write(path, "[local\n"), "local.timeout", "5")
    assert path.read_text() == "[local\n"


def test_update_config_file_creates_a_new_file(path: Path) -> None:
    update_config_file(path, "daytona.api_key", "dtn_explicitly_saved")
    assert load_config(path, {}).config.daytona.api_key == "dtn_explicitly_saved"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


# --- backend choice -----------------------------------------------------------------------------------------------


def test_override_wins_over_everything() -> None:
    daytona_mode = set_value(Config(), "backend.mode", "daytona")
    choice = resolve_backend(daytona_mode, {"DAYTONA_API_KEY": "k"}, "local")
    assert (choice.name, choice.reason) == ("local", "--backend local")
    assert resolve_backend(Config(), {"DAYTONA_API_KEY": "k"}, "daytona").reason == "--backend daytona"
    auto = resolve_backend(set_value(Config(), "backend.mode", "local"), {"DAYTONA_API_KEY": "k"}, "auto")
    assert (auto.name, auto.reason) == ("daytona", "auto (--backend auto): DAYTONA_API_KEY is set")


def test_bad_override_is_refused() -> None:
    with pytest.raises(ValidationError, match="--backend 'cloud' is not a backend"):
        resolve_backend(Config(), {}, "cloud")


def test_config_mode_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config_file = tmp_path / ".config" / "sandchat" / "config.toml"
    local_mode = set_value(Config(), "backend.mode", "local")
    local = resolve_backend(local_mode, {"DAYTONA_API_KEY": "k"}, None, config_file=config_file)
    assert (local.name, local.reason) == ("local", "backend.mode = local in ~/.config/sandchat/config.toml")
    daytona = resolve_backend(set_value(Config(), "backend.mode", "daytona"), {}, None)
    assert daytona.name == "daytona"
    assert daytona.reason == (
        "backend.mode = daytona in the config file (but no Daytona API key is set: set DAYTONA_API_KEY)"
    )


@pytest.mark.parametrize(
    ("environ", "config_key", "name", "reason"),
    [
        ({"DAYTONA_API_KEY": "k"}, "", "daytona", "auto: DAYTONA_API_KEY is set"),
        ({}, "dtn_in_file", "daytona", "auto: daytona.api_key is set in the config file"),
        ({}, "", "local", "auto: no Daytona API key (set DAYTONA_API_KEY to use Daytona)"),
        ({"DAYTONA_API_KEY": ""}, "", "local", "auto: no Daytona API key (set DAYTONA_API_KEY to use Daytona)"),
    ],
)
def test_auto_detection(environ: dict[str, str], config_key: str, name: str, reason: str) -> None:
    config = set_value(Config(), "daytona.api_key", config_key) if config_key else Config()
    choice = resolve_backend(config, environ, None)
    assert (choice.name, choice.reason) == (name, reason)


# --- line finding details --------------------------------------------------------------------------------------


def test_find_line_best_effort() -> None:
    text = '[ "local" ]\n"timeout" = 1\n[daytona]\nlabels.team = 1\n'
    assert find_line(text, "local.timeout") == 2
    assert find_line(text, "daytona.labels['team']") == 4
    assert find_line(text, "daytona.cpu") == 3  # not set here: the section's line
    assert find_line(text, "search.url") is None


# -- the theme, read before the config is loaded ------------------------------------------------------------


@pytest.mark.parametrize(("text", "theme"), [
    ('[ui]\ntheme = "nord"\n', "nord"),
    ("[assistant]\nmodel = 'm'\n\n[ ui ]  # looks\n  theme='gruvbox'   # mine\n", "gruvbox"),
    ('[keys]\ntheme = "nord"\n', None),  # another section's key
    ('theme = "nord"\n[ui]\n', None),  # before any section
    ('[ui]\ntheme = "no\\u001b[2Jpe"\n', None),  # not plain: the full load reads it
    ('[ui]\ntheme = """nord"""\n', None),
    ('[ui]\n# theme = "nord"\n', None),
    ("[ui\ntheme = 'nord'\n", None),  # a broken header: no section
])
def test_the_theme_is_read_plainly_or_not_at_all(path: Path, text: str, theme: str | None) -> None:
    from core.config_peek import peek_theme

    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert peek_theme(path) == theme


def test_the_theme_read_early_is_the_one_the_config_holds(path: Path) -> None:
    from core.config_peek import peek_theme

    assert peek_theme(path) is None  # no file
    path.parent.mkdir(parents=True)
    for theme in ("nord", "catppuccin-mocha", "textual-light"):
        update_config_file(path, "ui.theme", f'"{theme}"')
        assert peek_theme(path) == theme == load_config(path, {}).config.ui.theme
    path.write_bytes(b"[ui]\ntheme = 'nord'\n" + b"#" * (1 << 20))  # too large to peek at
    assert peek_theme(path) is None
