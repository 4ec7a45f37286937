"""Settings: one object, built once in the CLI and passed down.

Precedence, lowest to highest: defaults < `<data-dir>/reliant.toml` < `RELIANT_*` env < flags.
A setting named `api_port` is `[api] port = 7420` in the file and `RELIANT_API_PORT` in the env.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from reliant.domain.agents import AgentLimits
from reliant.domain.model_spec import split_model_spec
from reliant.errors import ConfigError

CONFIG_FILE = "reliant.toml"
DEFAULT_API_PORT = 7420
DEFAULT_DATA_DIR = Path("~/.reliant")
# The levels logging always knows, not whatever a library imported meanwhile added (TRACE, say).
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL", "NOTSET"})


def host_port(host: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets, as URLs and gRPC targets need it (`[::1]:7421`)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    log_level: str = "info"

    api_port: int = 0  # 0: persisted in the data dir, first run prefers DEFAULT_API_PORT
    api_token: str = ""  # "": generated on first run and kept in the data dir
    gateway_port: int = 0
    gateway_address: str = ""  # where a daemon dials, host:port
    daemon_token: str = ""

    # External services for split mode; empty means "the embedded ones".
    database_url: str = ""
    nats_url: str = ""
    nats_token: str = ""
    temporal_address: str = ""
    temporal_namespace: str = "reliant"
    temporal_task_queue: str = "reliant"
    temporal_ui: bool = False
    temporal_ui_url: str = ""  # set by the supervisor when it serves the embedded Web UI
    # The key that seals every Temporal payload (reliant/clients/codec.py): the key itself, or a file
    # holding it. `reliant up` keeps one in <data-dir>/secrets/codec_key; split replicas share one.
    codec_key: str = field(default="", repr=False)
    codec_key_file: str = ""
    # The fingerprint (key id) the database records for the codec key, to replace with this key's:
    # starting over knowingly with a new key (reliant/clients/codec_record.py). It only acts while
    # the database records that id, so left set it cannot accept a later change of key.
    replace_codec_key: str = ""
    nats_monitor: bool = False  # serve the embedded NATS server's HTTP monitor (no auth) on loopback

    # Operating split roles (README "Split mode"). Secrets as files, read once at start: how replicas
    # share them (`*_file` beside each secret; the higher layer of the two wins).
    api_token_file: str = ""
    daemon_token_file: str = ""
    nats_token_file: str = ""
    database_password: str = field(default="", repr=False)  # put into database_url
    database_password_file: str = ""
    nats_password_file: str = ""
    temporal_api_key_file: str = ""
    probe_port: int = 0  # the worker's and gateway's /health and /ready listener; 0: none
    connect_timeout: float = 30.0  # seconds a split role waits for each service at start, then exits 1
    api_url: str = ""  # the api the CLI talks to (RELIANT_API_URL); "": a context, else the data dir's
    # JetStream replicas of the presence bucket and the live stream: 3 on a 3-node NATS cluster, so
    # losing one server loses neither (with 1, the server that holds them takes every daemon's presence).
    nats_replicas: int = 1
    deployment: str = ""  # prefixes NATS subjects, queue groups, KV buckets and streams: many on one NATS

    daemon_id: str = ""  # "": generated on first run and kept in the data dir
    daemon_name: str = ""  # "": the host name
    daemon_workspaces: tuple[Path, ...] = ()
    daemon_workspace_roots: tuple[Path, ...] = ()  # when set, the daemon works only inside these
    heartbeat_interval: float = 5.0
    heartbeat_timeout: float = 15.0
    # On shutdown, seconds the worker lets running activities finish (a tool call records its real
    # result) before cancelling them; a cancelled tool call runs on and the retry attaches to it.
    worker_shutdown_grace: float = 10.0

    anthropic_api_key: str = field(default="", repr=False)
    anthropic_base_url: str = ""
    openai_api_key: str = field(default="", repr=False)
    openai_base_url: str = ""
    default_model: str = "scripted:demo"
    # Tokens of extended thinking per LLM call: Anthropic's thinking budget (adaptive on Claude 4.6
    # and later), OpenAI's reasoning_effort level for its reasoning models; 0: off.
    thinking_budget: int = 0
    # Seconds a provider may stay silent (before its answer starts, or between two chunks) before
    # the call is given up and retried; 0: the default. `[llm] read_timeout` in reliant.toml.
    llm_read_timeout: float = 90.0
    approval_timeout: float = 0.0  # seconds a pending approval waits before it is denied; 0: forever
    # Sub-agents (spawn_agent): `[agents] max_depth = 3` in reliant.toml. Past a limit a spawn is a
    # tool error the model reads.
    agents_max_depth: int = 3
    agents_max_concurrent: int = 8  # running at once in one chat
    agents_max_per_chat: int = 50
    # Spending budgets in USD (`[budget] chat_usd = 5`), 0: none. A chat's covers its whole tree of
    # agents; a project's, its chats of the day (UTC). The settings screen and a chat's own override.
    budget_chat_usd: float = 0.0
    budget_project_day_usd: float = 0.0

    def agent_limits(self) -> AgentLimits:
        return AgentLimits(self.agents_max_depth, self.agents_max_concurrent, self.agents_max_per_chat)

    # TLS and credentials on the wires between roles, for split deployments; all empty, as in
    # `reliant up`: plaintext on loopback. Certificates and keys are PEM file paths.
    temporal_tls: bool = False  # TLS with the system's CAs (Temporal Cloud); any temporal_tls_* implies it
    temporal_tls_ca: str = ""
    temporal_tls_cert: str = ""  # a client certificate and key: mTLS
    temporal_tls_key: str = ""
    temporal_tls_server_name: str = ""  # the name the server's certificate carries, if not the address's
    temporal_api_key: str = field(default="", repr=False)  # Temporal Cloud API key (implies TLS)
    nats_user: str = ""
    nats_password: str = field(default="", repr=False)
    nats_creds_file: str = ""  # a NATS .creds file (user JWT and NKEY seed)
    nats_nkey_file: str = ""  # a file holding an NKEY seed
    nats_tls_ca: str = ""
    nats_tls_cert: str = ""  # a client certificate and key: mTLS
    nats_tls_key: str = ""
    gateway_tls_cert: str = ""  # the gateway serves TLS with these
    gateway_tls_key: str = ""
    gateway_tls_client_ca: str = ""  # daemons must present a certificate this CA signed (mTLS)
    daemon_tls: bool = False  # dial the gateway over TLS with the system's CAs; any daemon_tls_* implies it
    daemon_tls_ca: str = ""
    daemon_tls_cert: str = ""  # the daemon's client certificate and key, for a gateway that asks (mTLS)
    daemon_tls_key: str = ""
    daemon_tls_server_name: str = ""
    # Send the daemon token to a gateway off this machine without TLS, readable by anyone on the path.
    daemon_insecure_plaintext_token: bool = False
    api_tls_cert: str = ""  # the api serves https with these (no proxy in front)
    api_tls_key: str = ""
    api_ca: str = ""  # for the CLI: the CA (PEM) that signed the api's certificate, for --api-url https://

    def with_overrides(self, **values: Any) -> Settings:
        """Apply flag values; None means "not given"."""
        given = {k: _coerce(k, v) for k, v in values.items() if v is not None}
        return dataclasses.replace(self, **given)

    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def api_address(self) -> str:
        """Where the api listens, as a URL: https when it serves TLS itself."""
        return f"{'https' if self.api_tls_cert else 'http'}://{host_port(self.host, self.api_port)}"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_SECRET_FIELDS = frozenset(
    {
        "api_token",
        "daemon_token",
        "nats_token",
        "codec_key",
        "database_password",
        "anthropic_api_key",
        "openai_api_key",
    }
)
_SECRET_FIELDS |= {"temporal_api_key", "nats_password"}  # the wires' credentials
# A secret and the setting naming a file that holds it.
SECRET_FILES = {
    "api_token": "api_token_file",
    "daemon_token": "daemon_token_file",
    "nats_token": "nats_token_file",
    "database_password": "database_password_file",
    "nats_password": "nats_password_file",
    "temporal_api_key": "temporal_api_key_file",
}
# The codec key stays a file (reliant/clients/codec.py reads its format); the roles that need it
# check it with read_secret_file before they start.
# Conventional provider variables, honoured below their RELIANT_* names.
_STANDARD_ENV = {"ANTHROPIC_API_KEY": "anthropic_api_key", "OPENAI_API_KEY": "openai_api_key"}


def _coerce(name: str, value: Any, *, source: str = "flag") -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if kind in ("int", "float"):
            if isinstance(value, bool):
                raise ValueError(f"not a number: {value!r}")
            if kind == "int" and isinstance(value, float) and not value.is_integer():
                raise ValueError(f"not a whole number: {value!r}")
            number = int(value) if kind == "int" else float(value)
            if not math.isfinite(number):
                raise ValueError(f"not a finite number: {value!r}")
            if number < 0:  # ports, budgets, timeouts and intervals: 0 means "none" or "default"
                raise ValueError(f"must be 0 or more, got {value!r}")
            if name.endswith("_port") and number > 65535:
                raise ValueError(f"{number} is not a port (at most 65535)")
            return number
        if kind == "Path":
            return Path(str(value))
        if kind == "tuple[Path, ...]":
            items = value if isinstance(value, (list, tuple)) else [value]
            wrong = next((v for v in items if not isinstance(v, (str, Path))), None)
            if wrong is not None:
                raise ValueError(f"expected a path or a list of paths, got {type(wrong).__name__}")
            if isinstance(value, str):  # several, joined as in PATH
                items = value.split(os.pathsep)
            return tuple(Path(str(v)) for v in items if str(v))
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        if name == "log_level" and value.upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not debug, info, warning or error")
        if name == "default_model" and split_model_spec(value) is None:
            raise ValueError(f"{value!r} is not a model: scripted:demo, anthropic:MODEL or openai:MODEL")
        return value
    except ValueError as exc:
        raise ConfigError(f"{name} ({source}): {exc}") from None


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}".replace("-", "_")
        if isinstance(value, dict):
            out.update(_flatten(value, name + "_"))
        else:
            out[name] = value
    return out


def _line_of(text: str, key: str) -> int | None:
    """The line that sets `key`, written whole (`approval_timeout = 5`) or under a table
    (`[api]` then `port = 7420`): the longest suffix of the name that a line assigns."""
    parts = key.split("_")
    lines = text.splitlines()
    for start in range(len(parts)):
        leaf = "_".join(parts[start:])
        for number, line in enumerate(lines, 1):
            if re.match(rf"\s*{re.escape(leaf)}\s*=", line):
                return number
    return None


def read_file(path: Path) -> dict[str, Any]:
    """Values from a reliant.toml; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=path) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        raise ConfigError(f"invalid TOML: {detail}", path=path, line=line) from None
    values = {}
    for name, value in _flatten(table).items():
        if name not in _FIELDS or name == "data_dir":
            raise ConfigError(f"unknown setting {name!r}", path=path, line=_line_of(text, name))
        try:
            values[name] = _coerce(name, value, source="file")
        except ConfigError as exc:
            raise ConfigError(str(exc), path=path, line=_line_of(text, name)) from None
    return values


