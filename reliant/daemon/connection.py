"""The daemon's side of the gateway stream: dial, register, serve requests, reconnect with backoff."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

import grpc

import reliant
from reliant.errors import ReliantError
from reliant.wire.grpc_options import OPTIONS
from reliant.wire.grpc_tls import ChannelTls, is_loopback
from reliant.wire.v1 import daemon_pb2 as pb
from reliant.wire.v1 import daemon_pb2_grpc

logger = logging.getLogger(__name__)

# Handles one request: (subject after "reliant.daemon.<id>.", payload) -> reply payload.
RequestHandler = Callable[[str, bytes], Awaitable[bytes]]


_REJECTED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT)
REGISTER_TIMEOUT = 10.0  # seconds a gateway may take to answer Register
# Once connected, what answers at the gateway's address may be a proxy whose gateway restarts: it is
# tried again, but only for so long (seconds) of nothing but such answers, and said at most so often.
NOT_A_GATEWAY_PATIENCE = 600.0
NOT_A_GATEWAY_LOG_INTERVAL = 60.0


class DaemonRejectedError(ReliantError):
    """The gateway refused this daemon for good (bad token, invalid id): retrying cannot help."""


class _IdInUse(Exception):
    """The gateway says another daemon with this id is connected (it may be a dead earlier run of
    this one, not yet timed out: so it is tried again for a while)."""


class GatewayTlsError(DaemonRejectedError):
    """The TLS handshake with the gateway failed before this daemon ever connected (an untrusted
    certificate, a gateway not serving TLS): a configuration to fix, not an outage to wait out."""

    def __init__(self, gateway: str, detail: str) -> None:
        self.gateway = gateway
        super().__init__(f"TLS with gateway {gateway} failed: {detail}")


class NotAGatewayError(DaemonRejectedError):
    """What answers at the gateway address is not a reliant gateway (the api's HTTP port, another
    gRPC server, another protocol): an address to fix, not an outage to wait out."""

    def __init__(self, gateway: str, found: str) -> None:
        self.gateway = gateway
        self.found = found
        super().__init__(
            f"{gateway} is not a reliant gateway: {found}. Pass the gateway's address to --gateway: the "
            "`gateway` line `reliant up` prints, or the --port of `reliant server gateway` (not the api's)"
        )


class _NotAGateway(Exception):
    """The stream ended in a way only something other than a reliant gateway ends it."""


class PlaintextTokenRefusedError(ReliantError):
    """The gateway is off this machine and the channel is not encrypted: the token would cross the
    network readable by anyone on the way."""

    def __init__(self, gateway: str) -> None:
        self.gateway = gateway
        super().__init__(
            f"refusing to send the daemon token to gateway {gateway} without TLS (it is not a loopback "
            "address): give the gateway's CA with --tls-ca (or --tls for the system's CAs), or pass "
            "--insecure to send the token in plaintext anyway"
        )


@dataclass(frozen=True, slots=True)
class DaemonIdentity:
    daemon_id: str
    name: str
    token: str
    boot_id: str = ""  # this run of the daemon, so a restart is told from a reconnect


def _tls_failure(details: str) -> bool:
    """Whether grpc's error says TLS with the gateway failed (not that the gateway is away)."""
    lowered = details.lower()
    return "handshake failed" in lowered or "verification check failed" in lowered


_HTTP1_STATUS = re.compile(r"Trying to connect an http1\.x server \(HTTP status (\d+)\)")


def _stranger(code: grpc.StatusCode, details: str, plaintext: bool) -> str:
    """What answered, when grpc's error proves it is not a reliant gateway (else ""): a gRPC server
    without the daemon service, an HTTP/1 server, or a peer whose first bytes are not HTTP/2.
    Refused connections and silent peers prove nothing: a gateway may be restarting."""
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return f"a gRPC server without reliant's daemon service answered ({details})"
    http1 = _HTTP1_STATUS.search(details)
    if http1:
        return f"an HTTP/1 server answered (HTTP status {http1.group(1)}), such as the api or another web server"
    if "Failed parsing HTTP/2" in details:
        tls = " (if it is a gateway serving TLS, pass --tls-ca or --tls)" if plaintext else ""
        return f"what answered does not speak gRPC: its first bytes are not HTTP/2{tls}"
    return ""


# Asked of a peer that is not HTTP/2: an HTTP server answers with its status line, many other
# protocols with a banner or an error of their own. HEAD asks for nothing to be done.
_WHO_ARE_YOU = b"HEAD / HTTP/1.0\r\n\r\n"


