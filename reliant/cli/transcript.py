"""A chat's past, drawn by the same renderer as its live updates: the stored messages of the turn
running now (before following it), or the whole update log (`reliant show`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import MessageToDict
from rich.text import Text

from reliant.cli.api import Api
from reliant.cli.render import Renderer
from reliant.cli.shown import printable
from reliant.domain.chat import ToolState
from reliant.domain.tool_outcome import tool_outcome
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1.chat_connect import ChatServiceClientSync

READY = "stream_ready"  # the stream's marker: the stored updates are all sent, live ones follow
_STATUS = {
    ToolState.COMPLETED: "ok",
    ToolState.FAILED: "error",
    ToolState.INTERRUPTED: "interrupted",
    ToolState.DENIED: "denied",
}


@dataclass
class TurnSoFar:
    """The stored part of a chat's latest turn, and the seq to follow its stream from."""

    messages: list[pb.Message]
    resume_seq: int


def turn_so_far(api: Api, chat_id: str) -> TurnSoFar:
    with api.chats() as chats:
        listed = chats.list_messages(pb.ListMessagesRequest(chat_id=chat_id), headers=api.headers)
    messages = [m for m in listed.messages if not m.queued]
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    return TurnSoFar(messages[starts[-1] :] if starts else messages, int(listed.resume_seq))


def draw(renderer: Renderer, messages: list[pb.Message]) -> None:
    """Stored messages as the updates that made them: the user's, each answer, its tool calls."""
    results = {b.tool_call_id: b for m in messages if m.role == "tool" for b in m.blocks if b.type == "tool_result"}
    for m in messages:
        doc = _message(m)
        if m.role == "user":
            renderer.update("message_created", {"message": doc}, at=m.created_unix)
        elif m.role == "assistant":
            renderer.update("message_completed", {"message": doc}, at=m.created_unix)
            for block in m.blocks:
                if block.type == "tool_call":
                    _draw_call(renderer, block, results.get(block.tool_call_id), m.created_unix)


def _message(m: pb.Message) -> dict[str, Any]:
    return {
        "id": m.id,
        "role": m.role,
        "turn": m.turn,
        "model": m.model,
        "blocks": [
            {
                "type": b.type,
                "text": b.text,
                "tool_call_id": b.tool_call_id,
                "tool_name": b.tool_name,
                "tool_input": MessageToDict(b.tool_input),
                "path": b.path,
            }
            for b in m.blocks
        ],
        "usage": {
            "input_tokens": m.usage.input_tokens,
            "output_tokens": m.usage.output_tokens,
            "cache_read_tokens": m.usage.cache_read_tokens,
            "cache_write_tokens": m.usage.cache_write_tokens,
        },
        "cost_usd": m.usage.cost_usd,
        "cut": m.cut,
    }


def _draw_call(renderer: Renderer, call: pb.ContentBlock, result: pb.ContentBlock | None, at: float) -> None:
    try:
        state = ToolState(call.tool_state)
    except ValueError:
        return
    if state is ToolState.EXECUTING:
        renderer.update(
            "tool_started",
            {"tool_call_id": call.tool_call_id, "tool_name": call.tool_name, "input": MessageToDict(call.tool_input)},
            at=at,
        )
        return
    if state not in _STATUS:
        return  # pending: not started yet
    data = MessageToDict(call.tool_data)
    text = result.text if result is not None else ""
    failed = result is not None and result.is_error
    error = text.removeprefix("interrupted: ") if failed else ""
    renderer.update(
        "tool_finished",
        {
            "tool_call_id": call.tool_call_id,
            "tool_name": call.tool_name,
            "status": _STATUS[state],
            "outcome": call.tool_outcome or tool_outcome(state, data, error).value,  # the api's word first
            "output": "" if failed else text,
            "error": error,
            "data": data,
            "duration_ms": call.duration_ms,
        },
        at=at,
    )


def replay(
    api: Api, chat_id: str, renderer: Renderer, keep: Callable[[str, dict[str, Any]], bool] | None = None
) -> None:
    """Draw everything the chat's update log holds, up to now (`reliant show`); with `keep`, only
    the updates it keeps (one agent's)."""
    with ChatServiceClientSync(api.url, proto_json=True, timeout_ms=120_000) as client:
        request = pb.StreamUpdatesRequest(chat_id=chat_id, since_seq=0)
        for update in client.stream_updates(request, headers=api.headers):
            if update.kind == READY:
                break
            payload = MessageToDict(update.payload)
            if update.seq and (keep is None or keep(update.kind, payload)):
                renderer.update(update.kind, payload, at=update.created_unix)
    renderer.finish_replay()


def header(api: Api, chat_id: str, renderer: Renderer) -> None:
    """What `reliant show` says first: the chat's title, project, model, mode, status and cost."""
    with api.chats() as chats:
        chat = chats.get_chat(pb.GetChatRequest(id=chat_id), headers=api.headers)
    with api.projects() as projects:
        known = {p.id: p for p in projects.list_projects(pb.ListProjectsRequest(), headers=api.headers).projects}
    project = known.get(chat.project_id)
    where = f"{project.name} ({project.path})" if project else chat.project_id
    status = chat.status + (f": {chat.status_reason}" if chat.status_reason else "")
    renderer.line(Text(printable(chat.title) or "(untitled)", style="bold"))
    renderer.line(
        Text(
            printable(
                f"chat {chat.id} · {where} · {chat.model} · {chat.mode} mode · {status} · ${chat.usage.cost_usd:.4f}"
            ),
            style="bright_black",
        )
    )
    renderer.line()
