"""`reliant project list|add|remove` and `reliant trust`: which directories are projects, and whether
what a project's own files would run (MCP servers, workflow files) may run."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from reliant.cli.app import ApiUrlOpt, DataDirOpt, TokenOpt, api_client, app, connect_error, fail
from reliant.cli.shown import revealed

project_app = typer.Typer(help="Projects: the directories the agent works in.", no_args_is_help=True)
app.add_typer(project_app, name="project")

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (for scripts)")]


def command_hint(*words: str, data_dir: Path | None = None, api_url: str | None = None) -> str:
    """A `reliant` command line the user can run as shown (the options they gave, never a token)."""
    extra = [*(["--data-dir", str(data_dir)] if data_dir else []), *(["--api-url", api_url] if api_url else [])]
    return shlex.join(["reliant", *words, *extra])


def terminal_ask() -> Callable[[str], bool] | None:
    """A yes/no question in the terminal (No by default), or None without one."""
    if not sys.stdin.isatty():
        return None
    return lambda question: typer.confirm(question, default=False, err=True)


def run_api(work: Callable[[], Any], url: str) -> None:
    from reliant.cli.conversation import CliError
    from reliant.cli.projects_client import EXIT_NEEDS_ANSWER, NeedsAnswer

    try:
        work()
    except NeedsAnswer as exc:
        fail(str(exc), EXIT_NEEDS_ANSWER)
    except CliError as exc:
        fail(str(exc))
    except typer.Abort:
        raise
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, url)


@project_app.command("list")
def project_list(data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None) -> None:
    """The registered projects."""
    from reliant.cli import projects_client

    api = api_client(data_dir, api_url, token)
    run_api(lambda: projects_client.list_projects(api, sys.stdout), api.url)


@project_app.command("add")
def project_add(
    path: Annotated[Path, typer.Argument(help="The project's directory")],
    name: Annotated[str, typer.Option("--name", help="[default: the directory's name]")] = "",
    daemon: Annotated[str, typer.Option("--daemon", help="The daemon's id [default: the only one online]")] = "",
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Register a directory as a project. Nothing from it runs until you trust it (`reliant trust`)."""
    from reliant.cli import projects_client

    api = api_client(data_dir, api_url, token)

    def work() -> None:
        project = projects_client.add(api, str(path), name, daemon)
        sys.stdout.write(f"added {project.name} ({project.id}) at {project.path}\n")
        trust = projects_client.get_trust(api, project)
        if trust.state in ("untrusted", "changed"):
            hint = command_hint("trust", project.path, data_dir=data_dir, api_url=api_url)
            sys.stdout.write(f"{revealed(trust.note)}\nsee what would run, and trust it, with: {hint}\n")

    run_api(work, api.url)


@project_app.command("remove")
def project_remove(
    project: Annotated[str, typer.Argument(help="The project's directory or id")],
    yes: YesOpt = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Forget a project and its chats; its files stay on disk.

    Refused while one of its chats runs a turn: stop it first."""
    from reliant.cli import projects_client

    api = api_client(data_dir, api_url, token)
    hint = command_hint("project", "remove", project, "--yes", data_dir=data_dir, api_url=api_url)
    run_api(
        lambda: projects_client.remove(api, project, ask=terminal_ask(), yes=yes, remove_hint=hint, out=sys.stdout),
        api.url,
    )


@app.command()
def trust(
    path: Annotated[Path | None, typer.Argument(help="The project's directory [default: the current one]")] = None,
    yes: YesOpt = False,
    revoke: Annotated[bool, typer.Option("--revoke", help="Stop trusting it: its servers stop")] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show what a project's own files would run, and trust exactly that.

    The files are the project's MCP server configs and workflow files; until you trust them, none of
    it runs. A later change to those files needs a new trust."""
    from reliant.cli import projects_client

    api = api_client(data_dir, api_url, token)
    where = str(path or Path.cwd())

    def work() -> None:
        project = projects_client.find(api, where)
        if project is None:
            add = command_hint("project", "add", projects_client.real_path(where), data_dir=data_dir, api_url=api_url)
            raise projects_client.NeedsAnswer(f"{where} is not a registered project; register it with: {add}")
        if revoke:
            projects_client.revoke(api, project)
            sys.stdout.write(f"{project.path} is no longer trusted: its own MCP servers stop\n")
            return
        hint = command_hint("trust", project.path, "--yes", data_dir=data_dir, api_url=api_url)
        projects_client.trust_project(api, project, ask=terminal_ask(), yes=yes, trust_hint=hint, out=sys.stdout)

    run_api(work, api.url)
