"""Settings precedence and the errors a broken config gets."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reliant import config
from reliant.errors import ConfigError


def test_precedence_defaults_then_file_then_env_then_flags(tmp_path: Path) -> None:
    assert config.load(tmp_path, env={}).api_port == 0
    (tmp_path / "reliant.toml").write_text('log_level = "debug"\n[api]\nport = 8001\n[temporal]\nui = true\n')
    from_file = config.load(tmp_path, env={})
    assert (from_file.api_port, from_file.log_level, from_file.temporal_ui) == (8001, "debug", True)
    from_env = config.load(tmp_path, env={"RELIANT_API_PORT": "8002", "RELIANT_TEMPORAL_UI": "false"})
    assert (from_env.api_port, from_env.temporal_ui, from_env.log_level) == (8002, False, "debug")
    from_flags = config.load(tmp_path, env={"RELIANT_API_PORT": "8002"}, api_port=8003, log_level=None)
    assert (from_flags.api_port, from_flags.log_level) == (8003, "debug")


def test_data_dir_comes_from_env_when_not_given(tmp_path: Path) -> None:
    assert config.load(None, env={"RELIANT_DATA_DIR": str(tmp_path)}).data_dir == tmp_path


def test_standard_provider_keys_are_honoured_below_reliant_ones(tmp_path: Path) -> None:
    s = config.load(tmp_path, env={"ANTHROPIC_API_KEY": "std", "OPENAI_API_KEY": "o"})
    assert (s.anthropic_api_key, s.openai_api_key) == ("std", "o")
    s = config.load(tmp_path, env={"ANTHROPIC_API_KEY": "std", "RELIANT_ANTHROPIC_API_KEY": "mine"})
    assert s.anthropic_api_key == "mine"


def test_secrets_are_masked_in_repr_and_display(tmp_path: Path) -> None:
    s = config.load(tmp_path, env={"RELIANT_ANTHROPIC_API_KEY": "sk-ant-verysecretvalue"})
    assert "verysecret" not in repr(s)
    assert "verysecret" not in str(config.redacted(s))


def test_corrupt_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "reliant.toml"
    path.write_text('log_level = "info"\n[api]\nport = = 3\n')
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path, env={})
    assert info.value.path == path and info.value.line == 3
    assert str(info.value).startswith(f"{path}:3: invalid TOML")


def test_unknown_key_and_wrong_type_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "reliant.toml"
    path.write_text("\n[api]\nprot = 8000\n")
    with pytest.raises(ConfigError, match=r"reliant.toml:3: unknown setting 'api_prot'"):
        config.load(tmp_path, env={})
    path.write_text('[api]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r"reliant.toml:2: api_port"):
        config.load(tmp_path, env={})


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RELIANT_API_PORT"):
        config.load(tmp_path, env={"RELIANT_API_PORT": "lots"})


def test_a_negative_number_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"thinking_budget \(env RELIANT_THINKING_BUDGET\): must be 0 or more"):
        config.load(tmp_path, env={"RELIANT_THINKING_BUDGET": "-5"})
    (tmp_path / "reliant.toml").write_text("approval_timeout = -1\n")
    with pytest.raises(ConfigError, match=r"reliant.toml:1: approval_timeout"):
        config.load(tmp_path, env={})
    assert config.load(tmp_path.parent / "elsewhere", env={"RELIANT_THINKING_BUDGET": "8000"}).thinking_budget == 8000


def test_a_heartbeat_timeout_not_longer_than_the_interval_is_refused(tmp_path: Path) -> None:
    """A daemon would read as offline between two heartbeats (api tests flapped on 3 s against 5 s)."""
    with pytest.raises(ConfigError, match=r"heartbeat_timeout \(3 s\) must be longer than heartbeat_interval \(5 s\)"):
        config.load(tmp_path, env={"RELIANT_HEARTBEAT_TIMEOUT": "3"})
    assert config.load(tmp_path, env={"RELIANT_HEARTBEAT_TIMEOUT": "3", "RELIANT_HEARTBEAT_INTERVAL": "1"})


def test_an_unknown_log_level_is_refused_in_every_layer(tmp_path: Path) -> None:
    """Logging would refuse it later, with a traceback from deep inside the command."""
    (tmp_path / "reliant.toml").write_text('log_level = "loud"\n')
    with pytest.raises(ConfigError, match=r"reliant.toml:1: log_level \(file\): 'loud' is not debug, info"):
        config.load(tmp_path, env={})
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(ConfigError, match=r"log_level \(env RELIANT_LOG_LEVEL\): 'verbose' is not"):
        config.load(elsewhere, env={"RELIANT_LOG_LEVEL": "verbose"})
    logging.addLevelName(5, "TRACE")  # as a library may on import (uvicorn does): still not one of ours
    with pytest.raises(ConfigError, match=r"log_level \(flag\): 'trace' is not"):
        config.load(elsewhere, env={}, log_level="trace")
    assert config.load(elsewhere, env={"RELIANT_LOG_LEVEL": "DEBUG"}, log_level=None).log_level == "DEBUG"
    assert config.load(elsewhere, env={}, log_level="warning").log_level == "warning"


def test_a_default_model_of_no_known_provider_is_refused_in_every_layer(tmp_path: Path) -> None:
    """Else `reliant up` starts with it and every chat without --model fails, naming the model the
    user never gave and hinting at the settings screen's models, not at reliant.toml."""
    (tmp_path / "reliant.toml").write_text('log_level = "info"\n\ndefault_model = "bogus:thing"\n')
    with pytest.raises(ConfigError, match=r"reliant.toml:3: default_model \(file\): 'bogus:thing' is not a model"):
        config.load(tmp_path, env={})
    elsewhere = tmp_path / "elsewhere"
    for spec in ("claude-sonnet-4-6", "anthropic:", "openai: ", ":gpt"):
        with pytest.raises(ConfigError, match=r"default_model \(env RELIANT_DEFAULT_MODEL\): .* anthropic:MODEL"):
            config.load(elsewhere, env={"RELIANT_DEFAULT_MODEL": spec})
    with pytest.raises(ConfigError, match=r"default_model \(flag\): 'gpt-5.4' is not a model"):
        config.load(elsewhere, env={}, default_model="gpt-5.4")
    for spec in ("scripted:demo", "anthropic:claude-sonnet-4-6", "openai:gpt-5.4", "scripted:/abs/path.yaml"):
        assert config.load(elsewhere, env={"RELIANT_DEFAULT_MODEL": spec}).default_model == spec


