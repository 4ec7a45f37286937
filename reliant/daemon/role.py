"""The daemon role: executes tools on this machine for whichever worker asks, via the gateway."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

from reliant.config import Settings
from reliant.daemon.connection import DaemonConnection, DaemonIdentity
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.wire.tools import decode_call, encode_result

logger = logging.getLogger(__name__)


class DaemonRouter:
    """Dispatches a request by subject to the part of the daemon that serves it."""

    def __init__(self, host: ToolHost) -> None:
        self.host = host

    async def handle(self, subject: str, payload: bytes) -> bytes:
        if subject == "tools":
            try:
                call = decode_call(payload)
            except (ValueError, TypeError) as exc:
                return json.dumps({"status": "error", "error": f"malformed tool call: {exc}"}).encode()
            return encode_result(await self.host.execute(call))
        return json.dumps({"status": "error", "error": f"unknown daemon subject {subject!r}"}).encode()


class DaemonRole:
    name = "daemon"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        s = settings
        self.host = ToolHost(s.daemon_id, BUILTIN_TOOLS, s.daemon_workspaces)
        self.router = DaemonRouter(self.host)
        self.connection = DaemonConnection(
            s.gateway_address,
            DaemonIdentity(s.daemon_id, s.daemon_name or socket.gethostname(), s.daemon_token),
            self.router.handle,
            workspaces=lambda: [str(p) for p in self.host.workspaces],
        )

    async def run(self, ready: asyncio.Event) -> None:
        await self.connection.run(ready)
