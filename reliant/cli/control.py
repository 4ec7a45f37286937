"""`reliant show`, `reliant resume`, `reliant pause`, `reliant stop` and `reliant interrupt`: review
and control any chat, whichever client started it. A chat is named by its id or any unique prefix."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reliant.cli.app import ApiUrlOpt, DataDirOpt, TokenOpt, api_client, app, connect_error, fail

if TYPE_CHECKING:
    from reliant.cli.api import Api

ChatArg = Annotated[str, typer.Argument(help="The chat's id, or any unique prefix of it (see `reliant chats`)")]
DetachOpt = Annotated[bool, typer.Option("--detach", "-d", help="Do not follow the chat afterwards")]


def _run(data_dir: Path | None, api_url: str | None, token: str | None, work: Callable[[Api], int]) -> None:
    from connectrpc.errors import ConnectError

    from reliant.cli.api import CliError

    api = api_client(data_dir, api_url, token)
    try:
        code = work(api)
    except CliError as exc:
        fail(str(exc))
    except ConnectError as exc:
        connect_error(exc, api.url)
    except KeyboardInterrupt:
        typer.echo("\ndetached; the chat goes on (follow it with `reliant chat --chat ID`)", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def _drive(api: Api, chat: str, *, message: str = "", resume: bool = False, interrupt: bool = False) -> int:
    """Resume or interrupt the chat, then follow its turn as `reliant chat --chat` does."""
    from reliant.cli import ids
    from reliant.cli.conversation import run_chat
    from reliant.cli.keyboard import Keyboard
    from reliant.cli.keyboard import usable as keyboard_usable
    from reliant.cli.workflow_client import NodeGates as Gates  # any chat may run a workflow
    from reliant.cli.workflow_client import RunRenderer as Renderer

    chat_id = ids.chat_id(api, chat)
    interactive = keyboard_usable(sys.stdin.fileno())
    renderer = Renderer(echo_user=True)
    with Keyboard(sys.stdin.fileno()) if interactive else contextlib.nullcontext() as keyboard:
        gates = Gates(api, renderer, interactive=interactive, wait_for_gate=False, keyboard=keyboard)
        return run_chat(
            api,
            message=message,
            chat_id=chat_id,
            project=None,
            model="",
            renderer=renderer,
            gates=gates,
            confirm=gates.confirm if interactive else None,
            resume=resume,
            interrupt=interrupt,
        )


@app.command()
def show(
    chat: ChatArg,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", help="Only this sub-agent's transcript (its id or a unique prefix, see `reliant agents`)"
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """A chat's transcript, with tool calls, their results and the instruction files in effect; its
    sub-agents as a line when each starts and ends (see one with --agent)."""

    def work(api: Api) -> int:
        from reliant.cli import ids, transcript
        from reliant.cli.workflow_client import RunRenderer

        chat_id = ids.chat_id(api, chat)
        if agent is not None:
            from reliant.cli.agent_follow import show_agent

            return show_agent(api, chat_id, agent)
        renderer = RunRenderer(live=False)
        transcript.header(api, chat_id, renderer)
        transcript.replay(api, chat_id, renderer)
        return 0

    _run(data_dir, api_url, token, work)


@app.command()
def resume(
    chat: ChatArg,
    message: Annotated[str, typer.Argument(help="Also send this message (it waits for the resumed turn)")] = "",
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Resume a paused chat (the step it paused on runs again) and follow it until its turn ends."""
    _run(data_dir, api_url, token, lambda api: _drive(api, chat, message=message, resume=True))


@app.command()
def interrupt(
    chat: ChatArg,
    message: Annotated[str, typer.Argument(help="What to do instead")],
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Stop the chat's turn and send MESSAGE in its place, then follow the new turn."""
    _run(data_dir, api_url, token, lambda api: _drive(api, chat, message=message, interrupt=True))


@app.command()
def pause(chat: ChatArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None) -> None:
    """Pause a chat's turn: the step in flight finishes, then it waits for `reliant resume`."""

    def work(api: Api) -> int:
        from reliant.cli import ids
        from reliant.wire.v1 import chat_pb2 as pb

        chat_id = ids.chat_id(api, chat)
        short = ids.short_ids([chat_id])[chat_id]
        with api.chats() as chats:
            paused = chats.pause_chat(pb.PauseChatRequest(chat_id=chat_id), headers=api.headers).paused
            status = chats.get_chat(pb.GetChatRequest(id=chat_id), headers=api.headers).status
        if not paused:
            typer.echo(f"chat {short} is {status}: there is no turn to pause")
        elif status == "paused":
            typer.echo(f"chat {short} is paused; resume it with `reliant resume {short}`")
        else:
            typer.echo(f"pausing chat {short}: it pauses once the step in flight ends (`reliant resume {short}`)")
        return 0

    _run(data_dir, api_url, token, work)


@app.command()
def stop(chat: ChatArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None) -> None:
    """Stop a chat's turn now: a running tool is killed and unanswered approvals are cancelled."""

    def work(api: Api) -> int:
        from reliant.cli import ids
        from reliant.wire.v1 import chat_pb2 as pb

        chat_id = ids.chat_id(api, chat)
        short = ids.short_ids([chat_id])[chat_id]
        with api.chats() as chats:
            stopped = chats.cancel_chat(pb.CancelChatRequest(chat_id=chat_id), headers=api.headers).cancelled
            status = chats.get_chat(pb.GetChatRequest(id=chat_id), headers=api.headers).status
        if stopped:
            typer.echo(f"stopped chat {short}")
        else:
            typer.echo(f"chat {short} is {status}: there is no turn to stop")
        return 0

    _run(data_dir, api_url, token, work)