def test_a_port_past_65535_is_refused_in_every_layer(tmp_path: Path) -> None:
    (tmp_path / "reliant.toml").write_text("[api]\nport = 70000\n")
    with pytest.raises(ConfigError, match=r"reliant.toml:2: api_port \(file\): 70000 is not a port"):
        config.load(tmp_path, env={})
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(ConfigError, match=r"gateway_port \(env RELIANT_GATEWAY_PORT\): 65536 is not a port"):
        config.load(elsewhere, env={"RELIANT_GATEWAY_PORT": "65536"})
    with pytest.raises(ConfigError, match=r"api_port \(flag\): 99999 is not a port"):
        config.load(elsewhere, env={}, api_port=99999)
    assert config.load(elsewhere, env={}, api_port=65535, probe_port=0).api_port == 65535


def test_a_fractional_whole_number_or_a_non_finite_number_is_refused(tmp_path: Path) -> None:
    """`port = 7420.9` was cut to 7420 and `chat_usd = nan` turned the budget off, both silently."""
    path = tmp_path / "reliant.toml"
    path.write_text("[api]\nport = 7420.9\n")
    with pytest.raises(ConfigError, match=r"reliant.toml:2: api_port \(file\): not a whole number: 7420.9"):
        config.load(tmp_path, env={})
    for text in ("nan", "inf"):
        path.write_text(f"[budget]\nchat_usd = {text}\n")
        refused = rf"reliant.toml:2: budget_chat_usd \(file\): not a finite number: {text}"
        with pytest.raises(ConfigError, match=refused):
            config.load(tmp_path, env={})
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(ConfigError, match=r"connect_timeout \(env RELIANT_CONNECT_TIMEOUT\): not a finite number"):
        config.load(elsewhere, env={"RELIANT_CONNECT_TIMEOUT": "NaN"})
    path.write_text("[api]\nport = 7420.0\n[budget]\nchat_usd = 2\n")
    loaded = config.load(tmp_path, env={})
    assert (loaded.api_port, loaded.budget_chat_usd) == (7420, 2.0)
    assert isinstance(loaded.api_port, int)


