"""Named apis the CLI talks to, in `~/.config/reliant/cli.toml` (or `$XDG_CONFIG_HOME/reliant/`):

    current = "team"

    [contexts.team]
    api_url = "https://reliant.example.com"
    token_file = "~/.config/reliant/team.token"    # or token = "..."

`reliant context list|use|add`, `reliant --context NAME …` (or RELIANT_CONTEXT) for one command.
The context named `local` is always there: the `reliant up` of the data dir.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from reliant import config
from reliant.appliance.datadir import write_private
from reliant.cli.app import app
from reliant.errors import ConfigError

LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    api_url: str
    token: str = ""
    token_file: str = ""

    def read_token(self) -> str:
        if self.token:
            return self.token
        if self.token_file:
            return config.read_secret_file(self.token_file, f"context {self.name}: token_file")
        return ""


def cli_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "reliant" / "cli.toml"


def read(path: Path) -> tuple[str, dict[str, Context]]:
    """(the current context's name, every context by name) from cli.toml; errors name the file."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "", {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", path=path) from None
    contexts: dict[str, Context] = {}
    table = doc.get("contexts", {})
    if not isinstance(table, dict):
        raise ConfigError("`contexts` must be a table", path=path)
    for name, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("api_url"), str) or not entry["api_url"]:
            raise ConfigError(f"context {name!r} needs api_url", path=path)
        unknown = set(entry) - {"api_url", "token", "token_file"}
        if unknown:
            raise ConfigError(f"context {name!r}: unknown setting {sorted(unknown)[0]!r}", path=path)
        contexts[name] = Context(name, entry["api_url"], str(entry.get("token", "")), str(entry.get("token_file", "")))
    current = doc.get("current", "")
    return (current if isinstance(current, str) else ""), contexts


def write(path: Path, current: str, contexts: Mapping[str, Context]) -> None:
    lines = [f"current = {_quote(current)}\n"] if current else []
    for ctx in contexts.values():
        lines.append(f"\n[contexts.{_quote(ctx.name)}]\napi_url = {_quote(ctx.api_url)}\n")
        if ctx.token:
            lines.append(f"token = {_quote(ctx.token)}\n")
        if ctx.token_file:
            lines.append(f"token_file = {_quote(ctx.token_file)}\n")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, "".join(lines))  # it may hold tokens


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selected(flag: str | None, env: Mapping[str, str] | None = None) -> Context | None:
    """The context a command uses: --context, else RELIANT_CONTEXT, else cli.toml's current one;
    None for `local` (or none at all)."""
    env = os.environ if env is None else env
    path = cli_config_path(env)
    current, contexts = read(path)
    name = flag or env.get("RELIANT_CONTEXT") or current
    if not name or name == LOCAL:
        return None
    if name not in contexts:
        known = ", ".join([LOCAL, *contexts])
        raise ConfigError(f"no context {name!r} (known: {known}); add one with `reliant context add`", path=path)
    return contexts[name]


context_app = typer.Typer(help="The apis this CLI talks to (~/.config/reliant/cli.toml).", no_args_is_help=True)
app.add_typer(context_app, name="context")


def _fail(message: str) -> Any:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@context_app.command("list")
def list_contexts() -> None:
    """Every context; * marks the current one."""
    try:
        current, contexts = read(cli_config_path())
    except ConfigError as exc:
        _fail(str(exc))
    current = current or LOCAL
    typer.echo(f"{'*' if current == LOCAL else ' '} {LOCAL:<16} the `reliant up` of the data dir")
    for ctx in contexts.values():
        how = "token file" if ctx.token_file else ("token" if ctx.token else "no token")
        typer.echo(f"{'*' if current == ctx.name else ' '} {ctx.name:<16} {ctx.api_url}  ({how})")


@context_app.command("use")
def use_context(name: Annotated[str, typer.Argument(help="A context's name, or `local`")]) -> None:
    """Make NAME the current context."""
    path = cli_config_path()
    try:
        _, contexts = read(path)
    except ConfigError as exc:
        _fail(str(exc))
    if name != LOCAL and name not in contexts:
        _fail(f"no context {name!r} in {path}; add it with `reliant context add {name} --api-url URL`")
    write(path, "" if name == LOCAL else name, contexts)
    typer.echo(f"now using {name}")


@context_app.command("add")
def add_context(
    name: Annotated[str, typer.Argument(help="A name for this api")],
    api_url: Annotated[str, typer.Option("--api-url", help="The api's URL, e.g. https://reliant.example.com")],
    token_file: Annotated[Path | None, typer.Option("--token-file", help="File holding its api token")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Its api token (kept in cli.toml, 0600)")] = None,
    use: Annotated[bool, typer.Option("--use", help="Also make it the current context")] = False,
) -> None:
    """Add (or replace) a named api."""
    if name == LOCAL:
        _fail(f"`{LOCAL}` is the data dir's own reliant; pick another name")
    if not api_url.startswith(("http://", "https://")):
        _fail(f"--api-url {api_url!r} must start with http:// or https://")
    if token and token_file:
        _fail("give --token or --token-file, not both")
    path = cli_config_path()
    try:
        current, contexts = read(path)
        if token_file is not None:
            config.read_secret_file(str(token_file), "--token-file")
    except ConfigError as exc:
        _fail(str(exc))
    contexts[name] = Context(name, api_url.rstrip("/"), token or "", str(token_file.resolve()) if token_file else "")
    write(path, name if use else current, contexts)
    typer.echo(f"added context {name} ({api_url})" + (", now in use" if use else ""))
