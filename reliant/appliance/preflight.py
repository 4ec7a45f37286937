"""Before a split role starts: reach each service it needs within `connect_timeout` seconds, or
fail with one line naming what could not be reached, where, and why — never hang at start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from reliant.bus import Bus
from reliant.clients import temporal
from reliant.clients.bus_connection import nats_auth
from reliant.clients.temporal_namespace import NamespaceError, ensure_namespace
from reliant.config import Settings
from reliant.db import Database, DatabaseRefusedError
from reliant.errors import ConfigError, ReliantError

logger = logging.getLogger(__name__)

RETRY_EVERY = 0.5
NEEDS = {"api": ("postgres", "nats", "temporal"), "worker": ("postgres", "nats", "temporal"), "gateway": ("nats",)}


class UnreachableError(ReliantError):
    """One or more services could not be reached in time; `failures` maps each to its reason."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        super().__init__("; ".join(failures.values()))


async def preflight(settings: Settings, roles: Sequence[str], *, create_namespace: bool = False) -> None:
    """Raise UnreachableError unless every service `roles` need answers (and the namespace exists)."""
    needed = sorted({service for role in roles for service in NEEDS.get(role, ())})
    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "postgres": lambda: _postgres(settings),
        "nats": lambda: _nats(settings),
        "temporal": lambda: _temporal(settings, create_namespace),
    }
    results = await asyncio.gather(*(_bounded(name, checks[name], settings) for name in needed))
    failures = {name: reason for name, reason in zip(needed, results, strict=True) if reason}
    if failures:
        raise UnreachableError(failures)


def _where(name: str, settings: Settings) -> str:
    if name == "postgres":
        parts = urlsplit(settings.database_url)
        return f"{parts.hostname}:{parts.port or 5432}" if parts.hostname else "(database_url)"
    if name == "nats":
        return settings.nats_url
    return settings.temporal_address


async def _bounded(name: str, check: Callable[[], Awaitable[None]], settings: Settings) -> str:
    """'' when the check passed, else one line naming the service and where it was looked for. A
    service that is not there yet (starting too) is tried again until the time is up."""
    limit = settings.connect_timeout or 30.0
    what = {"postgres": "Postgres", "nats": "NATS", "temporal": "Temporal"}[name]
    deadline = time.monotonic() + limit
    last = ""
    while True:
        try:
            await asyncio.wait_for(check(), max(0.5, deadline - time.monotonic()))
            return ""
        except (NamespaceError, ConfigError, DatabaseRefusedError) as exc:
            return str(exc)  # an answer, not an outage: waiting changes nothing
        except TimeoutError:
            last = ""
        except ReliantError as exc:
            last = str(exc)
            if _refusal(last):
                return last
        except Exception as exc:  # noqa: BLE001 - any failure to reach a service is reported, not a traceback
            last = f"cannot reach {what} at {_where(name, settings)}: {exc or type(exc).__name__}"
            if _refusal(last):
                return last
        if time.monotonic() + RETRY_EVERY >= deadline:
            break
        await asyncio.sleep(RETRY_EVERY)
    if last:
        return f"{last} (for {limit:g}s)"
    return f"cannot reach {what} at {_where(name, settings)} within {limit:g}s{await _diagnose(name, settings)}"


_REFUSALS = ("certificate", "[ssl", "handshake", "authoriz", "authentic", "permission", "unknownissuer", "password")


def _refusal(message: str) -> bool:
    """Whether a failure is the service refusing us (credentials, certificates), not an outage:
    waiting cannot help."""
    lowered = message.lower()
    return any(word in lowered for word in _REFUSALS)


async def _diagnose(name: str, settings: Settings) -> str:
    """Why a service did not answer in time: nothing listens, or it listens but the handshake stalls."""
    target = _where(name, settings)
    parts = urlsplit(target if "://" in target else f"tcp://{target}")
    if not parts.hostname or not parts.port:
        return ""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), 2.0)
    except (OSError, TimeoutError) as exc:
        return f" ({getattr(exc, 'strerror', None) or 'no answer to a TCP connect'})"
    writer.close()
    return " (it accepts TCP connections, but did not complete the handshake: check its credentials and TLS)"


async def _postgres(settings: Settings) -> None:
    db = await Database.open(settings.database_url, min_size=1, max_size=1, timeout=settings.connect_timeout or 30.0)
    await db.close()


async def _nats(settings: Settings) -> None:
    await Bus.probe(settings.nats_url, nats_auth(settings), timeout=min(5.0, settings.connect_timeout or 30.0))


async def _temporal(settings: Settings, create_namespace: bool) -> None:
    client = await temporal.connect(settings)
    made = await ensure_namespace(
        client,
        settings.temporal_namespace,
        settings.temporal_address,
        create=create_namespace,
        wait=settings.connect_timeout or 30.0,
    )
    if made:
        logger.warning("created the Temporal namespace %r", settings.temporal_namespace)