def is_reliant_variable(name: str) -> bool:
    """Whether reliant reads its own settings (tokens, keys, URLs with passwords) from this
    environment variable: every `RELIANT_*` one and the conventional provider key variables."""
    return name.startswith("RELIANT_") or name in _STANDARD_ENV


def read_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for var, name in _STANDARD_ENV.items():
        if env.get(var):
            values[name] = env[var]
    for var, raw in env.items():
        if not var.startswith("RELIANT_"):
            continue
        name = var.removeprefix("RELIANT_").lower()
        if name in _FIELDS and name != "data_dir":
            values[name] = _coerce(name, raw, source=f"env {var}")
    return values


def load(data_dir: Path | None = None, env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Build the Settings: defaults < <data-dir>/reliant.toml < RELIANT_* env < flags."""
    env = os.environ if env is None else env
    if data_dir is None:
        data_dir = Path(env.get("RELIANT_DATA_DIR") or DEFAULT_DATA_DIR)
    data_dir = data_dir.expanduser()
    layers = [read_file(data_dir / CONFIG_FILE), read_env(env), {k: v for k, v in flags.items() if v is not None}]
    values: dict[str, Any] = {}
    for layer in layers[:2]:
        values.update(layer)
    settings = Settings(data_dir=data_dir, **values).with_overrides(**flags)
    if settings.deployment and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", settings.deployment):
        raise ConfigError(f"deployment {settings.deployment!r}: use 1-32 letters, digits, '-' or '_'")
    interval, timeout = settings.heartbeat_interval, settings.heartbeat_timeout
    if interval and timeout and timeout <= interval:
        raise ConfigError(
            f"heartbeat_timeout ({timeout:g} s) must be longer than heartbeat_interval ({interval:g} s):"
            " a daemon would read as offline between two of its heartbeats"
        )
    return with_secret_files(settings, layers)


def with_secret_files(settings: Settings, layers: list[dict[str, Any]]) -> Settings:
    """Each secret from its file where the file is given in a higher layer than the value itself
    (both in one layer is an error), then the database password put into the database URL."""
    updates: dict[str, Any] = {}
    for secret, file_setting in SECRET_FILES.items():
        top = next((layer for layer in reversed(layers) if secret in layer or file_setting in layer), None)
        if top is None or not top.get(file_setting):
            continue
        if top.get(secret):
            raise ConfigError(f"{secret} and {file_setting} are both set: give one of them")
        updates[secret] = read_secret_file(top[file_setting], file_setting)
    settings = dataclasses.replace(settings, **updates) if updates else settings
    if settings.database_password:
        settings = dataclasses.replace(
            settings, database_url=url_with_password(settings.database_url, settings.database_password)
        )
    return settings


def read_secret_file(path_text: str, setting: str) -> str:
    """A secret from a file: read once, trailing newline stripped. A missing, empty or
    world-readable file is refused, naming the setting."""
    path = Path(path_text).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
        exposed = _others_can_read(path)
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{setting}: {path} is not UTF-8 text") from None
    if exposed:
        raise ConfigError(f"{setting}: {path} is readable by other users (chmod 600 it, or mode 0400 in a mount)")
    value = text.rstrip("\r\n")
    if not value.strip():
        raise ConfigError(f"{setting}: {path} is empty")
    return value


def _others_can_read(path: Path) -> bool:
    """Whether any user may read the file: it is o+r and every directory above it is o+x."""
    real = path.resolve()
    if not real.stat().st_mode & 0o004:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in real.parents)


def url_with_password(url: str, password: str) -> str:
    """`url` (postgresql://user@host/db or `key=value` conninfo) with the password added; a URL
    that already holds one is refused."""
    if not url:
        raise ConfigError("database_password is set but database_url is not")
    if "://" not in url:
        if re.search(r"(^|\s)password\s*=", url):
            raise ConfigError("database_password is set and database_url holds a password too: give one of them")
        escaped = password.replace("\\", "\\\\").replace("'", "\\'")
        return f"{url} password='{escaped}'"
    parts = urlsplit(url)
    if parts.password is not None:
        raise ConfigError("database_password is set and database_url holds a password too: give one of them")
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def redacted(settings: Settings) -> dict[str, Any]:
    """Settings as a dict with secrets masked, for display."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(settings, name)
        if name in _SECRET_FIELDS and value:
            value = mask(str(value))
        out[name] = str(value) if isinstance(value, Path) else value
    return out


def secret_values(settings: Settings) -> list[str]:
    """The secret values these settings hold: tokens, keys, the password in the database URL, and
    the password or token in each NATS URL (`nats://user:password@host`, `nats://token@host`) and
    in the providers' base URLs."""
    values = [str(getattr(settings, name)) for name in _SECRET_FIELDS]
    password = urlsplit(settings.database_url).password if settings.database_url else None
    urls = [*(settings.nats_url.split(",") if settings.nats_url else ()), *provider_urls(settings)]
    values += [url_secret(url) for url in urls]
    return [v for v in (*values, password or "") if v]


def provider_urls(settings: Settings | dict[str, str]) -> list[str]:
    """The providers' base URLs of settings (or of the effective values the providers are built with)."""
    names = ("anthropic_base_url", "openai_base_url")
    if isinstance(settings, dict):
        return [settings.get(name) or "" for name in names]
    return [str(getattr(settings, name) or "") for name in names]


def url_secret(url: str) -> str:
    """The password in a URL (`scheme://user:password@host`), or its token (`scheme://token@host`); ""."""
    parts = urlsplit(url.strip())
    return (parts.password if parts.password is not None else parts.username) or ""


def mask(secret: str) -> str:
    if len(secret) <= 8:
        return "****"
    return f"{secret[:4]}…{secret[-4:]}"


def mask_url(url: str) -> str:
    """`url` as it may be shown: credentials in it (https://user:password@host) masked."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="****@" + parts.netloc.rpartition("@")[2]))
