"""`reliant mcp`, `reliant term` and `reliant worktree`: a project's daemon services."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from reliant.cli.app import (
    ApiUrlOpt,
    DataDirOpt,
    TokenOpt,
    api_client,
    app,
    connect_error,
    fail,
)

ProjectOpt = Annotated[
    Path | None, typer.Option("--project", help="The project directory [default: the current directory]")
]
mcp_app = typer.Typer(help="MCP servers of a project: status, restart, enable and disable.", no_args_is_help=True)
worktree_app = typer.Typer(help="Git worktrees of a project (one per chat, optionally).", no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")
app.add_typer(worktree_app, name="worktree")


class _Where:
    """The project a command works on: the one at (or around) --project or the current directory.
    A directory that is no project is not registered behind the user's back: in a terminal they are
    asked, without one the command exits 2 with the command that registers it."""

    def __init__(self, api: Any, project: Path | None, data_dir: Path | None, api_url: str | None) -> None:
        self.api, self.project, self.data_dir, self.api_url = api, project, data_dir, api_url

    def get(self) -> Any:
        from reliant.cli.project import command_hint, terminal_ask
        from reliant.cli.projects_client import Registration, real_path

        where = real_path(str(self.project or Path.cwd()))
        hint = command_hint("project", "add", where, data_dir=self.data_dir, api_url=self.api_url)
        return Registration(self.api, terminal_ask(), hint).project(where)

    def id(self) -> str:
        return str(self.get().id)


def _run_api(work: Any, api: Any) -> None:
    from reliant.cli.api import CliError
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
        connect_error(exc, api.url)


def _chat(api: Any, given: str | None) -> str:
    from reliant.cli import ids

    return ids.chat_id(api, given) if given else ""


@mcp_app.command("list")
def mcp_list(
    project: ProjectOpt = None, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """The project's MCP servers: status, transport, tools and last error."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)

    def work() -> None:
        chosen = _Where(api, project, data_dir, api_url).get()
        workspace_client.mcp_list(api, chosen.id, chosen.path, sys.stdout)

    _run_api(work, api)


def _mcp_action(
    action: str, name: str, project: Path | None, data_dir: Path | None, api_url: str | None, token: str | None
) -> None:
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    where = _Where(api, project, data_dir, api_url)
    _run_api(lambda: workspace_client.mcp_change(api, where.id(), name, action, sys.stdout), api)


McpNameArg = Annotated[str, typer.Argument(help="The server's name (see `reliant mcp list`)")]


@mcp_app.command("restart")
def mcp_restart(
    name: McpNameArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Restart an MCP server now."""
    _mcp_action("restart", name, project, data_dir, api_url, token)


@mcp_app.command("enable")
def mcp_enable(
    name: McpNameArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Enable an MCP server (kept by the daemon, over the config files)."""
    _mcp_action("enable", name, project, data_dir, api_url, token)


@mcp_app.command("disable")
def mcp_disable(
    name: McpNameArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Disable an MCP server: stopped, and its tools no longer offered."""
    _mcp_action("disable", name, project, data_dir, api_url, token)


@app.command()
def term(
    project: ProjectOpt = None,
    attach: Annotated[str | None, typer.Option("--attach", help="Re-attach to this terminal id")] = None,
    chat_id: Annotated[str | None, typer.Option("--chat", help="Open it in this chat's worktree")] = None,
    command: Annotated[list[str] | None, typer.Argument(help="Program to run [default: your $SHELL]")] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Open a terminal in the project on its daemon and attach this one to it (Ctrl-] detaches)."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    code = 0

    def work() -> None:
        nonlocal code
        code = workspace_client.term(
            api,
            _Where(api, project, data_dir, api_url).id,
            attach=attach or "",
            chat_id=_chat(api, chat_id),
            command=list(command or []),
            out=sys.stdout,
            err=sys.stderr,
        )

    _run_api(work, api)
    raise typer.Exit(code)


WorktreeIdArg = Annotated[str, typer.Argument(help="The worktree's id (see `reliant worktree list`)")]


@worktree_app.command("create")
def worktree_create(
    name: Annotated[str | None, typer.Argument(help="Its name [default: from the chat]")] = None,
    chat_id: Annotated[str | None, typer.Option("--chat", help="The chat whose tools run there")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Start from this commit [default: HEAD]")] = None,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """git worktree add on a new branch under <project>/.reliant/worktrees/."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    _run_api(
        lambda: workspace_client.worktree_create(
            api,
            _Where(api, project, data_dir, api_url).id(),
            name or "",
            chat_id=_chat(api, chat_id),
            base=base or "",
            out=sys.stdout,
        ),
        api,
    )


@worktree_app.command("list")
def worktree_list(
    removed: Annotated[bool, typer.Option("--removed", help="Also removed ones")] = False,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The project's worktrees."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    where = _Where(api, project, data_dir, api_url)
    _run_api(lambda: workspace_client.worktree_list(api, where.id(), removed, sys.stdout), api)


@worktree_app.command("status")
def worktree_status(
    worktree_id: WorktreeIdArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """Branch and changed files of a worktree."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    _run_api(lambda: workspace_client.worktree_status(api, worktree_id, sys.stdout), api)


@worktree_app.command("diff")
def worktree_diff(
    worktree_id: WorktreeIdArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """What changed in a worktree since it was created (untracked files included)."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    _run_api(lambda: workspace_client.worktree_diff(api, worktree_id, sys.stdout), api)


@worktree_app.command("remove")
def worktree_remove(
    worktree_id: Annotated[
        str, typer.Argument(help="The worktree's id, or an orphaned one's path (see `reliant worktree list`)")
    ],
    force: Annotated[bool, typer.Option("--force", help="Even with uncommitted changes")] = False,
    delete_branch: Annotated[bool, typer.Option("--delete-branch", help="Also delete its branch")] = False,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Remove a worktree's checkout (one no chat or agent names any more: by its path, in the
    project it lies in unless --project says)."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    orphaned = "/" in worktree_id
    if orphaned and project is None and "/.reliant/worktrees/" in worktree_id:
        project = Path(worktree_id.split("/.reliant/worktrees/")[0] or "/")

    def work() -> None:
        project_id = _Where(api, project, data_dir, api_url).id() if orphaned else ""
        workspace_client.worktree_remove(api, worktree_id, force, delete_branch, sys.stdout, project_id=project_id)

    _run_api(work, api)


@worktree_app.command("keep")
def worktree_keep(
    worktree_id: WorktreeIdArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """Keep a worktree and its branch, but run its chat's tools in the project again."""
    from reliant.cli import workspace_client

    api = api_client(data_dir, api_url, token)
    _run_api(lambda: workspace_client.worktree_detach(api, worktree_id, sys.stdout), api)
