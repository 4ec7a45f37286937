"""MCP server configuration: layered JSON files with `${VAR}` / `${VAR:-default}` expansion.

Files, later ones winning server by server:

1. `<data-dir>/mcp.json`                     every project on this daemon
2. `<project>/.reliant/mcp.json`             the project's servers (committed)
3. `<project>/.reliant/mcp.local.json`       your own overrides (not committed)

Each holds `{"mcpServers": {"<name>": {...}}}`. A server is either stdio
(`{"command": "uvx", "args": [...], "env": {...}, "cwd": "..."}`) or streamable HTTP
(`{"type": "http", "url": "https://...", "headers": {...}}`). Optional for both: `"disabled": true`,
`"timeout"` (seconds per tool call, default 120) and `"startup_timeout"` (default 30). An entry that
holds nothing but `disabled` switches off a server defined by an earlier file. Strings in command,
args, env, cwd, url and headers expand `${VAR}` and `${VAR:-default}` from the daemon's environment;
a relative cwd is taken from the project root. The project's files name none of reliant's own
variables (tokens, keys: config.is_reliant_variable): a repository would hand them to a server, or
send them to a URL, of its choosing; such a server is an error.

A problem with one server (bad field, unset variable) is that server's error, never the others'.
The project's two files are commands a repository asks the daemon to run: the manager uses them
only while the user trusts the project (daemon/trust.py); the data dir's file is the user's own.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reliant.config import is_reliant_variable

GLOBAL_FILE = "mcp.json"
PROJECT_FILES = (".reliant/mcp.json", ".reliant/mcp.local.json")
DEFAULT_CALL_TIMEOUT = 120.0
DEFAULT_STARTUP_TIMEOUT = 30.0
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_KNOWN_KEYS = frozenset(
    {"type", "command", "args", "env", "cwd", "url", "headers", "disabled", "timeout", "startup_timeout"}
)


class ConfigProblem(ValueError):
    """One server's configuration cannot be used."""


@dataclass(frozen=True, slots=True)
class McpServerConfig:
    name: str
    transport: str  # stdio | http
    source: str  # the file that defined it
    command: str = ""
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cwd: str = ""
    url: str = ""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    disabled: bool = False
    timeout: float = DEFAULT_CALL_TIMEOUT
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    error: str = ""  # set when the entry cannot be used; the server then reports it as unhealthy

    def describe(self) -> str:
        """The command line or URL, for status lists (header values left out)."""
        if self.transport == "http":
            return self.url
        return " ".join([self.command, *self.args])


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    servers: dict[str, McpServerConfig]
    errors: tuple[str, ...]  # whole-file problems (unreadable, invalid JSON)
    files: tuple[str, ...]  # the files that were read


