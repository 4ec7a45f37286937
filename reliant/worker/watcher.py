"""Resumes chats that paused because their daemon was offline, as soon as it is back."""

from __future__ import annotations

import json
import logging

from temporalio.client import Client
from temporalio.service import RPCError

from reliant.bus import Bus, Incoming, subjects
from reliant.db import Database
from reliant.db import chats as chats_db
from reliant.domain.workflows import SIGNAL_RESUME, agent_workflow_id

logger = logging.getLogger(__name__)


class DaemonWatcher:
    def __init__(self, bus: Bus, db: Database, client: Client) -> None:
        self._bus = bus
        self._db = db
        self._client = client
        self._subscription: object | None = None

    async def start(self) -> None:
        # A queue group: with several workers, one of them handles each event.
        self._subscription = await self._bus.subscribe(
            subjects.ALL_DAEMONS_ONLINE, self._on_presence, queue="reliant-worker-presence"
        )

    async def _on_presence(self, msg: Incoming) -> None:
        try:
            online = bool(json.loads(msg.data).get("online"))
        except (ValueError, AttributeError):
            return
        if not online:
            return
        daemon_id = subjects.daemon_of(msg.subject)
        for chat_id in await chats_db.paused_waiting_for(self._db, daemon_id):
            try:
                await self._client.get_workflow_handle(agent_workflow_id(chat_id)).signal(SIGNAL_RESUME, chat_id)
                logger.info("daemon %s is back: resuming chat %s", daemon_id, chat_id)
            except RPCError as exc:
                logger.warning("could not resume chat %s: %s", chat_id, exc)

    async def shutdown(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()  # type: ignore[attr-defined]
            self._subscription = None