def test_a_list_of_paths_takes_only_strings(tmp_path: Path) -> None:
    """`workspaces = 5` became the path "5" and `[1, true]` the paths "1" and "True", silently."""
    path = tmp_path / "reliant.toml"
    for value, said in (("5", "int"), ("true", "bool"), ('["/a", 1]', "int")):
        path.write_text(f"[daemon]\nworkspaces = {value}\n")
        refused = rf"reliant.toml:2: daemon_workspaces \(file\): expected a path or a list of paths, got {said}"
        with pytest.raises(ConfigError, match=refused):
            config.load(tmp_path, env={})
    path.write_text('[daemon]\nworkspaces = ["/a", "/b"]\nworkspace_roots = "/c"\n')
    loaded = config.load(tmp_path, env={"RELIANT_DAEMON_WORKSPACES": "/d:/e"})
    assert loaded.daemon_workspaces == (Path("/d"), Path("/e")) and loaded.daemon_workspace_roots == (Path("/c"),)


def test_the_llm_read_timeout_is_a_layered_setting(tmp_path: Path) -> None:
    assert config.load(tmp_path, env={}).llm_read_timeout == 90.0
    (tmp_path / "reliant.toml").write_text("[llm]\nread_timeout = 120\n")
    assert config.load(tmp_path, env={}).llm_read_timeout == 120.0
    assert config.load(tmp_path, env={"RELIANT_LLM_READ_TIMEOUT": "2.5"}).llm_read_timeout == 2.5
    with pytest.raises(ConfigError, match=r"llm_read_timeout \(env RELIANT_LLM_READ_TIMEOUT\): must be 0 or more"):
        config.load(tmp_path, env={"RELIANT_LLM_READ_TIMEOUT": "-1"})


def test_the_codec_key_and_the_nats_monitor_are_settings_like_the_others(tmp_path: Path) -> None:
    (tmp_path / "reliant.toml").write_text(
        '[codec]\nkey_file = "/srv/reliant/secrets/codec_key"\n[nats]\nmonitor = true\n'
    )
    s = config.load(tmp_path, env={"RELIANT_CODEC_KEY": "k" * 43})
    assert (s.codec_key_file, s.nats_monitor, s.codec_key) == ("/srv/reliant/secrets/codec_key", True, "k" * 43)
    assert "k" * 10 not in repr(s) and "k" * 10 not in str(config.redacted(s))
    assert config.load(tmp_path, env={"RELIANT_NATS_MONITOR": "no"}).nats_monitor is False


def _secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secrets_come_from_files_read_once_with_the_trailing_newline_stripped(tmp_path: Path) -> None:
    api = _secret(tmp_path / "api", "api-secret\n")
    daemon = _secret(tmp_path / "daemon", "daemon-secret\r\n")
    nats = _secret(tmp_path / "nats", "nats secret with spaces \n")
    (tmp_path / "reliant.toml").write_text(f'[nats]\ntoken_file = "{nats}"\n')
    s = config.load(tmp_path, env={"RELIANT_API_TOKEN_FILE": str(api)}, daemon_token_file=str(daemon), nats_token=None)
    assert (s.api_token, s.daemon_token, s.nats_token) == ("api-secret", "daemon-secret", "nats secret with spaces ")
    api.write_text("changed\n")  # read once, at load: a later change is not seen by these settings
    assert s.api_token == "api-secret" and "api-secret" in config.secret_values(s)


def test_the_higher_layer_wins_between_a_secret_and_its_file(tmp_path: Path) -> None:
    token = _secret(tmp_path / "token", "from-file\n")
    (tmp_path / "reliant.toml").write_text(f'[api]\ntoken_file = "{token}"\n')
    assert config.load(tmp_path, env={"RELIANT_API_TOKEN": "from-env"}).api_token == "from-env"
    assert config.load(tmp_path, env={}, api_token="flag").api_token == "flag"
    (tmp_path / "reliant.toml").write_text('[api]\ntoken = "from-toml"\n')
    assert config.load(tmp_path, env={"RELIANT_API_TOKEN_FILE": str(token)}).api_token == "from-file"
    with pytest.raises(ConfigError, match="api_token and api_token_file are both set"):
        config.load(tmp_path, env={"RELIANT_API_TOKEN_FILE": str(token), "RELIANT_API_TOKEN": "x"})


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory every user can enter (tmp_path is not: pytest makes its base 0700)."""
    path = Path(tempfile.mkdtemp(prefix="reliant-shared-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_a_missing_empty_or_world_readable_secret_file_is_refused_naming_the_setting(
    tmp_path: Path, shared: Path
) -> None:
    with pytest.raises(ConfigError, match=r"daemon_token_file: cannot read .*nope: No such file"):
        config.load(tmp_path, env={"RELIANT_DAEMON_TOKEN_FILE": str(tmp_path / "nope")})
    empty = _secret(shared / "empty", "\n")
    with pytest.raises(ConfigError, match=r"nats_token_file: .*empty is empty"):
        config.load(tmp_path, env={"RELIANT_NATS_TOKEN_FILE": str(empty)})
    exposed = _secret(shared / "exposed", "t\n", 0o644)
    with pytest.raises(ConfigError, match=r"api_token_file: .*exposed is readable by other users"):
        config.load(tmp_path, env={"RELIANT_API_TOKEN_FILE": str(exposed)})
    codec = _secret(shared / "codec", "k\n", 0o604)
    with pytest.raises(ConfigError, match=r"codec_key_file: .*codec is readable by other users"):
        config.read_secret_file(str(codec), "codec_key_file")  # what the api and worker check at start
    # A 0644 file no other user can reach (a 0700 directory above it) is private in effect.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    assert (
        config.load(tmp_path, env={"RELIANT_API_TOKEN_FILE": str(_secret(private / "t", "ok\n", 0o644))}).api_token
        == "ok"
    )


def test_the_database_password_is_put_into_the_database_url(tmp_path: Path) -> None:
    password = _secret(tmp_path / "pg", "p@ss:w/rd\n")
    s = config.load(
        tmp_path,
        env={
            "RELIANT_DATABASE_URL": "postgresql://reliant@db:5432/reliant",
            "RELIANT_DATABASE_PASSWORD_FILE": str(password),
        },
    )
    assert s.database_url == "postgresql://reliant:p%40ss%3Aw%2Frd@db:5432/reliant"
    assert "p@ss:w/rd" in config.secret_values(s) and "p@ss" not in repr(s)
    conninfo = config.load(
        tmp_path, env={"RELIANT_DATABASE_URL": "host=db user=r", "RELIANT_DATABASE_PASSWORD": "it's"}
    )
    assert conninfo.database_url == "host=db user=r password='it\\'s'"
    with pytest.raises(ConfigError, match="database_url holds a password too"):
        config.load(tmp_path, env={"RELIANT_DATABASE_URL": "postgresql://u:x@db/r", "RELIANT_DATABASE_PASSWORD": "y"})
    with pytest.raises(ConfigError, match="database_password is set but database_url is not"):
        config.load(tmp_path, env={"RELIANT_DATABASE_PASSWORD": "y"})
