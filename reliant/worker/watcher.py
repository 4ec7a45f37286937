"""Resumes chats that paused because their daemon was offline, as soon as it is back, and stops
there what a cancel could not while it was away (`stops.pay`).

Two events lead here: a daemon coming online (its paused chats are resumed), and a chat pausing for
an offline daemon (published once the pause is committed). The second closes the race where the
daemon came back between the failed call and the pause: then its online event found nothing to
resume, so the daemon is asked directly and, if it answers, the chat is resumed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from reliant.bus import Bus, Incoming, subjects
from reliant.clients import stops
from reliant.clients.daemons import control
from reliant.db import Database
from reliant.db import chats as chats_db
from reliant.db import owed_stops as owed_stops_db
from reliant.domain.workflows import SIGNAL_RESUME, agent_workflow_id
from reliant.errors import DaemonUnavailableError

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0


class DaemonWatcher:
    def __init__(self, bus: Bus, db: Database, client: Client) -> None:
        self._bus = bus
        self._db = db
        self._client = client
        self._subscriptions: list[Any] = []
        self._paying: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Queue groups: with several workers, one of them handles each event.
        self._subscriptions = [
            await self._bus.subscribe(subjects.ALL_DAEMONS_ONLINE, self._on_presence, queue="reliant-worker-presence"),
            await self._bus.subscribe(subjects.DAEMON_AWAITED, self._on_awaited, queue="reliant-worker-presence"),
        ]
        # A daemon that came back while no worker listened: what it is owed is stopped now.
        self._paying = asyncio.create_task(self._pay_all(), name="owed-stops")

    async def _on_presence(self, msg: Incoming) -> None:
        try:
            online = bool(json.loads(msg.data).get("online"))
        except (ValueError, AttributeError):
            return
        if online:
            daemon_id = subjects.daemon_of(msg.subject)
            await self._pay(daemon_id)
            await self._resume(daemon_id)

    async def _on_awaited(self, msg: Incoming) -> None:
        try:
            chat_id = str(json.loads(msg.data)["chat_id"])
        except (ValueError, KeyError, TypeError):
            return
        daemon_id = await chats_db.daemon_awaited(self._db, chat_id)
        if daemon_id is None:
            return
        try:
            await control(self._bus, daemon_id, "workspace.list", {}, timeout=PROBE_TIMEOUT)
        except DaemonUnavailableError:
            return  # still offline: its online event will resume the chat
        await self._resume(daemon_id)

    async def _resume(self, daemon_id: str) -> None:
        for chat_id in await chats_db.paused_waiting_for(self._db, daemon_id):
            try:
                await self._client.get_workflow_handle(agent_workflow_id(chat_id)).signal(SIGNAL_RESUME, chat_id)
                logger.info("daemon %s is back: resuming chat %s", daemon_id, chat_id)
            except RPCError as exc:
                logger.warning("could not resume chat %s: %s", chat_id, exc)

    async def _pay(self, daemon_id: str) -> None:
        try:
            await stops.pay(self._bus, self._db, daemon_id)
        except Exception:  # Postgres away, say: the next online event tries again
            logger.warning("daemon %s: could not stop what it is owed", daemon_id, exc_info=True)

    async def _pay_all(self) -> None:
        try:
            owed = await owed_stops_db.daemons(self._db)
        except Exception:
            logger.warning("could not read the stops owed to daemons", exc_info=True)
            return
        for daemon_id in owed:
            await self._pay(daemon_id)

    async def shutdown(self) -> None:
        if self._paying is not None:
            self._paying.cancel()
            await asyncio.gather(self._paying, return_exceptions=True)
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions = []
