"""An MCP server over streamable HTTP (the 2025-11-25 handshake, with a session id) that can stop
answering: it runs in the test's own event loop, written by hand on asyncio streams, and reads
every request but never answers those `stall` names (JSON-RPC methods, or "DELETE" for the end of a
session); `stall_all()` makes it answer nothing more at all, like a host that went silent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

PROTOCOL = "2025-11-25"
TOOLS = [
    {
        "name": "echo",
        "description": "Return the text.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
]
SESSION = "stalling-session"


class StallingMcpServer:
    def __init__(self, stall: set[str] | None = None) -> None:
        self.stall = set(stall or ())
        self.seen: list[str] = []  # the method of every request read (or the HTTP verb of a non-POST)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._released = asyncio.Event()  # set on shutdown: stalled requests end (unanswered)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stall_all(self) -> None:
        self.stall.add("*")

    async def shutdown(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self._released.is_set():
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                verb = head[0].split(" ")[0]
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                message: dict[str, Any] = json.loads(body) if body else {}
                what = str(message.get("method", "")) if verb == "POST" else verb
                self.seen.append(what)
                if "*" in self.stall or what in self.stall:
                    await self._released.wait()  # read, never answered
                    return
                writer.write(self._answer(verb, message))
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, verb: str, message: dict[str, Any]) -> bytes:
        if verb != "POST":  # DELETE ends the session; GET (a stream for server messages) is refused
            return _response(200 if verb == "DELETE" else 405, b"")
        if "id" not in message:  # a notification
            return _response(202, b"")
        method, params = message.get("method"), message.get("params") or {}
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if method == "initialize":
            reply["result"] = {
                "protocolVersion": PROTOCOL,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "stalling-test", "version": "1.0"},
            }
        elif method == "tools/list":
            reply["result"] = {"tools": TOOLS}
        elif method == "tools/call":
            text = str((params.get("arguments") or {}).get("text", ""))
            reply["result"] = {"content": [{"type": "text", "text": text}]}
        else:  # server/discover among them: a server of this revision does not know it
            reply["error"] = {"code": -32601, "message": f"method not found: {method}"}
        return _response(200, json.dumps(reply).encode(), "application/json")


def _response(status: int, body: bytes, content_type: str = "") -> bytes:
    reason = {200: "OK", 202: "Accepted", 405: "Method Not Allowed"}[status]
    head = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}", f"Mcp-Session-Id: {SESSION}"]
    if content_type:
        head.append(f"Content-Type: {content_type}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body
