"""The connection pool and small query helpers. The only place psycopg is imported (with db/*)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from reliant.errors import ReliantError

logger = logging.getLogger(__name__)

Row = dict[str, Any]
Connection = psycopg.AsyncConnection[Row]
Pool = AsyncConnectionPool[Connection]


class DatabaseError(ReliantError):
    """Postgres could not be reached or a statement failed."""


class DatabaseRefusedError(DatabaseError):
    """Postgres answers, and says no for good: a wrong password, an unknown user or database, a
    host it does not let in. Waiting changes nothing."""


class DatabaseUnavailableError(DatabaseError):
    """Postgres cannot be reached right now: down, restarting, or the connection was lost. Worth
    waiting out (nothing is wrong with the statement); `down_for` says for how long so far."""

    def __init__(self, message: str, *, down_for: float = 0.0) -> None:
        self.down_for = down_for
        super().__init__(message)


# SQLSTATEs of a server that is going away or not there yet: connection exceptions (class 08),
# admin_shutdown, crash_shutdown, cannot_connect_now (starting up or recovering).
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})

POOL_TIMEOUT = 10.0  # waiting for a connection while Postgres is up (the pool may just be busy)
# After this long without a connection, one is opened directly to see whether Postgres is there at
# all: if not, fail now (the caller waits the outage out) instead of after POOL_TIMEOUT.
POOL_PROBE_AFTER = 0.5
PROBE_TIMEOUT = 3  # seconds (whole: libpq's connect_timeout); a loaded machine can take a while to fork a backend
RECONNECT_TIMEOUT = 4.0


def unavailable(exc: BaseException) -> bool:
    """True if `exc` says Postgres is unreachable rather than that a statement failed."""
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES
    return False


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# When a connection that sat idle is taken from the pool, it is checked (one empty round trip): after
# Postgres restarts, the dead ones are replaced instead of failing the caller's statement. One used
# moments ago is not: on a busy pool the check would double the round trips.
CHECK_IDLE_AFTER = 1.0
_last_used: weakref.WeakKeyDictionary[Connection, float] = weakref.WeakKeyDictionary()


async def _check_if_idle(conn: Connection) -> None:
    if time.monotonic() - _last_used.get(conn, 0.0) >= CHECK_IDLE_AFTER:
        await AsyncConnectionPool.check_connection(conn)


# What Postgres answers that waiting will not change: the pool would retry it until its timeout and
# then say only that it timed out.
_REFUSALS = ("authentication failed", "no pg_hba.conf entry", "does not exist", "certificate verify failed")


async def _refusal(url: str) -> str:
    """Why Postgres refuses a connection for good (a wrong password, an unknown user or database,
    a host it does not let in), or "" when it accepts one or is only not there (yet)."""
    try:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=PROBE_TIMEOUT, autocommit=True)
    except psycopg.OperationalError as exc:
        return str(exc) if any(words in str(exc) for words in _REFUSALS) else ""
    await conn.close()
    return ""


async def _open_pool(url: str, name: str, min_size: int, max_size: int, timeout: float, **extra: str) -> Pool:
    refused = await _refusal(url)
    if refused:
        raise DatabaseRefusedError(f"cannot connect to Postgres at {_redact(url)}: {refused}")
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"row_factory": dict_row, "autocommit": True, **extra},
        name=name,
        check=_check_if_idle,
        timeout=POOL_TIMEOUT,
        # The pool retries a failed connection with doubling delays (1, 2, 4, ... s) until this
        # timeout, then gives up on it and connects afresh on the next demand: kept short, a
        # Postgres that comes back after a long outage is used within seconds, not a minute later.
        reconnect_timeout=RECONNECT_TIMEOUT,
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except Exception as exc:
        await pool.close()
        raise DatabaseError(f"cannot connect to Postgres at {_redact(url)}: {exc}") from exc
    except asyncio.CancelledError:  # a caller's bound (wait_for) ran out first: its tasks go too
        await pool.close()
        raise
    return pool


class Database:
    """A pool of connections to one database. Every commit waits for its WAL flush: what a client
    was shown survives a crash of Postgres."""

    def __init__(self, pool: Pool, url: str) -> None:
        self._pool = pool
        self.url = url
        self._down_since: float | None = None  # monotonic time of the first failure of an outage
        self._probing: asyncio.Future[None] | None = None
        self._probed_ok_at = 0.0

    @classmethod
    async def open(
        cls, url: str, *, min_size: int = 2, max_size: int = 20, timeout: float = 10.0, application_name: str = ""
    ) -> Database:
        """`application_name` names every session (as pg_stat_activity shows it)."""
        named = {"application_name": application_name} if application_name else {}
        return cls(await _open_pool(url, "reliant", min_size, max_size, timeout, **named), url)

    @property
    def display_url(self) -> str:
        return _redact(self.url)

    @property
    def reachable(self) -> bool:
        """False from a failure that says Postgres is unreachable until the next statement succeeds."""
        return self._down_since is None

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection. Losing Postgres, here or in the caller's statements, raises
        DatabaseUnavailableError."""
        pool = self._pool
        try:
            conn = await self._getconn(pool)
            try:
                yield conn
            finally:
                _last_used[conn] = time.monotonic()
                await pool.putconn(conn)
        except Exception as exc:
            if not unavailable(exc):
                raise
            now = time.monotonic()
            if self._down_since is None:
                self._down_since = now
                logger.warning("postgres is unreachable: %s", exc)
            raise DatabaseUnavailableError(
                f"postgres is unreachable at {self.display_url}: {exc}", down_for=now - self._down_since
            ) from exc
        if self._down_since is not None:
            logger.warning("postgres is reachable again after %.1fs", time.monotonic() - self._down_since)
            self._down_since = None

    async def _getconn(self, pool: Pool) -> Connection:
        """A connection from `pool`; fails within about a second when Postgres is not there."""
        try:
            return await pool.getconn(timeout=POOL_PROBE_AFTER)
        except PoolTimeout:
            await self._probe()
        return await pool.getconn(timeout=POOL_TIMEOUT - POOL_PROBE_AFTER)

    async def _probe(self) -> None:
        """Raise if a fresh connection to Postgres cannot be opened now. Callers waiting at the same
        time share one probe, and a success stands for a second: a busy pool costs one probe."""
        if time.monotonic() - self._probed_ok_at < 1.0:
            return
        if self._probing is None or self._probing.done():
            self._probing = asyncio.ensure_future(self._connect_once())
            # Its waiters may all be cancelled before it ends: its error is then nobody's.
            self._probing.add_done_callback(lambda f: f.cancelled() or f.exception())
        await asyncio.shield(self._probing)
        self._probed_ok_at = time.monotonic()

    async def _connect_once(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self.url, connect_timeout=PROBE_TIMEOUT, autocommit=True)
        await conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        async with self.connection() as conn:
            return await Tx(conn).execute(sql, params)

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        async with self.connection() as conn:
            return await Tx(conn).fetch(sql, params)

    async def fetchrow(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        async with self.connection() as conn:
            return await Tx(conn).fetchrow(sql, params)

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        """A transaction with the same query methods as the Database: pass it to query functions
        so that several of them commit together (one WAL flush instead of several)."""
        async with self.connection() as conn, conn.transaction():
            yield Tx(conn)

    async def ping(self) -> None:
        try:
            await self.fetchrow("SELECT 1")
        except (psycopg.Error, OSError) as exc:
            raise DatabaseError(f"Postgres did not answer: {exc}") from exc


# Postgres keeps no NUL character: a text value holding one is refused ("cannot contain NUL") and
# so is a jsonb value holding \u0000. What a model or a tool produced may hold one (a command that
# prints a NUL byte, arguments with \u0000 in them), so every value a statement is given is stored
# with U+FFFD, the replacement character, in place of each NUL: whoever reads it back (the model,
# the user) sees that a character was there, and no reader mistakes it for text the tool printed
# (as it could a backslash and a zero).
NUL_STAND_IN = "\ufffd"
# A \u0000 escape in JSON text: after an even number of backslashes (each pair is one backslash).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _storable_json(obj: Any) -> str:
    text = json.dumps(obj)
    return _NUL_ESCAPE.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\0", NUL_STAND_IN) if "\0" in value else value
    if isinstance(value, Jsonb):
        return Jsonb(value.obj, dumps=_storable_json)
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def storable(params: Sequence[Any] | dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
    """`params` with every NUL in their text and jsonb values replaced by NUL_STAND_IN."""
    if isinstance(params, dict):
        return {key: _storable(value) for key, value in params.items()}
    return [_storable(value) for value in params]


class Tx:
    """The query methods of Database, inside one open transaction. Every statement of reliant goes
    through them: its values are made storable here."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        cur = await self.conn.execute(sql, storable(params))
        return cur.rowcount

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        cur = await self.conn.execute(sql, storable(params))
        return await cur.fetchall()

    async def fetchrow(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        cur = await self.conn.execute(sql, storable(params))
        return await cur.fetchone()


class Queries(Protocol):
    """What query functions need: a Database (each call commits) or a Tx (commits together)."""

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int: ...
    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]: ...
    async def fetchrow(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None: ...