def expand(text: str, env: Mapping[str, str], *, reliant_variables: bool = True) -> str:
    """Expand `${VAR}` and `${VAR:-default}`; an unset variable without a default is an error, and
    so is one of reliant's own variables unless `reliant_variables`."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if not reliant_variables and is_reliant_variable(name):
            raise ConfigProblem(f"${{{name}}} is reliant's own variable, which a project's file cannot give a server")
        value = env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is not None:
            return value
        raise ConfigProblem(f"environment variable {name} is not set (use ${{{name}:-default}} for a default)")

    return _VAR.sub(one, text)


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ConfigProblem(f"{what} must be a list of strings")
    return [str(v) for v in value]


def _mapping(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
        raise ConfigProblem(f"{what} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigProblem(f"{what} must be a positive number of seconds")
    return float(value)


def parse_server(
    name: str, raw: Any, source: str, project: Path | None, env: Mapping[str, str], *, reliant_variables: bool = True
) -> McpServerConfig:
    """One server entry; problems raise ConfigProblem. A project's file is parsed without
    `reliant_variables`."""

    def value(text: str) -> str:
        return expand(text, env, reliant_variables=reliant_variables)

    if not isinstance(raw, dict):
        raise ConfigProblem("a server entry must be an object")
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ConfigProblem(f"unknown field(s) {', '.join(unknown)}")
    disabled = raw.get("disabled", False)
    if not isinstance(disabled, bool):
        raise ConfigProblem("disabled must be true or false")
    timeout = _seconds(raw["timeout"], "timeout") if "timeout" in raw else DEFAULT_CALL_TIMEOUT
    startup = (
        _seconds(raw["startup_timeout"], "startup_timeout") if "startup_timeout" in raw else DEFAULT_STARTUP_TIMEOUT
    )
    kind = raw.get("type") or ("http" if "url" in raw else "stdio")
    if kind in ("http", "streamable-http", "streamable_http"):
        url = raw.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigProblem("an http server needs a url")
        url = value(url)
        if not url.startswith(("http://", "https://")):
            raise ConfigProblem(f"url must start with http:// or https://, got {url!r}")
        headers = {k: value(v) for k, v in _mapping(raw.get("headers", {}), "headers").items()}
        return McpServerConfig(
            name,
            "http",
            source,
            url=url,
            headers=tuple(sorted(headers.items())),
            disabled=disabled,
            timeout=timeout,
            startup_timeout=startup,
        )
    if kind != "stdio":
        raise ConfigProblem(f"type must be stdio or http, got {kind!r}")
    command = raw.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ConfigProblem("a stdio server needs a command")
    args = [value(a) for a in _strings(raw.get("args", []), "args")]
    server_env = {k: value(v) for k, v in _mapping(raw.get("env", {}), "env").items()}
    cwd = raw.get("cwd", "")
    if not isinstance(cwd, str):
        raise ConfigProblem("cwd must be a string")
    cwd = value(cwd)
    if cwd and not Path(cwd).is_absolute() and project is not None:
        cwd = str(project / cwd)
    return McpServerConfig(
        name,
        "stdio",
        source,
        command=value(command),
        args=tuple(args),
        env=tuple(sorted(server_env.items())),
        cwd=cwd or (str(project) if project is not None else ""),
        disabled=disabled,
        timeout=timeout,
        startup_timeout=startup,
    )


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load(
    global_file: Path | None,
    project: Path | None,
    env: Mapping[str, str] | None = None,
    read_text: Callable[[Path], str] = _read_text,
) -> LoadedConfig:
    """The servers for `project` (None: only the global file), later files winning by name. `read_text`
    gives a file's text (the daemon passes the snapshot its trust decision was made on)."""
    env = os.environ if env is None else env
    files = [global_file] if global_file is not None else []
    if project is not None:
        files += [project / rel for rel in PROJECT_FILES]
    servers: dict[str, McpServerConfig] = {}
    errors: list[str] = []
    read: list[str] = []
    for path in files:
        try:
            text = read_text(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        read.append(str(path))
        try:
            doc = json.loads(text)
        except ValueError as exc:
            errors.append(f"{path}: invalid JSON: {exc}")
            continue
        entries = doc.get("mcpServers", doc.get("servers")) if isinstance(doc, dict) else None
        if not isinstance(entries, dict):
            errors.append(f'{path}: expected {{"mcpServers": {{"<name>": {{...}}}}}}')
            continue
        for name, raw in entries.items():
            if not NAME.match(str(name)):
                errors.append(f"{path}: server name {name!r} must be 1-32 letters, digits, '-' or '_'")
                continue
            earlier = servers.get(name)
            only_disabled = isinstance(raw, dict) and set(raw) == {"disabled"} and isinstance(raw["disabled"], bool)
            if earlier is not None and only_disabled:
                servers[name] = _replace_disabled(earlier, raw["disabled"], str(path))
                continue
            try:
                own = path == global_file
                servers[name] = parse_server(name, raw, str(path), project, env, reliant_variables=own)
            except ConfigProblem as exc:
                servers[name] = McpServerConfig(name, "stdio", str(path), error=f"{path}: {exc}")
    return LoadedConfig(servers, tuple(errors), tuple(read))


def _replace_disabled(config: McpServerConfig, disabled: bool, source: str) -> McpServerConfig:
    return replace(config, disabled=disabled, source=f"{config.source} ({source})")


class _Placeholders(Mapping[str, str]):
    """Every variable set: checks an entry's shape, not the environment it will run with."""

    def __getitem__(self, key: str) -> str:
        return "set"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, key: object) -> bool:
        return True


def add_server(project: Path, name: str, entry: dict[str, Any], *, local: bool = False) -> Path:
    """Add server `name` to the project's `.reliant/mcp.json` (`mcp.local.json` with `local`) and
    return that file. Raises ConfigProblem for a bad name or entry, a name the file already has, or a
    file that is not a configuration; the file is replaced whole (written beside it, then renamed),
    other servers and fields kept as they were. `${VAR}` references are kept, unexpanded."""
    if not NAME.match(name):
        raise ConfigProblem(f"name {name!r}: 1-32 letters, digits, '_' or '-', starting with a letter or digit")
    parse_server(name, entry, "", project, _Placeholders(), reliant_variables=False)
    path = project / PROJECT_FILES[1 if local else 0]
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(project):
        raise ConfigProblem(f"refused: {path} resolves to {real}, outside the project")
    doc: dict[str, Any] = {"mcpServers": {}}
    if real.exists():
        try:
            doc = json.loads(real.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigProblem(f"{path} cannot be read as JSON ({exc}); fix it first") from None
        if not isinstance(doc, dict) or not isinstance(doc.setdefault("mcpServers", {}), dict):
            raise ConfigProblem(f'{path} is not {{"mcpServers": {{...}}}}; fix it first')
    if name in doc["mcpServers"]:
        raise ConfigProblem(f"{path} already has a server named {name}")
    doc["mcpServers"][name] = entry
    real.parent.mkdir(parents=True, exist_ok=True)
    partial = real.with_name(f".{real.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    partial.replace(real)
    return path
