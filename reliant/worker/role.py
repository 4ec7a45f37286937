"""The worker role: runs migrations, then a Temporal worker with reliant's workflows and activities."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from reliant import __version__
from reliant.bus import role_beacon
from reliant.clients import temporal
from reliant.clients.bus_connection import connect_bus
from reliant.clients.daemons import ToolCatalog
from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import UpdateLog
from reliant.config import Settings
from reliant.db import Database, migrate
from reliant.db.attempts import application_name
from reliant.llm.demo import demo_project_path
from reliant.worker.activities.doctor import DoctorActivities
from reliant.worker.activities.gates import GateActivities
from reliant.worker.activities.llm import LlmActivities
from reliant.worker.activities.tools import ToolActivities
from reliant.worker.attempts import AttemptLedger, fail_attempts_of_dead_workers, new_incarnation
from reliant.worker.chat_context import ChatContexts
from reliant.worker.failure_redaction import RedactingInterceptor
from reliant.worker.infrastructure import InfrastructureErrors
from reliant.worker.recorder import ProcessRecorder
from reliant.worker.watcher import DaemonWatcher
from reliant.worker.workflows import AgentWorkflow, DoctorWorkflow

logger = logging.getLogger(__name__)


class WorkerRole:
    name = "worker"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # What a supervisor allows for a graceful stop: running activities get
        # settings.worker_shutdown_grace to finish before they are cancelled.
        self.stop_timeout = settings.worker_shutdown_grace + 5.0

    async def run(self, ready: asyncio.Event) -> None:
        s = self.settings
        incarnation = new_incarnation()
        db = await Database.open(s.database_url, application_name=application_name(incarnation))
        providers = ProviderPool(db, s)
        try:
            applied = await migrate(db)
            if applied:
                logger.info("database migrated to version %d", applied[-1])
            bus = await connect_bus(s, "reliant-worker")
            try:
                client = await temporal.connect(s)
                # Before polling: the retries of a dead worker's attempts are then the first tasks.
                await fail_attempts_of_dead_workers(db, client, incarnation)
                ledger = AttemptLedger(db, incarnation)
                log = UpdateLog(db, bus)
                doctor = DoctorActivities(bus, db)
                catalog = ToolCatalog(bus)
                llm = LlmActivities(
                    db,
                    log,
                    providers,
                    catalog,
                    ChatContexts(db, bus, log),
                    thinking_budget=s.thinking_budget,
                    demo_project=str(demo_project_path(s.data_dir)),
                    data_dir=s.data_dir,
                )
                tools = ToolActivities(db, bus, log)
                gates = GateActivities(db, log)
                presence_detail = {"task_queue": s.temporal_task_queue}
                worker = Worker(
                    client,
                    task_queue=s.temporal_task_queue,
                    workflows=[DoctorWorkflow, AgentWorkflow],
                    activities=[
                        doctor.ping_daemon,
                        doctor.record_doctor_run,
                        llm.call_llm,
                        tools.execute_tool,
                        tools.finish_turn,
                        gates.request_approval,
                        gates.request_question,
                    ],
                    # Outermost first: no secret of an error chain reaches history, whatever the
                    # inner interceptors made of the failure.
                    interceptors=[RedactingInterceptor(), ledger, InfrastructureErrors(bus, log, presence_detail)],
                    max_concurrent_activities=200,
                    graceful_shutdown_timeout=timedelta(seconds=s.worker_shutdown_grace),
                    # Heartbeat at least every half second: a cancel reaches a running call that fast.
                    max_heartbeat_throttle_interval=timedelta(milliseconds=500),
                    default_heartbeat_throttle_interval=timedelta(milliseconds=500),
                    # Name the code's version: left unset, the SDK derives one by hashing the bytecode
                    # of every loaded module, a quarter of a second of CPU on every start.
                    deployment_config=WorkerDeploymentConfig(
                        version=WorkerDeploymentVersion("reliant", __version__), use_worker_versioning=False
                    ),
                )
                watcher = DaemonWatcher(bus, db, client)
                recorder = ProcessRecorder(bus, db)
                beacon = role_beacon(bus, self.name, presence_detail, s.heartbeat_interval)
                async with worker:
                    await watcher.start()
                    await recorder.start()
                    await catalog.start()
                    await beacon.start()
                    ready.set()
                    try:
                        await asyncio.Event().wait()
                    finally:
                        await beacon.shutdown()
                        await catalog.shutdown()
                        await recorder.shutdown()
                        await watcher.shutdown()
                await ledger.shutdown()
            finally:
                await bus.close()
        finally:
            await providers.close()
            await db.close()
