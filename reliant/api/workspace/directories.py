"""Directories on a daemon's machine, for choosing a project's directory (the daemon confines the
listing: daemon/directories.py)."""

from __future__ import annotations

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.api.system import online_daemons, presence
from reliant.api.workspace.daemons import Ctx, Daemons, guard
from reliant.bus import subjects
from reliant.wire.v1 import workspace_pb2 as pb


class DirectoryService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def _daemon(self, daemon_id: str) -> str:
        if daemon_id:
            if not subjects.valid_token(daemon_id):
                raise ConnectError(Code.INVALID_ARGUMENT, "daemon_id is not a daemon id (letters, digits, - or _)")
            entries = await presence(self.daemons.ctx)
            if entries and subjects.presence_key("daemon", daemon_id) not in entries:
                raise ConnectError(Code.NOT_FOUND, f"no daemon {daemon_id} is known (daemon_id)")
            return daemon_id
        online = await online_daemons(self.daemons.ctx)
        if not online:
            raise ConnectError(Code.UNAVAILABLE, "no daemon is online: start one with `reliant daemon start`")
        if len(online) > 1:
            names = ", ".join(f"{d.id} ({d.name})" for d in online)
            raise ConnectError(Code.INVALID_ARGUMENT, f"several daemons are online ({names}): choose one (daemon_id)")
        return online[0].id

    async def list_directories(self, request: pb.ListDirectoriesRequest, ctx: Ctx) -> pb.ListDirectoriesResponse:
        async def work() -> pb.ListDirectoriesResponse:
            daemon_id = await self._daemon(request.daemon_id)
            body = {"path": request.path, "show_hidden": request.show_hidden}
            r = await self.daemons.ask(daemon_id, "dirs.list", body)
            return pb.ListDirectoriesResponse(
                path=r["path"],
                parent=r["parent"],
                home=r["home"],
                usable=r["usable"],
                reason=r["reason"],
                entries=[pb.DirectoryEntry(**e) for e in r["entries"]],
                truncated=r["truncated"],
                daemon_id=daemon_id,
            )

        return await guard(work())
