"""The worker role: runs migrations, then a Temporal worker with reliant's workflows and activities."""

from __future__ import annotations

import asyncio
import logging

from temporalio.worker import Worker

from reliant import temporal
from reliant.bus import Bus, role_beacon
from reliant.config import Settings
from reliant.db import Database, migrate
from reliant.worker.activities import DoctorActivities
from reliant.worker.workflows import DoctorWorkflow

logger = logging.getLogger(__name__)


class WorkerRole:
    name = "worker"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def run(self, ready: asyncio.Event) -> None:
        s = self.settings
        db = await Database.open(s.database_url)
        try:
            applied = await migrate(db)
            if applied:
                logger.info("database migrated to version %d", applied[-1])
            bus = await Bus.connect(s.nats_url, s.nats_token, name="reliant-worker")
            try:
                client = await temporal.connect(s.temporal_address, s.temporal_namespace)
                doctor = DoctorActivities(bus, db)
                worker = Worker(
                    client,
                    task_queue=s.temporal_task_queue,
                    workflows=[DoctorWorkflow],
                    activities=[doctor.ping_daemon, doctor.record_doctor_run],
                )
                beacon = role_beacon(
                    bus, self.name, {"task_queue": s.temporal_task_queue}, s.heartbeat_interval
                )
                async with worker:
                    await beacon.start()
                    ready.set()
                    try:
                        await asyncio.Event().wait()
                    finally:
                        await beacon.shutdown()
            finally:
                await bus.close()
        finally:
            await db.close()
