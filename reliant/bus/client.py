"""The NATS connection every role shares: typed request, publish, subscribe and presence."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription

from reliant.bus.subjects import PREFIX, PRESENCE_BUCKET, instance_id, presence_key
from reliant.errors import ConfigError, ReliantError

if TYPE_CHECKING:
    from reliant.bus.live import LiveTail

logger = logging.getLogger(__name__)


JETSTREAM_READY_WITHIN = 60.0  # seconds a starting role waits for JetStream to answer


class BusError(ReliantError):
    """NATS could not be reached or a request failed."""


class NoRespondersError(BusError):
    """Nobody subscribes to the subject (e.g. the daemon is not connected to any gateway)."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        super().__init__(f"no responders on {subject}")


class RequestTimeoutError(BusError):
    def __init__(self, subject: str, timeout: float) -> None:
        self.subject = subject
        self.timeout = timeout
        super().__init__(f"no reply on {subject} within {timeout:.1f}s")


class Incoming(Protocol):
    """What a subscription handler receives."""

    @property
    def subject(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def reply(self) -> str: ...
    @property
    def headers(self) -> dict[str, str] | None: ...


Handler = Callable[[Incoming], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Reply:
    data: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass(frozen=True, slots=True)
class NatsAuth:
    """How to prove who we are to NATS and how to trust it: a token, a user and password, a
    credentials file (user JWT + NKEY seed) or an NKEY seed file; a CA for the server's certificate
    and a client certificate (mTLS). Files are paths; empty means unused."""

    token: str = field(default="", repr=False)
    user: str = ""
    password: str = field(default="", repr=False)
    creds_file: str = ""
    nkey_file: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    def tls(self) -> ssl.SSLContext | None:
        """A TLS context when a CA or a client certificate is given (a `tls://` URL alone uses the
        system's CAs); a file that cannot be used raises ConfigError naming its setting."""
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("a NATS client certificate needs both nats_tls_cert and nats_tls_key")
        if not (self.tls_ca or self.tls_cert):
            return None
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        try:
            if self.tls_ca:
                context.load_verify_locations(cafile=str(_file(self.tls_ca)))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"nats_tls_ca {self.tls_ca}: {_reason(exc)}") from None
        try:
            if self.tls_cert:
                context.load_cert_chain(str(_file(self.tls_cert)), str(_file(self.tls_key)))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"nats_tls_cert/nats_tls_key {self.tls_cert}: {_reason(exc)}") from None
        return context

    def options(self) -> dict[str, Any]:
        """nats.connect's keyword arguments for these credentials."""
        for setting, path in (("nats_creds_file", self.creds_file), ("nats_nkey_file", self.nkey_file)):
            if path and not _file(path).is_file():
                raise ConfigError(f"{setting}: {path} is not a readable file")
        if self.password and not self.user:
            raise ConfigError("nats_password needs nats_user")
        options: dict[str, Any] = {
            "token": self.token or None,
            "user": self.user or None,
            "password": self.password or None,
            "user_credentials": str(_file(self.creds_file)) if self.creds_file else None,
            "nkeys_seed": str(_file(self.nkey_file)) if self.nkey_file else None,
        }
        context = self.tls()
        if context is not None:
            options["tls"] = context
        return {k: v for k, v in options.items() if v is not None}