async def _first_line(address: str) -> str:
    """The first line a plaintext peer says to an HTTP/1 HEAD request, printable and short (a status
    line, another protocol's banner or error), to say what it is; "" when it says nothing at once."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), int(port)), 2)
    except (OSError, ValueError, TimeoutError):
        return ""
    try:
        writer.write(_WHO_ARE_YOU)
        said = await asyncio.wait_for(reader.read(256), 2)
    except (OSError, TimeoutError):
        return ""
    finally:
        writer.close()
    line = said.split(b"\n", 1)[0].decode("ascii", "replace").strip()
    return "".join(c if c.isprintable() else "?" for c in line)[:80]


def _handshake_reason(details: str) -> str:
    """The useful end of grpc's TLS error, e.g. `CERTIFICATE_VERIFY_FAILED: unable to get local
    issuer certificate`, `WRONG_VERSION_NUMBER` (the gateway does not serve TLS) or a certificate
    for another name."""
    if "hostname verification" in details.lower():
        return "its certificate is not for this host name (pass the name it carries with --tls-server-name)"
    reason = details.rsplit("OPENSSL_internal:", 1)[-1].removesuffix(": OK").strip()
    if "WRONG_VERSION_NUMBER" in reason:
        return f"{reason} (does the gateway serve TLS?)"
    return reason or details


class Backoff:
    """Exponential backoff with jitter: 0.1 s, 0.2 s, ... capped at `cap`."""

    def __init__(self, first: float = 0.1, cap: float = 2.0) -> None:
        self.first = first
        self.cap = cap
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.8, 1.2)


class DaemonConnection:
    def __init__(
        self,
        gateway: str,
        identity: DaemonIdentity,
        handler: RequestHandler,
        workspaces: Callable[[], list[str]],
        *,
        max_concurrency: int = 64,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        tls: ChannelTls | None = None,
        insecure_plaintext_token: bool = False,
        id_in_use_patience: float = 20.0,
        not_a_gateway_patience: float = NOT_A_GATEWAY_PATIENCE,
    ) -> None:
        # Several gateways ("a:1,b:2"): a session that fails or hangs moves on to the next one.
        self.gateways = [g.strip() for g in gateway.split(",") if g.strip()] or [gateway]
        self._current = 0
        self._patience = id_in_use_patience
        self._stranger_patience = not_a_gateway_patience
        self._stranger_said = -math.inf  # when the last "not a gateway" warning was logged
        self.tls = tls
        self._insecure_plaintext_token = insecure_plaintext_token
        self._credentials: grpc.ChannelCredentials | None = None
        self.identity = identity
        self._handler = handler
        self._workspaces = workspaces
        self._limit = asyncio.Semaphore(max_concurrency)
        self._call: grpc.aio.StreamStreamCall[pb.DaemonMessage, pb.GatewayMessage] | None = None
        self._write_lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        self._last_seen = 0.0
        self.sessions = 0
        self._on_connected = on_connected
        self._closing = False
        self._serving = True  # False once shutting down: requests are no longer answered
        self._session_over = asyncio.Event()

    @property
    def gateway(self) -> str:
        """The gateway this daemon dials now."""
        return self.gateways[self._current]

    def _next_gateway(self) -> bool:
        """Move on to the next gateway; True when that starts another round through all of them."""
        self._current = (self._current + 1) % len(self.gateways)
        return self._current == 0

    async def run(self, ready: asyncio.Event) -> None:
        """Stay connected until cancelled; raises DaemonRejectedError if the gateway refuses us (or,
        NotAGatewayError, if what answers is no gateway: at once before the first session, after
        `not_a_gateway_patience` of nothing else after one), and PlaintextTokenRefusedError, before
        dialling, if the token would leave this machine unencrypted."""
        for gateway in self.gateways:
            if self.tls is None and not self._insecure_plaintext_token and not is_loopback(gateway):
                raise PlaintextTokenRefusedError(gateway)
        # Read the certificate files once, up front: a missing one is a ConfigError naming the setting.
        self._credentials = self.tls.credentials() if self.tls is not None else None
        backoff = Backoff()
        in_use_since: float | None = None
        stranger_since: float | None = None  # since when every answer was not a gateway's
        while not self._closing:
            found = ""
            try:
                await self._session(ready, backoff)
                in_use_since = None
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _REJECTED:
                    raise DaemonRejectedError(f"gateway {self.gateway} refused this daemon: {exc.details()}") from None
                details = exc.details() or ""
                if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                    in_use_since = self._in_use(in_use_since, details)
                if _tls_failure(details) and not self.sessions:
                    raise GatewayTlsError(self.gateway, _handshake_reason(details)) from None
                found = _stranger(exc.code(), details, plaintext=self.tls is None)
                if found and not self.sessions:
                    raise NotAGatewayError(self.gateway, await self._described(found)) from None
                problem = f"{exc.code().name} ({details}){self._hint(details)}"
            except _NotAGateway as exc:
                if not self.sessions:
                    raise NotAGatewayError(self.gateway, str(exc)) from None
                found = problem = str(exc)
            except _IdInUse as exc:
                in_use_since = self._in_use(in_use_since, str(exc))
                problem = str(exc)
            except (OSError, TimeoutError) as exc:
                problem = str(exc)
            if self._closing:
                return
            stranger_since = await self._still_a_stranger(stranger_since, found) if found else None
            failed = self.gateway
            if len(self.gateways) > 1 and not self._next_gateway():
                logger.log(
                    logging.DEBUG if found else logging.WARNING,
                    "gateway %s: %s; trying gateway %s",
                    failed,
                    problem,
                    self.gateway,
                )
                continue  # the next gateway at once; back off between rounds through all of them
            delay = backoff.next()
            # The first attempts often race a gateway that is still starting: only persist is news.
            level = logging.WARNING if backoff.attempt > 3 and not found else logging.DEBUG
            logger.log(level, "gateway %s: %s; reconnecting in %.1fs", failed, problem, delay)
            await asyncio.sleep(delay)

    async def _still_a_stranger(self, since: float | None, found: str) -> float:
        """When every answer at the gateway's address began to say it is no gateway, after a
        session (a proxy may answer so while the gateway behind it restarts). Warns at most once a
        `NOT_A_GATEWAY_LOG_INTERVAL`; raises NotAGatewayError once it lasted `not_a_gateway_patience`."""
        now = time.monotonic()
        since = now if since is None else since
        if now - since >= self._stranger_patience:
            described = await self._described(found)
            raise NotAGatewayError(self.gateway, f"{described} (every answer for {now - since:.0f}s since a session)")
        if now - self._stranger_said >= NOT_A_GATEWAY_LOG_INTERVAL:
            self._stranger_said = now
            logger.warning(
                "gateway %s: %s, for %.0fs now; trying again, and stopping once that lasts %.0fs",
                self.gateway,
                found,
                now - since,
                self._stranger_patience,
            )
        return since

    async def _described(self, found: str) -> str:
        """`found`, with the first line the peer says when grpc could only tell it is not HTTP/2."""
        if self.tls is not None or "not HTTP/2" not in found:
            return found
        line = await _first_line(self.gateway)
        return f'{found}; it says "{line}"' if line else found

    def _in_use(self, since: float | None, details: str) -> float:
        """When the id was first found in use; raises DaemonRejectedError once that lasted longer
        than a dead run of this daemon could keep it."""
        now = time.monotonic()
        if since is None:
            logger.warning("gateway %s: %s; trying again for %.0fs", self.gateway, details, self._patience)
            return now
        if now - since > self._patience:
            raise DaemonRejectedError(f"gateway {self.gateway} refused this daemon: {details}")
        return since

    def _channel(self) -> grpc.aio.Channel:
        if self.tls is None or self._credentials is None:
            return grpc.aio.insecure_channel(self.gateway, options=OPTIONS)
        return grpc.aio.secure_channel(self.gateway, self._credentials, options=OPTIONS + self.tls.options())

    def _hint(self, details: str) -> str:
        """What a closed socket most likely means, given how this daemon dials."""
        if "socket closed" not in details.lower():
            return ""
        if self.tls is None:
            return "; if the gateway serves TLS, pass --tls-ca (or --tls)"
        if not self.tls.client_certificate:
            return "; if the gateway requires a client certificate, pass --tls-cert and --tls-key"
        return ""

    async def _session(self, ready: asyncio.Event, backoff: Backoff) -> None:
        async with self._channel() as channel:
            call = daemon_pb2_grpc.DaemonGatewayStub(channel).Connect()  # type: ignore[no-untyped-call]
            self._call = call
            self._session_over.clear()
            try:
                await call.write(
                    pb.DaemonMessage(
                        register=pb.Register(
                            daemon_id=self.identity.daemon_id,
                            name=self.identity.name,
                            workspaces=self._workspaces(),
                            token=self.identity.token,
                            version=reliant.__version__,
                            hostname=socket.gethostname(),
                            boot_id=self.identity.boot_id,
                        )
                    )
                )
                # A gateway that hangs (stopped, partitioned) accepts the TCP connection and then
                # never answers: give up on it after a while and try the next one.
                first = await asyncio.wait_for(call.read(), REGISTER_TIMEOUT)
                if first is grpc.aio.EOF:
                    await self._ended(call)
                if not first.HasField("registered"):
                    raise OSError("gateway did not answer Register")
                interval = first.registered.heartbeat_interval or 5.0
                timeout = first.registered.heartbeat_timeout or 15.0
                self.sessions += 1
                logger.info("connected to gateway %s as daemon %s", self.gateway, self.identity.daemon_id)
                backoff.reset()
                self.connected.set()
                ready.set()
                if self._on_connected is not None:
                    await self._on_connected()
                await self._serve(call, interval, timeout)
            finally:
                self.connected.clear()
                self._session_over.set()
                self._call = None
                for task in list(self._inflight):
                    task.cancel()
                await asyncio.gather(*self._inflight, return_exceptions=True)
                call.cancel()

    async def _serve(
        self,
        call: grpc.aio.StreamStreamCall[pb.DaemonMessage, pb.GatewayMessage],
        interval: float,
        timeout: float,
    ) -> None:
        """Read requests and send heartbeats until the stream ends or the gateway goes quiet."""
        self._last_seen = time.monotonic()
        reader = asyncio.create_task(self._read(call), name="daemon-read")
        beater = asyncio.create_task(self._beat(interval, timeout), name="daemon-heartbeat")
        try:
            done, _ = await asyncio.wait({reader, beater}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, beater):
                task.cancel()
            await asyncio.gather(reader, beater, return_exceptions=True)
        for task in done:
            task.result()

    async def _read(self, call: grpc.aio.StreamStreamCall[pb.DaemonMessage, pb.GatewayMessage]) -> None:
        while True:
            message = await call.read()
            if message is grpc.aio.EOF:
                await self._ended(call)
            self._last_seen = time.monotonic()
            if message.HasField("request") and self._serving:
                task = asyncio.create_task(self._handle(message.request), name=f"request-{message.request.id}")
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    async def _ended(self, call: grpc.aio.StreamStreamCall[pb.DaemonMessage, pb.GatewayMessage]) -> NoReturn:
        code, details = await call.code(), await call.details()
        if code in _REJECTED:
            raise DaemonRejectedError(f"gateway {self.gateway} refused this daemon: {details}")
        if code == grpc.StatusCode.ALREADY_EXISTS:
            raise _IdInUse(details)
        found = _stranger(code, details, plaintext=self.tls is None)
        if found:
            raise _NotAGateway(found)
        raise OSError(f"gateway closed the stream ({code.name}: {details or 'no details'})")

    async def _beat(self, interval: float, timeout: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self._last_seen > timeout:
                raise OSError(f"no heartbeat from the gateway for {timeout:.0f}s")
            await self._send(pb.DaemonMessage(heartbeat=pb.Heartbeat(sent_unix_ms=int(time.time() * 1000))))

    async def _handle(self, request: pb.Request) -> None:
        async with self._limit:
            try:
                payload = await self._handler(request.subject, request.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("request on %s failed", request.subject)
                payload = json.dumps({"ok": False, "status": "error", "error": f"daemon error: {exc}"}).encode()
        if request.wants_reply and self._serving:
            await self._send(pb.DaemonMessage(response=pb.Response(id=request.id, payload=payload)))

    async def _send(self, message: pb.DaemonMessage) -> None:
        call = self._call
        if call is None:
            return
        async with self._write_lock:
            await call.write(message)

    def stop_serving(self) -> None:
        """Shutting down: answer no more requests (the gateway fails those in flight as
        disconnected when the stream ends, as if the daemon had gone), but keep sending events."""
        self._serving = False

    async def close(self, timeout: float = 1.0) -> None:
        """Stop reconnecting and half-close the stream, so the gateway reads everything sent so far
        (a cancelled call may drop messages still in flight); wait at most `timeout` for it to end."""
        self._closing = True
        call = self._call
        if call is None:
            return
        try:
            async with self._write_lock:
                await call.done_writing()
            await asyncio.wait_for(self._session_over.wait(), timeout)
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, RuntimeError, TimeoutError) as exc:
            logger.debug("closing the gateway stream: %s", exc)

    async def publish(self, subject: str, payload: bytes) -> None:
        """Publish an event through the gateway on reliant.daemon.<id>.out.<subject>."""
        await self._send(pb.DaemonMessage(event=pb.Event(subject=subject, payload=payload)))

    async def announce_workspaces(self) -> None:
        """Tell the gateway the current workspace list. If the stream is down, the next Register
        carries it, so a failed send is not an error."""
        try:
            await self._send(pb.DaemonMessage(workspaces=pb.Workspaces(workspaces=self._workspaces())))
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, RuntimeError) as exc:
            logger.debug("could not announce workspaces: %s", exc)
