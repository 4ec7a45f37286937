"""PTY terminals on the daemon: open, attach (catch up from the kept output, then follow), write, resize, close."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.api.workspace.daemons import (
    KEEPALIVE,
    TERMINAL_ID,
    Ctx,
    Daemons,
    OffsetFollower,
    guard,
)
from reliant.bus import Incoming, subjects
from reliant.errors import DaemonUnavailableError
from reliant.wire.v1 import workspace_pb2 as pb

logger = logging.getLogger(__name__)


def _terminal(daemon_id: str, project_id: str, info: dict[str, Any]) -> pb.Terminal:
    return pb.Terminal(
        id=f"{daemon_id}.{info.get('id', '')}",
        project_id=project_id,
        workspace=info.get("workspace", ""),
        pid=int(info.get("pid") or 0),
        cols=int(info.get("cols") or 0),
        rows=int(info.get("rows") or 0),
        state=info.get("state", ""),
        exit_code=int(info.get("exit_code") or 0),
        created_unix=float(info.get("created_unix") or 0),
        command=list(info.get("command") or []),
        output_bytes=int(info.get("output_bytes") or 0),
    )


def _split_terminal(terminal_id: str) -> tuple[str, str]:
    match = TERMINAL_ID.match(terminal_id or "")
    if match is None:
        raise ConnectError(Code.INVALID_ARGUMENT, f"invalid terminal id {terminal_id!r}")
    return match.group(1), match.group(2)


class TerminalService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def open_terminal(self, request: pb.OpenTerminalRequest, ctx: Ctx) -> pb.Terminal:
        async def work() -> pb.Terminal:
            t = await self.daemons.target(request.project_id, chat_id=request.chat_id)
            body: dict[str, Any] = {"workspace": t.workspace, "cols": request.cols or 80, "rows": request.rows or 24}
            if request.command:
                body["command"] = list(request.command)
            reply = await self.daemons.ask(t.daemon_id, "term.open", body)
            return _terminal(t.daemon_id, t.project.id, reply["terminal"])

        return await guard(work())

    async def list_terminals(self, request: pb.ListTerminalsRequest, ctx: Ctx) -> pb.ListTerminalsResponse:
        async def work() -> pb.ListTerminalsResponse:
            project = await self.daemons.project(request.project_id)
            reply = await self.daemons.ask(project.daemon_id, "term.list", {})
            root = project.path.rstrip("/")
            mine = [
                i
                for i in reply.get("terminals", [])
                if i.get("workspace") in (root,) or str(i.get("workspace", "")).startswith(root + "/")
            ]
            return pb.ListTerminalsResponse(terminals=[_terminal(project.daemon_id, project.id, i) for i in mine])

        return await guard(work())

    async def send_terminal_input(self, request: pb.TerminalInputRequest, ctx: Ctx) -> pb.TerminalAck:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        body = {"id": terminal, "data": base64.b64encode(request.data).decode()}
        await guard(self.daemons.ask(daemon_id, "term.input", body, timeout=10))
        return pb.TerminalAck()

    async def resize_terminal(self, request: pb.ResizeTerminalRequest, ctx: Ctx) -> pb.TerminalAck:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        body = {"id": terminal, "cols": request.cols, "rows": request.rows}
        await guard(self.daemons.ask(daemon_id, "term.resize", body, timeout=10))
        return pb.TerminalAck()

    async def close_terminal(self, request: pb.CloseTerminalRequest, ctx: Ctx) -> pb.Terminal:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        reply = await guard(self.daemons.ask(daemon_id, "term.close", {"id": terminal}))
        return _terminal(daemon_id, "", reply["terminal"])

    async def attach_terminal(self, request: pb.AttachTerminalRequest, ctx: Ctx) -> AsyncIterator[pb.TerminalOutput]:
        daemon_id, terminal = _split_terminal(request.terminal_id)
        bus = self.daemons.ctx.bus
        follower = OffsetFollower()
        exits: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def on_exit(msg: Incoming) -> None:
            with contextlib.suppress(ValueError):
                exits.put_nowait(json.loads(msg.data))
                follower.queue.put_nowait(None)  # wake the loop

        subs = [
            await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal}.output"), follower.on_frame),
            await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal}.exit"), on_exit),
        ]
        hub = self.daemons.ctx.streams
        hub.track(follower.queue)  # the api shutting down ends the stream (the client reattaches)
        try:
            try:
                attached = await self.daemons.ask(daemon_id, "term.attach", {"id": terminal}, timeout=10)
            except ConnectError as exc:
                if exc.code is Code.NOT_FOUND:
                    yield pb.TerminalOutput(closed=True, reason=exc.message)
                    return
                raise
            except DaemonUnavailableError as exc:
                raise ConnectError(Code.UNAVAILABLE, str(exc)) from None
            start = int(attached["offset"])
            wanted = max(int(request.offset), 0) if request.offset > 0 else start
            first = OffsetFollower.trim(start, base64.b64decode(attached["data"]), wanted)
            if first is not None:
                yield pb.TerminalOutput(offset=first[0], data=first[1])
                wanted = first[0] + len(first[1])
            else:
                wanted = max(wanted, int(attached["end"]))
            held: dict[int, bytes] = {}
            last_touch = time.monotonic()
            while True:
                if not exits.empty() and follower.queue.empty():
                    done = exits.get_nowait()
                    yield pb.TerminalOutput(
                        closed=True, exit_code=int(done.get("exit_code") or 0), reason=str(done.get("reason", ""))
                    )
                    return
                try:
                    item = await asyncio.wait_for(follower.queue.get(), 0.2 if not exits.empty() else KEEPALIVE)
                except TimeoutError:
                    if not exits.empty():
                        continue
                    if time.monotonic() - last_touch >= KEEPALIVE:
                        last_touch = time.monotonic()
                        try:
                            await self.daemons.ask(daemon_id, "term.touch", {"id": terminal}, timeout=10)
                        except ConnectError as exc:
                            yield pb.TerminalOutput(closed=True, reason=exc.message)
                            return
                        except DaemonUnavailableError as exc:
                            yield pb.TerminalOutput(closed=True, reason=f"the daemon is unreachable: {exc}")
                            return
                    yield pb.TerminalOutput(keepalive=True, offset=wanted)
                    continue
                if item is None:
                    if hub.closed:
                        return
                    continue
                offset, data = item
                held[offset] = data
                while True:
                    ready = next(((o, d) for o, d in held.items() if o <= wanted), None)
                    if ready is None:
                        break
                    del held[ready[0]]
                    piece = OffsetFollower.trim(ready[0], ready[1], wanted)
                    if piece is not None:
                        yield pb.TerminalOutput(offset=piece[0], data=piece[1])
                        wanted = piece[0] + len(piece[1])
        finally:
            hub.untrack(follower.queue)
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
