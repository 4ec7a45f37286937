"""A tiny HTTP listener with /health (the process answers) and /ready (the roles it runs are ready
and their services answer), for Kubernetes probes of the worker and the gateway (`probe_port`,
off by default). It answers nothing else and reveals nothing but a yes or a no."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from reliant.errors import listen_error

logger = logging.getLogger(__name__)

READ_TIMEOUT = 5.0
CHECK_TIMEOUT = 3.0


class ProbeServer:
    def __init__(self, host: str, port: int, ready: Callable[[], Awaitable[bool]], *, role: str = "probes") -> None:
        self.host = host
        self.port = port
        self._ready = ready
        self._role = role
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise listen_error(f"{self._role} probes", self.host, self.port, exc) from None
        logger.info("probes on http://%s:%d/health and /ready", self.host, self.port)

    async def shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ProbeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            method, _, rest = request.decode("latin-1").partition(" ")
            path = rest.partition(" ")[0].partition("?")[0]
            body: dict[str, object]
            if method not in ("GET", "HEAD"):
                status, body = 405, {"error": "method not allowed"}
            elif path == "/health":
                status, body = 200, {"status": "ok"}
            elif path == "/ready":
                ready = await self._check()
                status, body = (200 if ready else 503), {"ready": ready}
            else:
                status, body = 404, {"error": "not found"}
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if method == "HEAD" else payload))
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, UnicodeError):
            pass  # a probe that hung up or sent garbage gets nothing
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _check(self) -> bool:
        try:
            return await asyncio.wait_for(self._ready(), CHECK_TIMEOUT)
        except Exception:  # noqa: BLE001 - any failure of a check means "not ready"
            return False
