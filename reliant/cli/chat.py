"""`reliant chat`, `reliant chats`, `reliant approvals` and `reliant answer`."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

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


@app.command()
def chat(
    message: Annotated[str, typer.Argument(help="What you want done (with --chat: omit to follow the chat)")] = "",
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            help="The project directory, registered if it is not yet [default: the current directory, if it is a"
            " registered project]",
        ),
    ] = None,
    chat_id: Annotated[
        str | None,
        typer.Option("--chat", help="Continue this chat (its id or a unique prefix) instead of starting one"),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="scripted:demo, anthropic:MODEL or openai:MODEL")] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="auto (run every tool), manual (ask before changes) or plan (read-only)"),
    ] = None,
    wait_for_gate: Annotated[
        bool, typer.Option("--wait-for-gate", help="Exit 3 when an approval or a question waits (for scripts)")
    ] = False,
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="Start the chat on this workflow (see `reliant workflow list`)")
    ] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="With --workflow: an input as key=value (repeatable)")
    ] = None,
    daemon: Annotated[
        str | None,
        typer.Option("--daemon", help="Register --project on this daemon [default: the one whose workspaces hold it]"),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="With --chat: follow this sub-agent (its id or a unique prefix, see `reliant agents`) until it ends",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Send a message and stream the answer.

    Exits 0 when the turn completes, 1 on failure, 2 on a pause (or, without a terminal, when the
    current directory is not a registered project: it says how to register it), 3 with
    --wait-for-gate when an approval or question waits. In manual mode it asks in the terminal.
    With --agent: 0 when the agent is done, 1 when it failed or was cancelled, 2 on a pause."""
    from connectrpc.errors import ConnectError

    from reliant.cli import ids
    from reliant.cli.conversation import CliError, find_or_create_project, run_chat
    from reliant.cli.keyboard import Keyboard
    from reliant.cli.keyboard import usable as keyboard_usable
    from reliant.cli.project import command_hint, terminal_ask
    from reliant.cli.projects_client import EXIT_NEEDS_ANSWER, NeedsAnswer, Registration, offer_trust, real_path
    from reliant.cli.workflow_client import NodeGates as Gates  # any chat may run a workflow
    from reliant.cli.workflow_client import RunRenderer as Renderer

    if agent is not None:
        follow_agent(
            chat_id, agent, message, wait_for_gate=wait_for_gate, data_dir=data_dir, api_url=api_url, token=token
        )
    if workflow or inputs:
        from reliant.cli.workflow import start_workflow_chat

        if chat_id or not workflow:
            fail("--workflow starts a new chat (not with --chat); --input needs --workflow")
        start_workflow_chat(
            message=message,
            project=project,
            model=model,
            mode=mode,
            wait_for_gate=wait_for_gate,
            workflow=workflow,
            inputs=inputs or [],
            daemon=daemon or "",
            data_dir=data_dir,
            api_url=api_url,
            token=token,
        )
    if mode and mode not in ("auto", "manual", "plan"):
        fail(f"--mode must be auto, manual or plan, not {mode!r}")
    if not message.strip() and not chat_id:  # refused before a new chat is made for it
        fail("say what you want done: reliant chat MESSAGE (or follow a chat with --chat ID)")
    api = api_client(data_dir, api_url, token)
    renderer = Renderer(echo_user=bool(chat_id))
    interactive = keyboard_usable(sys.stdin.fileno())
    ask = terminal_ask()
    try:
        chosen = None
        if chat_id:
            chat_id = ids.chat_id(api, chat_id)
        else:
            if project is not None:  # named on the command line: the explicit choice registers it
                chosen = find_or_create_project(api, str(project), daemon or "")
            else:
                where = real_path(str(Path.cwd()))
                on = ["--daemon", daemon] if daemon else []
                hint = command_hint("project", "add", where, *on, data_dir=data_dir, api_url=api_url)
                chosen = Registration(api, ask, hint, daemon or "").project(where)
            trust_hint = command_hint("trust", chosen.path, data_dir=data_dir, api_url=api_url)
            offer_trust(api, chosen, ask=ask, trust_hint=trust_hint, err=sys.stderr)
        with Keyboard(sys.stdin.fileno()) if interactive else contextlib.nullcontext() as keyboard:
            gates = Gates(api, renderer, interactive=interactive, wait_for_gate=wait_for_gate, keyboard=keyboard)
            code = run_chat(
                api,
                message=message,
                chat_id=chat_id or "",
                project=chosen,
                model=model or "",
                renderer=renderer,
                mode=mode or "",
                gates=gates,
                confirm=gates.confirm if interactive else None,
            )
    except NeedsAnswer as exc:
        fail(str(exc), EXIT_NEEDS_ANSWER)
    except CliError as exc:
        fail(str(exc))
    except ConnectError as exc:
        connect_error(exc, api.url)
    except KeyboardInterrupt:
        renderer.settle()
        typer.echo("detached; the chat goes on (follow it with --chat)", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def follow_agent(
    chat_id: str | None,
    agent: str,
    message: str,
    *,
    wait_for_gate: bool,
    data_dir: DataDirOpt,
    api_url: ApiUrlOpt,
    token: TokenOpt,
) -> None:
    """`reliant chat --chat ID --agent AGENT`: exits with the follow's code."""
    from connectrpc.errors import ConnectError

    from reliant.cli import ids
    from reliant.cli.agent_follow import follow_agent as follow
    from reliant.cli.conversation import CliError
    from reliant.cli.keyboard import Keyboard
    from reliant.cli.keyboard import usable as keyboard_usable
    from reliant.cli.workflow_client import NodeGates, RunRenderer

    if not chat_id:
        fail("--agent follows a sub-agent of a chat: give the chat with --chat ID")
    if message:
        fail("--agent only follows: a sub-agent takes no message from the command line")
    if not agent.strip():
        fail("--agent needs an agent id or a unique prefix of one (see `reliant agents --chat ID`)")
    api = api_client(data_dir, api_url, token)
    renderer = RunRenderer(echo_user=True)
    interactive = keyboard_usable(sys.stdin.fileno())
    try:
        with Keyboard(sys.stdin.fileno()) if interactive else contextlib.nullcontext() as keyboard:
            gates = NodeGates(api, renderer, interactive=interactive, wait_for_gate=wait_for_gate, keyboard=keyboard)
            code = follow(api, ids.chat_id(api, chat_id), agent, renderer, gates)
    except CliError as exc:
        fail(str(exc))
    except ConnectError as exc:
        connect_error(exc, api.url)
    except KeyboardInterrupt:
        renderer.settle()
        typer.echo("detached; the agent goes on", err=True)
        raise typer.Exit(130) from None
    renderer.settle()
    raise typer.Exit(code)


@app.command()
def chats(
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON")] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List chats, most recently active first.

    Columns: short id (any unique prefix of an id works), project, status, last activity, cost, title."""
    from reliant.cli import chats_table

    api = api_client(data_dir, api_url, token)
    try:
        listed = chats_table.rows(api)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, api.url)
    if as_json:
        chats_table.print_json(listed, sys.stdout)
    else:
        chats_table.print_table(listed, sys.stdout, styled=sys.stdout.isatty())


approvals_app = typer.Typer(help="Tool calls waiting for your approval, and the model's questions.")
app.add_typer(approvals_app, name="approvals")


@approvals_app.callback(invoke_without_command=True)
def approvals_list(
    ctx: typer.Context,
    chat_id: Annotated[str | None, typer.Option("--chat", help="Only this chat")] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List what waits for an answer (run a subcommand to answer)."""
    if ctx.invoked_subcommand is not None:
        return
    from reliant.cli import ids
    from reliant.cli.conversation import CliError, list_gates

    api = api_client(data_dir, api_url, token)
    try:
        list_gates(api, ids.chat_id(api, chat_id) if chat_id else "", sys.stdout)
    except CliError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, api.url)


@approvals_app.command("approve")
def approvals_approve(
    approval_id: Annotated[
        str, typer.Argument(help="The approval's id, or any unique prefix of it (see `reliant approvals`)")
    ],
    always: Annotated[
        str | None, typer.Option("--always", help="Also allow later calls: chat, project, or prefix:COMMAND")
    ] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Approve a tool call."""
    from reliant.cli.conversation import CliError, answer_approval

    scope, _, prefix = (always or "").partition(":")
    if scope not in ("", "chat", "project", "prefix") or (scope == "prefix") != bool(prefix):
        fail("--always takes chat, project or prefix:COMMAND")
    api = api_client(data_dir, api_url, token)
    try:
        answer_approval(api, approval_id, approve=True, scope=scope, prefix=prefix)
    except CliError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, api.url)
    typer.echo("approved")


@approvals_app.command("deny")
def approvals_deny(
    approval_id: Annotated[
        str, typer.Argument(help="The approval's id, or any unique prefix of it (see `reliant approvals`)")
    ],
    message: Annotated[str, typer.Option("--message", "-m", help="Why: the model reads this")] = "",
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Deny a tool call; the model is told (with your message) and goes on."""
    from reliant.cli.conversation import CliError, answer_approval

    api = api_client(data_dir, api_url, token)
    try:
        answer_approval(api, approval_id, approve=False, message=message)
    except CliError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, api.url)
    typer.echo("denied")


@app.command()
def answer(
    question_id: Annotated[
        str, typer.Argument(help="The question's id, or any unique prefix of it (see `reliant approvals`)")
    ],
    answers: Annotated[list[str], typer.Argument(help="One answer per question, in order")],
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Answer the model's questions (ask_user)."""
    from reliant.cli.conversation import CliError, answer_question

    api = api_client(data_dir, api_url, token)
    try:
        answer_question(api, question_id, answers)
    except CliError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, api.url)
    typer.echo("answered")
