"""The api role: the ASGI app served by uvicorn on a socket we bind ourselves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from datetime import datetime

import uvicorn

from reliant.api.app import create_app
from reliant.api.chats import Chats
from reliant.api.context import ApiContext
from reliant.api.errors import UnavailableError
from reliant.bus import role_beacon
from reliant.clients import temporal
from reliant.clients.bus_connection import connect_bus
from reliant.clients.codec_record import verify_codec_key
from reliant.clients.providers import ProviderPool
from reliant.config import Settings
from reliant.db import Database, DatabaseUnavailableError
from reliant.errors import ConfigError, listen_error
from reliant.wire.grpc_tls import read_pem

logger = logging.getLogger(__name__)

STRANDED_RETRY_FIRST = 1.0  # seconds
STRANDED_RETRY_MAX = 30.0


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the supervisor owns signals and shutdown order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise listen_error("api", host, port, exc) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class ApiRole:
    name = "api"

    def __init__(self, settings: Settings, *, peers_ready: asyncio.Event | None = None) -> None:
        """`peers_ready`: when the api runs in one process with the other roles, the event set once
        they are all ready (its /ready waits for it)."""
        self.settings = settings
        self.peers_ready = peers_ready

    @property
    def url(self) -> str:
        return self.settings.api_address

    def _tls(self) -> dict[str, str]:
        """uvicorn's TLS options: the api serves https itself when given a certificate and key
        (a deployment without a TLS-terminating proxy in front)."""
        s = self.settings
        if not s.api_tls_cert and not s.api_tls_key:
            return {}
        if not s.api_tls_cert or not s.api_tls_key:
            raise ConfigError("api TLS needs both api_tls_cert and api_tls_key")
        read_pem(s.api_tls_cert, "api_tls_cert")
        read_pem(s.api_tls_key, "api_tls_key")
        return {"ssl_certfile": s.api_tls_cert, "ssl_keyfile": s.api_tls_key}

    async def run(self, ready: asyncio.Event) -> None:
        s = self.settings
        tls = self._tls()  # a bad certificate file stops the start before anything is opened
        sock = bind(s.host, s.api_port)
        try:
            db = await Database.open(s.database_url, min_size=1)
            try:
                await verify_codec_key(db, s, temporal.codec_key(s))
                bus = await connect_bus(s, "reliant-api")
                try:
                    client = await temporal.connect(s)
                    ctx = ApiContext(
                        settings=s, db=db, bus=bus, temporal=client, api_url=self.url, peers_ready=self.peers_ready
                    )
                    await self._serve(ctx, sock, ready, tls)
                finally:
                    await bus.close()
            finally:
                await db.close()
        finally:
            sock.close()

    async def _serve(self, ctx: ApiContext, sock: socket.socket, ready: asyncio.Event, tls: dict[str, str]) -> None:
        providers = ProviderPool(ctx.db, ctx.settings)
        row = await ctx.db.fetchrow("SELECT now() AS now")  # messages stored before this api took any
        assert row is not None
        config = uvicorn.Config(
            create_app(ctx, providers),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            loop="none",
            **tls,  # type: ignore[arg-type]
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="api-http")
        beacon = role_beacon(ctx.bus, self.name, {"url": self.url}, ctx.settings.heartbeat_interval)
        stranded: asyncio.Task[None] | None = None
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                    raise RuntimeError("api server stopped while starting")
                await asyncio.sleep(0.002)
            await beacon.start()
            logger.info("api listening on %s", self.url)
            ready.set()
            stranded = asyncio.create_task(_deliver_stranded(Chats(ctx, providers), row["now"]), name="stranded")
            await asyncio.shield(serving)
        finally:
            if stranded is not None:
                stranded.cancel()
                await asyncio.gather(stranded, return_exceptions=True)
            ctx.streams.close()
            server.should_exit = True
            await asyncio.gather(serving, return_exceptions=True)
            await beacon.shutdown()


async def _deliver_stranded(chats: Chats, before: datetime) -> None:
    """Hand over the messages an earlier api stored but never handed to their workflow (it died in
    between): a chat that cannot be reached is tried again until Postgres and Temporal answer."""
    delay = STRANDED_RETRY_FIRST
    pending: set[str] | None = None  # every chat, the first time
    while True:
        try:
            handed, failed = await chats.deliver_stranded(before, pending)
        except (UnavailableError, DatabaseUnavailableError) as exc:
            failed, handed = {"*": str(exc)}, 0
        if handed:
            logger.warning("handed %d message(s) left queued by an earlier api to their chats", handed)
        if not failed:
            return
        reason = next(iter(failed.values()))
        logger.warning(
            "could not hand over the messages left queued in %d chat(s) (retry in %gs): %s", len(failed), delay, reason
        )
        if "*" not in failed:
            pending = set(failed)
        await asyncio.sleep(delay)
        delay = min(delay * 2, STRANDED_RETRY_MAX)