def _file(path: str) -> Path:
    return Path(path).expanduser()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def server_urls(url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` (or a list given once): several seed servers of one cluster."""
    return [part.strip() for part in url.split(",") if part.strip()]


class _Refused(Exception):
    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(str(cause))


def _refusal(exc: Exception) -> bool:
    """Whether a failed first connect is the server refusing us (authorization) or TLS failing
    (an untrusted certificate, no client certificate where one is required), not an outage."""
    if isinstance(exc, nats.errors.AuthorizationError | ssl.SSLError):
        return True
    return "authorization violation" in str(exc).lower() or "authentication" in str(exc).lower()


async def _close_quietly(nc: NatsClient) -> None:
    try:
        await asyncio.wait_for(nc.close(), 2.0)  # a transport left mid-handshake may never flush
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        logger.debug("closing a failed NATS connection: %s", exc)


class _Link:
    """How often the connection to the server was lost: tells an operation that failed while the
    server was away (worth waiting out) from one that failed on its own."""

    def __init__(self) -> None:
        self.losses = 0


@dataclass(frozen=True, slots=True)
class _Delivered:
    """A message as a handler sees it: its subject without the deployment's prefix."""

    subject: str
    data: bytes
    reply: str
    headers: dict[str, str] | None


class Bus:
    """A deployment name (`deployment`) prefixes every subject, queue group, KV bucket and stream,
    so that several deployments share one NATS without seeing each other; callers use the plain
    subjects of `subjects` and never see the prefix. `replicas`: how many servers of a NATS cluster
    keep each copy of the presence bucket and the live stream (1 on a single server; with 1 on a
    cluster, losing the server that holds them takes every daemon's presence with it)."""

    def __init__(self, nc: NatsClient, link: _Link | None = None, *, deployment: str = "", replicas: int = 1) -> None:
        self._nc = nc
        self.replicas = replicas
        self._link = link or _Link()
        self._presence: Presence | None = None
        self._live: LiveTail | None = None
        self.deployment = deployment
        self._prefix = f"{deployment}." if deployment else ""

    def subject(self, subject: str) -> str:
        """The subject on the wire: reliant's own subjects get the deployment's prefix (reply
        inboxes do not)."""
        return self._prefix + subject if self._prefix and subject.startswith(PREFIX + ".") else subject

    def name(self, name: str) -> str:
        """A queue group, KV bucket or stream name of this deployment."""
        return f"{self.deployment}_{name}" if self.deployment else name

    @classmethod
    async def connect(
        cls,
        url: str,
        token: str = "",
        *,
        name: str = "reliant",
        connect_timeout: float = 5.0,
        auth: NatsAuth | None = None,
        deployment: str = "",
        replicas: int = 1,
    ) -> Bus:
        """Connect to one server or, given several URLs separated by commas, to a cluster (the
        client moves to another seed, or a server the cluster told it about, when one goes away)."""
        auth = auth or NatsAuth(token=token)
        options = auth.options()
        servers = server_urls(url)
        if not servers:
            raise BusError("no NATS URL given (--nats-url)")

        nc = NatsClient()
        connecting = True  # until the first connect returns or fails

        async def on_error(exc: Exception) -> None:
            if connecting and not nc.is_connected and _refusal(exc):
                # Refused before ever connecting (credentials, certificates): retrying cannot help,
                # and nats.connect would retry for ever. Raising here ends its connect loop.
                raise _Refused(exc)
            # While the server is away every reconnect attempt fails: the supervisor that restarts
            # it says so once, these would repeat four times a second per connection.
            reconnecting = isinstance(exc, (OSError, nats.errors.UnexpectedEOF, nats.errors.StaleConnectionError))
            logger.log(logging.DEBUG if reconnecting else logging.WARNING, "nats: %s", exc)

        link = _Link()

        async def on_disconnect() -> None:
            link.losses += 1
            logger.info("nats: disconnected from %s", url)

        async def on_reconnect() -> None:
            logger.info("nats: reconnected to %s", url)

        try:
            # (the timeouts go through `options`: nats-py annotates them as int, and takes floats)
            options |= {"connect_timeout": connect_timeout, "reconnect_time_wait": 0.25}
            await nc.connect(
                servers,
                **options,
                name=name,
                max_reconnect_attempts=-1,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except _Refused as refused:
            connecting = False
            await _close_quietly(nc)
            exc = refused.cause
            raise BusError(f"cannot connect to NATS at {url}: {exc or type(exc).__name__}") from exc
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            connecting = False
            await _close_quietly(nc)
            raise BusError(f"cannot connect to NATS at {url}: {exc or type(exc).__name__}") from exc
        connecting = False
        return cls(nc, link, deployment=deployment, replicas=replicas)

    @staticmethod
    async def probe(url: str, auth: NatsAuth | None = None, *, timeout: float = 5.0) -> None:
        """One connection attempt to each server (no reconnecting), closed at once; raises BusError
        saying why."""
        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        options = (auth or NatsAuth()).options() | {"connect_timeout": timeout, "reconnect_time_wait": 0}
        try:
            nc = await nats.connect(
                server_urls(url),
                **options,
                name="reliant-probe",
                allow_reconnect=False,
                max_reconnect_attempts=1,  # the first connect tries each server once more than this
                error_cb=on_error,
            )
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            cause = errors[-1] if errors else exc
            raise BusError(f"cannot connect to NATS at {url}: {cause or type(cause).__name__}") from exc
        await nc.close()

    @property
    def server(self) -> str:
        """The URL of the server this connection is on now ("" while disconnected)."""
        current = self._nc.connected_url
        return current.geturl() if current is not None else ""

    @property
    def connected(self) -> bool:
        return bool(self._nc.is_connected)

    @property
    def losses(self) -> int:
        """How many times the connection was lost so far (compare two readings to see whether it
        was lost in between)."""
        return self._link.losses

    async def ping(self, timeout: float = 2.0) -> None:
        """Round trip to the server; raises BusError if it does not answer. While the client is
        reconnecting nats-py's flush returns at once without a round trip, so that is a failure too."""
        if not self.connected:
            raise BusError("NATS is not connected (reconnecting)")
        try:
            await self._nc.flush(timeout=max(1, round(timeout)))
        except (nats.errors.Error, TimeoutError) as exc:
            raise BusError(f"NATS did not answer: {exc or type(exc).__name__}") from exc

    async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        await self._nc.publish(self.subject(subject), data, headers=headers)

    async def publish_json(self, subject: str, value: Any) -> None:
        await self._nc.publish(self.subject(subject), json.dumps(value, separators=(",", ":")).encode())

    async def request(
        self, subject: str, data: bytes, *, timeout: float, headers: dict[str, str] | None = None
    ) -> Reply:
        try:
            msg = await self._nc.request(self.subject(subject), data, timeout=timeout, headers=headers)
        except nats.errors.NoRespondersError:
            raise NoRespondersError(subject) from None
        except nats.errors.TimeoutError:
            raise RequestTimeoutError(subject, timeout) from None
        except nats.errors.Error as exc:  # e.g. the connection is closed or its buffer is full
            raise BusError(f"request on {subject} failed: {exc or type(exc).__name__}") from exc
        return Reply(msg.data, msg.headers or {})

    async def subscribe(self, subject: str, handler: Handler, *, queue: str = "") -> Subscription:
        if not self._prefix:
            return await self._nc.subscribe(subject, queue=queue, cb=handler)
        prefix = self._prefix

        async def delivered(msg: Any) -> None:
            plain = msg.subject[len(prefix) :] if msg.subject.startswith(prefix) else msg.subject
            await handler(_Delivered(plain, msg.data, msg.reply, msg.headers))

        return await self._nc.subscribe(self.subject(subject), queue=self.name(queue) if queue else "", cb=delivered)

    async def presence(self) -> Presence:
        if self._presence is None:
            js = self._nc.jetstream()
            try:
                kv = await js.key_value(self.name(PRESENCE_BUCKET))
            except nats.js.errors.BucketNotFoundError:
                kv = await js.create_key_value(
                    bucket=self.name(PRESENCE_BUCKET), history=1, ttl=300, replicas=self.replicas
                )
            self._presence = Presence(kv, js, self.name(PRESENCE_BUCKET))
        return self._presence

    @property
    def live(self) -> LiveTail:
        """Chats' live tails: the answers being streamed, in JetStream."""
        if self._live is None:
            from reliant.bus.live import LiveTail  # here: live.py builds on this module

            self._live = LiveTail(self._nc, self, replicas=self.replicas)
        return self._live

    async def close(self) -> None:
        if self._nc.is_closed:
            return
        try:
            await asyncio.wait_for(self._nc.drain(), 2.0)
        except (TimeoutError, nats.errors.Error):
            await self._nc.close()


class Presence:
    """Who is alive: roles and daemons put a JSON record under a key and refresh it."""

    def __init__(self, kv: Any, js: Any, bucket: str) -> None:
        self._kv = kv
        self._js = js
        self._stream = f"KV_{bucket}"
        self._subjects = f"$KV.{bucket}."

    async def put(self, key: str, value: dict[str, Any]) -> None:
        await self._kv.put(key, json.dumps(value).encode())

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry = await self._kv.get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        return json.loads(entry.value) if entry.value else None

    async def delete(self, key: str) -> None:
        try:
            await self._kv.delete(key)
        except nats.js.errors.Error:
            logger.debug("presence: could not delete %s", key)

    async def entries(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """Every live record whose key starts with `prefix`.

        The keys come from the bucket's stream info (one request), not from a key watcher: the
        watcher can signal "no more keys" before the first one reaches it on a busy machine, and a
        read of every daemon then came back empty."""
        info = await self._js.stream_info(self._stream, subjects_filter=self._subjects + ">")
        subjects = info.state.subjects or {}
        wanted = [key for key in (s[len(self._subjects) :] for s in subjects) if key.startswith(prefix)]
        found = await asyncio.gather(*(self.get(key) for key in wanted))  # side by side, not one by one
        return {key: value for key, value in zip(wanted, found, strict=True) if value is not None}


class Beacon:
    """Keeps one presence record fresh: put now, refresh every `interval`, delete on shutdown."""

    def __init__(self, bus: Bus, key: str, record: Callable[[], dict[str, Any]], interval: float) -> None:
        self._bus = bus
        self._key = key
        self._record = record
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def _put(self) -> None:
        presence = await self._bus.presence()
        await presence.put(self._key, {**self._record(), "last_seen": time.time()})

    async def start(self, ready_within: float = JETSTREAM_READY_WITHIN) -> None:
        """Put the record, waiting (bounded) for JetStream: a NATS cluster that has just started
        answers JetStream calls only once it has elected a leader."""
        deadline = time.monotonic() + ready_within
        delay = 0.1
        while True:
            try:
                await self._put()
                break
            except (nats.errors.Error, TimeoutError) as exc:
                if time.monotonic() + delay > deadline:
                    raise BusError(
                        f"NATS JetStream did not answer within {ready_within:.0f}s ({exc!r}); it must be enabled,"
                        " and a cluster must have elected a leader"
                    ) from None
                logger.info("waiting for NATS JetStream to answer (%r)", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._task = asyncio.create_task(self._loop(), name=f"beacon:{self._key}")

    async def _loop(self) -> None:
        # The flag, not only the cancellation, ends the loop: nats-py answers a request through
        # asyncio.wait_for, which on Python 3.11 can swallow a cancellation that arrives as its
        # reply does, and the loop would then refresh the record forever.
        while not self._stopping:
            await asyncio.sleep(self._interval)
            if self._stopping:
                return
            try:
                await self._put()
            except (BusError, nats.errors.Error, TimeoutError) as exc:
                logger.debug("presence refresh for %s failed: %s", self._key, exc)

    async def shutdown(self, *, delete: bool = True) -> None:
        """Stop refreshing; with `delete`, also remove the record (others see us gone at once)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not delete:
            return
        try:
            presence = await self._bus.presence()
            await presence.delete(self._key)
        except (BusError, nats.errors.Error, TimeoutError):
            pass


def role_beacon(bus: Bus, role: str, detail: dict[str, str], interval: float) -> Beacon:
    """The presence record of one running role instance (shown by `reliant status`)."""
    instance = instance_id(role)
    started = time.time()
    host = socket.gethostname()

    def record() -> dict[str, Any]:
        return {
            "role": role,
            "instance": instance,
            "host": host,
            "pid": os.getpid(),
            "started_at": started,
            "detail": detail,
        }

    return Beacon(bus, presence_key("role", instance), record, interval)
