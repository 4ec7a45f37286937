"""The worker role: runs migrations, then a Temporal worker with reliant's workflows and activities."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from reliant import __version__
from reliant.bus import Bus, role_beacon
from reliant.clients import temporal
from reliant.clients.bus_connection import connect_bus
from reliant.clients.codec_record import verify_codec_key
from reliant.clients.daemons import ToolCatalog
from reliant.clients.providers import ProviderPool, own_providers
from reliant.clients.update_log import UpdateLog
from reliant.config import Settings
from reliant.db import Database, migrate
from reliant.db.attempts import application_name
from reliant.llm.demo import demo_project_path
from reliant.worker.activities.agents import AgentActivities
from reliant.worker.activities.compaction import CompactionActivities
from reliant.worker.activities.doctor import DoctorActivities
from reliant.worker.activities.gates import GateActivities
from reliant.worker.activities.llm import LlmActivities
from reliant.worker.activities.nodes import NodeActivities
from reliant.worker.activities.runs import RunActivities
from reliant.worker.activities.tools import ToolActivities
from reliant.worker.activities.worktree_runs import WorktreeRunActivities
from reliant.worker.attempts import AttemptLedger, fail_attempts_of_dead_workers, new_incarnation
from reliant.worker.budget import Spending
from reliant.worker.chat_context import ChatContexts
from reliant.worker.chat_workflow import ChatWorkflow
from reliant.worker.failure_redaction import RedactingInterceptor
from reliant.worker.infrastructure import InfrastructureErrors
from reliant.worker.recorder import ProcessRecorder
from reliant.worker.run_workflow import WorkflowRun
from reliant.worker.sandbox import workflow_runner
from reliant.worker.watcher import DaemonWatcher
from reliant.worker.workflows import AgentWorkflow, DoctorWorkflow

logger = logging.getLogger(__name__)


WORKFLOWS: tuple[type, ...] = (
    DoctorWorkflow,
    # AgentWorkflow stays for chats started before workflows ran them: it hands each over to
    # ChatWorkflow at its next message.
    AgentWorkflow,
    ChatWorkflow,
    WorkflowRun,
)


# How long a workflow task waits on the queue of the worker that ran the workflow last (its cache
# holds the workflow) before any worker may take it. A worker that is killed leaves its workflows'
# next tasks there: the SDK's 10s was a chat's whole stall after a worker died. A live worker
# polls its queue at once, so a few seconds cost it nothing.
STICKY_FAILOVER = timedelta(seconds=3)


def worker_tuning() -> dict[str, Any]:
    """The Worker options of the worker role beyond what it runs: how it runs workflow code, how
    often heartbeats go out, how soon a dead worker's workflows move on."""
    return {
        "workflow_runner": workflow_runner(),
        # Heartbeat at least every half second: a cancel reaches a running call that fast.
        "max_heartbeat_throttle_interval": timedelta(milliseconds=500),
        "default_heartbeat_throttle_interval": timedelta(milliseconds=500),
        "sticky_queue_schedule_to_start_timeout": STICKY_FAILOVER,
    }


class WorkerRole:
    name = "worker"

    def __init__(self, settings: Settings, *, workflows: Sequence[type] = WORKFLOWS) -> None:
        """`workflows`: the workflow classes it runs (tests give an older release's, to make chats
        the way that release left them)."""
        self.settings = settings
        self.workflows = list(workflows)
        # What a supervisor allows for a graceful stop: running activities get
        # settings.worker_shutdown_grace to finish before they are cancelled.
        self.stop_timeout = settings.worker_shutdown_grace + 5.0
        self._services: tuple[Database, Bus] | None = None  # once polling: what `probe` asks

    async def probe(self) -> bool:
        """Readiness (the probe listener's /ready): polling, and Postgres and NATS answer."""
        if self._services is None:
            return False
        db, bus = self._services
        await db.ping()
        return bus.connected

    async def run(self, ready: asyncio.Event) -> None:
        s = self.settings
        incarnation = new_incarnation()
        db = await Database.open(s.database_url, application_name=application_name(incarnation))
        providers = ProviderPool(db, s)
        try:
            applied = await migrate(db)
            if applied:
                logger.info("database migrated to version %d", applied[-1])
            await verify_codec_key(db, s, temporal.codec_key(s))
            bus = await connect_bus(s, "reliant-worker")
            try:
                client = await temporal.connect(s)
                # Before polling: the retries of a dead worker's attempts are then the first tasks.
                await fail_attempts_of_dead_workers(db, client, incarnation)
                ledger = AttemptLedger(db, incarnation)
                log = UpdateLog(db, bus)
                doctor = DoctorActivities(bus, db)
                catalog = ToolCatalog(bus)
                spending = Spending(
                    db, providers, chat_budget=s.budget_chat_usd, project_day_budget=s.budget_project_day_usd
                )
                tools = ToolActivities(db, bus, log)
                llm = LlmActivities(
                    db,
                    log,
                    providers,
                    catalog,
                    ChatContexts(db, bus, log),
                    thinking_budget=s.thinking_budget,
                    data_dir=s.data_dir,
                    spending=spending,
                    reads=tools,
                )
                gates = GateActivities(db, log)
                runs = RunActivities(db, bus, log, demo_project=str(demo_project_path(s.data_dir)))
                nodes = NodeActivities(db, log, tools)
                compaction = CompactionActivities(db, log, providers, data_dir=s.data_dir, spending=spending)
                agents = AgentActivities(db, bus, log, providers, s.agent_limits())
                worktree_runs = WorktreeRunActivities(agents)
                # The providers its own environment can call: an api without those keys takes
                # their models (a split install may give the keys to the workers alone).
                presence_detail = {"task_queue": s.temporal_task_queue, "providers": ",".join(own_providers(s))}
                worker = Worker(
                    client,
                    task_queue=s.temporal_task_queue,
                    workflows=self.workflows,
                    activities=[
                        doctor.ping_daemon,
                        doctor.record_doctor_run,
                        llm.call_llm,
                        tools.execute_tool,
                        tools.finish_turn,
                        gates.request_approval,
                        gates.request_question,
                        runs.open_run,
                        runs.finish_run,
                        runs.open_thread,
                        runs.emit_notes,
                        nodes.run_command,
                        nodes.ask_node_approval,
                        nodes.answer_node_approval,
                        nodes.save_message,
                        compaction.compact_thread,
                        agents.begin_agent_tool,
                        agents.finish_agent_tool,
                        agents.agent_statuses,
                        agents.abandon_spawn,
                        worktree_runs.begin_runs,
                        worktree_runs.report_runs,
                        worktree_runs.settle_worktrees,
                    ],
                    # Outermost first: no secret of an error chain reaches history, whatever the
                    # inner interceptors made of the failure.
                    interceptors=[RedactingInterceptor(), ledger, InfrastructureErrors(bus, log, presence_detail)],
                    max_concurrent_activities=200,
                    graceful_shutdown_timeout=timedelta(seconds=s.worker_shutdown_grace),
                    **worker_tuning(),
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
                    self._services = (db, bus)
                    await watcher.start()
                    await recorder.start()
                    await catalog.start()
                    await beacon.start()
                    ready.set()
                    try:
                        await asyncio.Event().wait()
                    finally:
                        self._services = None
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
