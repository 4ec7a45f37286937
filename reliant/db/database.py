"""The connection pool and small query helpers. The only place psycopg is imported (with db/*)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reliant.errors import ReliantError

logger = logging.getLogger(__name__)

Row = dict[str, Any]
Connection = psycopg.AsyncConnection[Row]
Pool = AsyncConnectionPool[Connection]


class DatabaseError(ReliantError):
    """Postgres could not be reached or a statement failed."""


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


async def _open_pool(url: str, name: str, min_size: int, max_size: int, timeout: float) -> Pool:
    pool: Pool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"row_factory": dict_row, "autocommit": True},
        name=name,
    )
    try:
        await pool.open(wait=True, timeout=timeout)
    except Exception as exc:
        await pool.close()
        raise DatabaseError(f"cannot connect to Postgres at {_redact(url)}: {exc}") from exc
    return pool


class Database:
    """A pool of connections to one database. Every commit waits for its WAL flush: what a client
    was shown survives a crash of Postgres."""

    def __init__(self, pool: Pool, url: str) -> None:
        self._pool = pool
        self.url = url

    @classmethod
    async def open(cls, url: str, *, min_size: int = 2, max_size: int = 20, timeout: float = 10.0) -> Database:
        return cls(await _open_pool(url, "reliant", min_size, max_size, timeout), url)

    @property
    def display_url(self) -> str:
        return _redact(self.url)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self._pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchall()

    async def fetchrow(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(sql, params)
            return await cur.fetchone()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        """A transaction with the same query methods as the Database: pass it to query functions
        so that several of them commit together (one WAL flush instead of several)."""
        async with self._pool.connection() as conn, conn.transaction():
            yield Tx(conn)

    async def ping(self) -> None:
        try:
            await self.fetchrow("SELECT 1")
        except (psycopg.Error, OSError) as exc:
            raise DatabaseError(f"Postgres did not answer: {exc}") from exc


class Tx:
    """The query methods of Database, inside one open transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        cur = await self.conn.execute(sql, params)
        return cur.rowcount

    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        cur = await self.conn.execute(sql, params)
        return await cur.fetchall()

    async def fetchrow(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None:
        cur = await self.conn.execute(sql, params)
        return await cur.fetchone()


class Queries(Protocol):
    """What query functions need: a Database (each call commits) or a Tx (commits together)."""

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int: ...
    async def fetch(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]: ...
    async def fetchrow(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Row | None: ...
