"""Background processes: list (with listening ports), output (caught up, then followed), kill."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.api.workspace.daemons import (
    KEEPALIVE,
    PROCESS_ID,
    Ctx,
    Daemons,
    OffsetFollower,
    guard,
    uuid_arg,
)
from reliant.bus import Incoming, subjects
from reliant.db import processes as processes_db
from reliant.errors import DaemonUnavailableError
from reliant.wire import daemon_events
from reliant.wire.v1 import workspace_pb2 as pb

logger = logging.getLogger(__name__)


def _process(record: processes_db.ProcessRecord) -> pb.Process:
    return pb.Process(
        id=record.id,
        daemon_id=record.daemon_id,
        pid=record.pid,
        command=record.command,
        workspace=record.workspace,
        chat_id=record.chat_id,
        state=record.state,
        exit_code=record.exit_code or 0,
        has_exit_code=record.exit_code is not None,
        ports=list(record.ports),
        output_bytes=record.output_bytes,
        started_unix=record.started_at,
        finished_unix=record.finished_at,
    )


def _live_process(daemon_id: str, doc: dict[str, Any]) -> pb.Process:
    code = doc.get("exit_code")
    return pb.Process(
        id=str(doc.get("id", "")),
        daemon_id=daemon_id,
        pid=int(doc.get("pid") or 0),
        command=str(doc.get("command", "")),
        workspace=str(doc.get("workspace", "")),
        chat_id=str(doc.get("chat_id", "")),
        state=str(doc.get("state", "")),
        exit_code=int(code or 0),
        has_exit_code=code is not None,
        ports=[int(p) for p in doc.get("ports") or []],
        output_bytes=int(doc.get("output_bytes") or 0),
        started_unix=float(doc.get("started_unix") or 0),
        finished_unix=float(doc.get("finished_unix") or 0),
    )


class ProcessService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def list_processes(self, request: pb.ListProcessesRequest, ctx: Ctx) -> pb.ListProcessesResponse:
        async def work() -> pb.ListProcessesResponse:
            project = await self.daemons.project(request.project_id)
            chat_id = uuid_arg("chat", request.chat_id) if request.chat_id else ""
            records = await processes_db.list_for(
                self.daemons.db, project.daemon_id, workspace=project.path, chat_id=chat_id
            )
            return pb.ListProcessesResponse(processes=[_process(r) for r in records])

        return await guard(work())

    async def _record(self, process_id: str) -> processes_db.ProcessRecord:
        if not PROCESS_ID.match(process_id or ""):
            raise ConnectError(Code.INVALID_ARGUMENT, f"invalid process id {process_id!r}")
        record = await processes_db.find(self.daemons.db, process_id)
        if record is None:
            raise ConnectError(Code.NOT_FOUND, f"process {process_id} not found")
        return record

    async def kill_process(self, request: pb.KillProcessRequest, ctx: Ctx) -> pb.Process:
        async def work() -> pb.Process:
            record = await self._record(request.process_id)
            if record.state != "running":
                return _process(record)
            reply = await self.daemons.ask(record.daemon_id, "proc.kill", {"id": record.id})
            return _live_process(record.daemon_id, reply["process"])

        return await guard(work())

    async def stream_process_output(
        self, request: pb.StreamProcessOutputRequest, ctx: Ctx
    ) -> AsyncIterator[pb.ProcessOutput]:
        record = await guard(self._record(request.process_id))
        daemon_id, process_id = record.daemon_id, record.id
        bus = self.daemons.ctx.bus
        follower = OffsetFollower()
        states: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_state(msg: Incoming) -> None:
            with contextlib.suppress(ValueError, AttributeError):
                doc = json.loads(msg.data).get("process") or {}
                if doc.get("id") == process_id:
                    states.put_nowait(doc)

        subs = []
        if request.follow:
            subs = [
                await bus.subscribe(subjects.daemon_event(daemon_id, f"proc.{process_id}.output"), follower.on_frame),
                await bus.subscribe(subjects.daemon_event(daemon_id, daemon_events.PROC_STATE), on_state),
            ]
        try:
            wanted = max(int(request.offset), 0)
            live: dict[str, Any] | None = None
            while True:  # catch up from the daemon's kept output, page by page
                try:
                    page = await self.daemons.ask(daemon_id, "proc.output", {"id": process_id, "offset": wanted})
                except (ConnectError, DaemonUnavailableError):
                    # The daemon no longer knows it (restarted): what Postgres says is all there is.
                    fresh = await processes_db.find(self.daemons.db, process_id)
                    yield pb.ProcessOutput(offset=wanted, process=_process(fresh or record))
                    return
                live = page["process"]
                data = base64.b64decode(page["data"])
                if data:
                    yield pb.ProcessOutput(offset=int(page["offset"]), data=data)
                wanted = int(page["end"])
                if wanted >= int(page["total"]):
                    break
            if not request.follow or live is None or live.get("state") != "running":
                yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, live or {}))
                return
            yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, live))
            hub = self.daemons.ctx.streams
            hub.track(follower.queue)  # the api shutting down ends the stream (the client follows again)
            while True:
                if hub.closed:
                    return
                getter = asyncio.ensure_future(follower.queue.get())
                stater = asyncio.ensure_future(states.get())
                done, _ = await asyncio.wait({getter, stater}, timeout=KEEPALIVE, return_when=asyncio.FIRST_COMPLETED)
                for task in (getter, stater):
                    if task not in done:
                        task.cancel()
                if getter in done and (item := getter.result()) is not None:
                    piece = OffsetFollower.trim(item[0], item[1], wanted)
                    if piece is not None and piece[0] == wanted:
                        yield pb.ProcessOutput(offset=piece[0], data=piece[1])
                        wanted += len(piece[1])
                if stater in done:
                    doc = stater.result()
                    if doc.get("state") != "running":
                        # Its last output was sent before its exit event: read what we missed.
                        with contextlib.suppress(ConnectError, DaemonUnavailableError):
                            page = await self.daemons.ask(
                                daemon_id, "proc.output", {"id": process_id, "offset": wanted}
                            )
                            data = base64.b64decode(page["data"])
                            if data and int(page["offset"]) == wanted:
                                yield pb.ProcessOutput(offset=wanted, data=data)
                                wanted += len(data)
                        yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, doc))
                        return
                    yield pb.ProcessOutput(offset=wanted, process=_live_process(daemon_id, doc))
                if not done:
                    yield pb.ProcessOutput(offset=wanted)
        finally:
            self.daemons.ctx.streams.untrack(follower.queue)
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
