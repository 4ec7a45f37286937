"""The gRPC servicer daemons dial into, bridging their stream to NATS.

For each connected daemon the gateway subscribes to that daemon's inbound subjects only, forwards
every NATS message down the stream as a Request, and relays the daemon's Response to the NATS reply
subject. Both sides send heartbeats; a daemon silent for longer than the timeout is dropped and
reported offline.

A request that cannot be forwarded (no stream for that daemon here) is refused with ERROR_NOT_HELD:
it provably never reached the daemon. Requests forwarded on a stream that then breaks are failed
with ERROR_DISCONNECTED at once: they may have reached it. Registering a stream and cleaning up
after one are serialized per daemon, so the cleanup of an old stream never marks offline a daemon
that has meanwhile reconnected: its "offline" always comes before the new "online".
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import grpc

from reliant.bus import Beacon, Bus, BusError, Incoming, subjects
from reliant.wire.grpc_options import ERROR_DISCONNECTED, ERROR_NOT_HELD, HEADER_ERROR, HEADER_GATEWAY_MS
from reliant.wire.v1 import daemon_pb2 as pb
from reliant.wire.v1 import daemon_pb2_grpc

logger = logging.getLogger(__name__)

REGISTER_TIMEOUT = 10.0
OFFLINE_MARK_TIMEOUT = 2.0


@dataclass(slots=True)
class _Pending:
    reply: str
    started: float


@dataclass
class DaemonSession:
    """One connected daemon: its stream, its NATS subscriptions and requests in flight."""

    daemon_id: str
    name: str
    hostname: str
    version: str
    workspaces: list[str]
    context: grpc.aio.ServicerContext[pb.DaemonMessage, pb.GatewayMessage]
    boot_id: str = ""
    beacon: Beacon | None = None
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.monotonic)
    pending: dict[int, _Pending] = field(default_factory=dict)
    next_id: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    cleaned: asyncio.Event = field(default_factory=asyncio.Event)  # set once the cleanup is done
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, message: pb.GatewayMessage) -> None:
        async with self.write_lock:
            await self.context.write(message)


class GatewayServicer(daemon_pb2_grpc.DaemonGatewayServicer):
    def __init__(
        self,
        bus: Bus,
        *,
        daemon_token: str,
        gateway_id: str,
        heartbeat_interval: float,
        heartbeat_timeout: float,
    ) -> None:
        self._bus = bus
        self._token = daemon_token.encode()
        self.gateway_id = gateway_id
        self._interval = heartbeat_interval
        self._timeout = heartbeat_timeout
        self.sessions: dict[str, DaemonSession] = {}
        # One set of NATS subscriptions per daemon, shared by its successive streams: a request
        # always goes to the stream that is current when it arrives, never to one being replaced.
        self._subscriptions: dict[str, list[Any]] = {}
        # Held while a daemon's stream is registered or cleaned up (see the module docstring).
        self._registry: dict[str, asyncio.Lock] = {}
        self._cleanups: set[asyncio.Task[None]] = set()

    async def Connect(
        self,
        request_iterator: Any,
        context: grpc.aio.ServicerContext[pb.DaemonMessage, pb.GatewayMessage],
    ) -> None:
        session = await self._register(context)
        daemon_id = session.daemon_id
        session.beacon = Beacon(
            self._bus,
            subjects.presence_key("daemon", daemon_id),
            lambda: self._presence_record(session, online=True),
            self._interval,
        )
        tasks: list[asyncio.Task[None]] = []
        try:
            async with self._registry_lock(daemon_id):
                previous = self.sessions.get(daemon_id)
                if previous is not None:
                    logger.info("daemon %s reconnected; closing its previous stream", daemon_id)
                    previous.closed.set()
                    if previous.beacon is not None:
                        await previous.beacon.shutdown(delete=False)
                self.sessions[daemon_id] = session
                if daemon_id not in self._subscriptions:
                    self._subscriptions[daemon_id] = [
                        await self._bus.subscribe(subject, self._forwarder(daemon_id), queue="gateway")
                        for subject in subjects.daemon_inbound(daemon_id)
                    ]
                await session.beacon.start()
                await self._bus.publish_json(subjects.daemon_online(daemon_id), {"online": True})
            await session.send(
                pb.GatewayMessage(
                    registered=pb.Registered(
                        gateway_id=self.gateway_id,
                        heartbeat_interval=self._interval,
                        heartbeat_timeout=self._timeout,
                    )
                )
            )
            logger.info("daemon %s (%s) connected", daemon_id, session.name)
            tasks = [
                asyncio.create_task(self._read(session), name=f"gateway-read:{daemon_id}"),
                asyncio.create_task(self._heartbeat(session), name=f"gateway-beat:{daemon_id}"),
            ]
            await session.closed.wait()
        finally:
            session.closed.set()
            # grpc cancels this handler when the daemon's side of the RPC ends, possibly while the
            # cleanup below runs: it is shielded, so it always completes (offline marked, pending
            # requests failed, subscriptions dropped).
            cleanup = asyncio.create_task(self._cleanup(session, tasks), name=f"gateway-cleanup:{daemon_id}")
            self._cleanups.add(cleanup)
            cleanup.add_done_callback(self._cleanups.discard)
            await asyncio.shield(cleanup)

    async def _cleanup(self, session: DaemonSession, tasks: list[asyncio.Task[None]]) -> None:
        daemon_id = session.daemon_id
        try:
            for task in tasks:
                task.cancel()
            if tasks:
                # A cancelled context.read() can stay pending until the RPC itself ends, which
                # happens only once the handler returns: wait briefly, never forever.
                await asyncio.wait(tasks, timeout=1.0)
            await self._fail_pending(session)
            if session.beacon is not None:
                await session.beacon.shutdown(delete=False)
            async with self._registry_lock(daemon_id):
                if self.sessions.get(daemon_id) is session:  # not replaced by a newer stream
                    del self.sessions[daemon_id]
                    for sub in self._subscriptions.pop(daemon_id, []):
                        try:
                            await sub.unsubscribe()
                        except Exception as exc:  # noqa: BLE001 - the connection may already be closed
                            logger.debug("unsubscribe failed: %s", exc)
                    await self._mark_offline(session)
        finally:
            session.cleaned.set()
        logger.info("daemon %s disconnected", daemon_id)

    def _registry_lock(self, daemon_id: str) -> asyncio.Lock:
        return self._registry.setdefault(daemon_id, asyncio.Lock())

    # -- registration -----------------------------------------------------------------------------
    async def _register(self, context: grpc.aio.ServicerContext[pb.DaemonMessage, pb.GatewayMessage]) -> DaemonSession:
        try:
            first = await asyncio.wait_for(context.read(), REGISTER_TIMEOUT)
        except TimeoutError:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "no Register message within 10s")
            raise AssertionError("unreachable") from None
        if first is grpc.aio.EOF or not first.HasField("register"):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be Register")
        reg = first.register
        if not hmac.compare_digest(reg.token.encode(), self._token):
            logger.warning("rejected daemon %r from %s: bad token", reg.daemon_id, context.peer())
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "daemon token rejected by the gateway; use the token from the server's "
                "<data-dir>/secrets/daemon_token (reliant daemon start --token-file)",
            )
        if not subjects.valid_token(reg.daemon_id):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"daemon id {reg.daemon_id!r} is invalid: use 1-64 letters, digits, '-' or '_'",
            )
        return DaemonSession(
            daemon_id=reg.daemon_id,
            name=reg.name or reg.daemon_id,
            hostname=reg.hostname,
            version=reg.version,
            workspaces=list(reg.workspaces),
            context=context,
            boot_id=reg.boot_id,
        )

    def _presence_record(self, session: DaemonSession, *, online: bool) -> dict[str, Any]:
        return {
            "id": session.daemon_id,
            "name": session.name,
            "hostname": session.hostname,
            "version": session.version,
            "boot_id": session.boot_id,
            "workspaces": session.workspaces,
            "gateway": self.gateway_id,
            "connected_at": session.connected_at,
            "online": online,
        }

    async def _mark_offline(self, session: DaemonSession) -> None:
        """Bounded: a reconnecting daemon waits for this (NATS may be unreachable)."""

        async def mark() -> None:
            presence = await self._bus.presence()
            record = {**self._presence_record(session, online=False), "last_seen": time.time()}
            await presence.put(subjects.presence_key("daemon", session.daemon_id), record)
            await self._bus.publish_json(subjects.daemon_online(session.daemon_id), {"online": False})

        try:
            await asyncio.wait_for(mark(), OFFLINE_MARK_TIMEOUT)
        except (BusError, OSError, TimeoutError) as exc:
            logger.debug("could not mark daemon %s offline: %s", session.daemon_id, exc)

    # -- NATS -> daemon ---------------------------------------------------------------------------
    def _forwarder(self, daemon_id: str) -> Any:
        prefix = subjects.daemon_prefix(daemon_id)

        async def forward(msg: Incoming) -> None:
            session = self.sessions.get(daemon_id)
            if session is None or session.closed.is_set():
                if msg.reply:  # provably not delivered: the caller may send it again
                    await self._bus.publish(msg.reply, b"", headers={HEADER_ERROR: ERROR_NOT_HELD})
                return
            session.next_id += 1
            ident = session.next_id
            if msg.reply:
                session.pending[ident] = _Pending(msg.reply, time.perf_counter())
            request = pb.Request(
                id=ident,
                subject=msg.subject.removeprefix(prefix),
                payload=msg.data,
                wants_reply=bool(msg.reply),
            )
            try:
                await session.send(pb.GatewayMessage(request=request))
            except (grpc.aio.AioRpcError, RuntimeError, asyncio.InvalidStateError) as exc:
                logger.debug("could not forward to daemon %s: %s", daemon_id, exc)
                pending = session.pending.pop(ident, None)
                if pending is not None:
                    await self._bus.publish(pending.reply, b"", headers={HEADER_ERROR: ERROR_DISCONNECTED})
                session.closed.set()

        return forward

    # -- daemon -> NATS ---------------------------------------------------------------------------
    async def _read(self, session: DaemonSession) -> None:
        prefix = subjects.daemon_prefix(session.daemon_id)
        try:
            while True:
                message = await session.context.read()
                if message is grpc.aio.EOF:
                    return
                session.last_seen = time.monotonic()
                kind = message.WhichOneof("kind")
                if kind == "response":
                    pending = session.pending.pop(message.response.id, None)
                    if pending is None:
                        continue
                    elapsed = (time.perf_counter() - pending.started) * 1000
                    await self._bus.publish(
                        pending.reply, message.response.payload, headers={HEADER_GATEWAY_MS: f"{elapsed:.3f}"}
                    )
                elif kind == "event":
                    await self._bus.publish(prefix + "out." + message.event.subject, message.event.payload)
                elif kind == "workspaces":
                    session.workspaces = list(message.workspaces.workspaces)
                    presence = await self._bus.presence()
                    record = {**self._presence_record(session, online=True), "last_seen": time.time()}
                    await presence.put(subjects.presence_key("daemon", session.daemon_id), record)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError) as exc:
            logger.debug("stream from daemon %s ended: %s", session.daemon_id, exc)
        finally:
            session.closed.set()

    async def _heartbeat(self, session: DaemonSession) -> None:
        try:
            while True:
                await asyncio.sleep(self._interval)
                if time.monotonic() - session.last_seen > self._timeout:
                    logger.warning(
                        "daemon %s silent for more than %.0fs; marking it offline",
                        session.daemon_id,
                        self._timeout,
                    )
                    return
                await session.send(pb.GatewayMessage(heartbeat=pb.Heartbeat(sent_unix_ms=int(time.time() * 1000))))
        except (grpc.aio.AioRpcError, RuntimeError, asyncio.InvalidStateError) as exc:
            logger.debug("heartbeat to daemon %s failed: %s", session.daemon_id, exc)
        finally:
            session.closed.set()

    async def _fail_pending(self, session: DaemonSession) -> None:
        pending, session.pending = session.pending, {}
        for entry in pending.values():
            try:
                await self._bus.publish(entry.reply, b"", headers={HEADER_ERROR: ERROR_DISCONNECTED})
            except (BusError, OSError) as exc:
                logger.debug("could not fail a pending request: %s", exc)

    async def close_all(self, timeout: float = 5.0) -> None:
        """Close every stream and wait (bounded) until each is cleaned up: marked offline."""
        sessions = list(self.sessions.values())
        for session in sessions:
            session.closed.set()
        waits = [asyncio.create_task(s.cleaned.wait()) for s in sessions]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for wait in pending:
                wait.cancel()


def default_gateway_id(port: int) -> str:
    return f"{socket.gethostname()}:{port}"
