"""Domain records -> protobuf messages for ConnectRPC."""

from __future__ import annotations

from typing import Any

from google.protobuf.struct_pb2 import Struct

from reliant.domain.chat import (
    FINAL_TOOL_STATES,
    BlockType,
    ChatInfo,
    ContentBlock,
    Project,
    StoredMessage,
    ToolRun,
    Usage,
)
from reliant.domain.context import InstructionFile
from reliant.domain.tool_outcome import tool_outcome
from reliant.wire.payloads import public_tool_data
from reliant.wire.v1 import chat_pb2 as pb


def project(p: Project) -> pb.Project:
    return pb.Project(id=p.id, name=p.name, path=p.path, daemon_id=p.daemon_id, created_unix=p.created_at)


def instruction_file(f: InstructionFile) -> pb.InstructionFile:
    return pb.InstructionFile(
        path=f.path, shown=f.shown(), scope=f.scope.value, directory=f.directory, truncated=f.truncated
    )


def project_trust(project_id: str, doc: dict[str, Any]) -> pb.ProjectTrust:
    """The daemon's trust view of a project (daemon/trust.py TrustView.doc)."""
    items = [
        pb.TrustItem(
            kind=str(i.get("kind", "")),
            name=str(i.get("name", "")),
            source=str(i.get("source", "")),
            transport=str(i.get("transport", "")),
            command_line=str(i.get("command_line", "")),
            env_names=[str(n) for n in i.get("env_names") or []],
            cwd=str(i.get("cwd", "")),
            url=str(i.get("url", "")),
            header_names=[str(n) for n in i.get("header_names") or []],
            error=str(i.get("error", "")),
            disabled=bool(i.get("disabled", False)),
            steps=[
                pb.TrustStep(step=str(s.get("step", "")), command=str(s.get("command", "")))
                for s in i.get("steps") or []
                if isinstance(s, dict)
            ],
        )
        for i in doc.get("items") or []
        if isinstance(i, dict)
    ]
    return pb.ProjectTrust(
        project_id=project_id,
        state=str(doc.get("state", "")),
        fingerprint=str(doc.get("fingerprint", "")),
        files=[str(f) for f in doc.get("files") or []],
        items=items,
        note=str(doc.get("note", "")),
        problems=[str(p) for p in doc.get("problems") or []],
    )


def usage(u: Usage, cost_usd: float) -> pb.Usage:
    return pb.Usage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_read_tokens=u.cache_read_tokens,
        cache_write_tokens=u.cache_write_tokens,
        cost_usd=cost_usd,
    )


def chat(c: ChatInfo) -> pb.Chat:
    return pb.Chat(
        id=c.id,
        project_id=c.project_id,
        title=c.title,
        model=c.model,
        status=c.status.value,
        status_reason=c.status_reason,
        usage=usage(c.usage, c.cost_usd),
        last_seq=c.last_seq,
        created_unix=c.created_at,
        updated_unix=c.updated_at,
        queued=c.queued,
        mode=c.mode.value,
        pending_gates=c.pending_gates,
        workflow=c.workflow,
        workflow_inputs=_struct(c.workflow_inputs),
    )


def block(b: ContentBlock, run: ToolRun | None = None) -> pb.ContentBlock:
    out = pb.ContentBlock(
        type=b.type.value,
        text=b.text,
        tool_call_id=b.tool_call_id,
        tool_name=b.tool_name,
        is_error=b.is_error,
        media_type=b.media_type,
        path=b.path,
    )
    if b.tool_input:
        out.tool_input.CopyFrom(_struct(b.tool_input))
    if run is not None:
        out.tool_state = run.state.value
        out.duration_ms = run.duration_ms
        if run.data and b.type is BlockType.TOOL_CALL:
            out.tool_data.CopyFrom(_struct(public_tool_data(run.data)))
        if run.state in FINAL_TOOL_STATES and b.type is BlockType.TOOL_CALL:
            out.tool_outcome = tool_outcome(run.state, run.data, run.error).value  # as tool_finished says
    return out


def message(m: StoredMessage, runs: dict[str, ToolRun]) -> pb.Message:
    return pb.Message(
        id=m.id,
        chat_id=m.chat_id,
        ordinal=m.ordinal or 0,
        role=m.role.value,
        model=m.model,
        blocks=[block(b, runs.get(b.tool_call_id)) for b in m.blocks],
        usage=usage(m.usage, m.cost_usd),
        created_unix=m.created_at,
        queued=m.ordinal is None,
        turn=m.turn or 0,
        step=m.step,
        thread_id=m.thread_id,
        cut=m.cut(),
    )


def _struct(value: dict[str, Any]) -> Struct:
    s = Struct()
    s.update(value)
    return s
