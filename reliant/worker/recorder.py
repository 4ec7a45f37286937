"""Records what daemons report about their background processes in Postgres.

The daemon never touches the database: it publishes `proc.state` events as processes start, change
ports and exit, and a `proc.sync` whenever it (re)connects to a gateway, listing every process of
its current run. A sync from a new run means the daemon restarted: whatever the database still holds
as running from an earlier run died with it (the lifeline), so it is marked lost. A queue group makes
one worker handle each event when several run.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from reliant.bus import Bus, Incoming, subjects
from reliant.db import Database
from reliant.db import processes as processes_db
from reliant.wire import daemon_events

logger = logging.getLogger(__name__)

QUEUE = "reliant-worker-recorder"


class ProcessRecorder:
    def __init__(self, bus: Bus, db: Database) -> None:
        self._bus = bus
        self._db = db
        self._subscriptions: list[Any] = []

    async def start(self) -> None:
        for suffix, handler in ((daemon_events.PROC_STATE, self._on_state), (daemon_events.PROC_SYNC, self._on_sync)):
            self._subscriptions.append(
                await self._bus.subscribe(subjects.all_daemon_events(suffix), handler, queue=QUEUE)
            )

    async def shutdown(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    @staticmethod
    def _parse(msg: Incoming) -> dict[str, Any] | None:
        try:
            doc = json.loads(msg.data)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) and isinstance(doc.get("boot_id"), str) else None

    async def _on_state(self, msg: Incoming) -> None:
        doc = self._parse(msg)
        process = doc.get("process") if doc else None
        if doc is None or not isinstance(process, dict) or not process.get("id"):
            return
        try:
            await processes_db.record(self._db, subjects.daemon_of(msg.subject), doc["boot_id"], process)
        except Exception:
            logger.exception("could not record process event from %s", msg.subject)

    async def _on_sync(self, msg: Incoming) -> None:
        doc = self._parse(msg)
        if doc is None:
            return
        daemon_id = subjects.daemon_of(msg.subject)
        try:
            for process in doc.get("processes") or []:
                if isinstance(process, dict) and process.get("id"):
                    await processes_db.record(self._db, daemon_id, doc["boot_id"], process)
            lost = await processes_db.mark_lost(self._db, daemon_id, doc["boot_id"])
        except Exception:
            logger.exception("could not record the process list of daemon %s", daemon_id)
            return
        if lost:
            logger.info("daemon %s restarted: %d background processes marked lost", daemon_id, len(lost))
