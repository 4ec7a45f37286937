"""The diagnostic workflow end to end in one process: Temporal, worker, NATS, gateway, daemon, Postgres."""

from __future__ import annotations

import uuid

import pytest
from temporalio.worker import Replayer

from embedded.ports import free_port
from reliant.clients import temporal
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.db import Database
from reliant.db import doctor as doctor_db
from reliant.domain.workflows import DOCTOR_WORKFLOW, DoctorInput, DoctorResult
from reliant.gateway.role import GatewayRole
from reliant.worker.role import WorkerRole
from reliant.worker.workflows import DoctorWorkflow
from tests.conftest import Infra
from tests.support import RoleRunner


@pytest.fixture
def settings(infra: Infra) -> Settings:
    port = free_port()
    return Settings(
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        temporal_task_queue=f"test-{uuid.uuid4().hex[:8]}",
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
    )


async def test_doctor_pings_the_daemon_through_every_hop_and_records_it(settings: Settings) -> None:
    async with (
        RoleRunner(WorkerRole(settings)),
        RoleRunner(GatewayRole(settings)),
        RoleRunner(DaemonRole(settings)),
    ):
        client = await temporal.connect(settings)
        workflow_id = f"doctor-test-{uuid.uuid4().hex[:8]}"
        handle = await client.start_workflow(
            DOCTOR_WORKFLOW,
            DoctorInput(daemon_ids=[settings.daemon_id, "d-not-connected"], timeout_seconds=2),
            id=workflow_id,
            task_queue=settings.temporal_task_queue,
            result_type=DoctorResult,
        )
        result = await handle.result()
        good, bad = result.pings
        assert good.ok and good.daemon_id == settings.daemon_id
        assert good.activity_rtt_ms >= good.gateway_ms >= good.tool_ms > 0
        assert not bad.ok and "not connected" in bad.error

        db = await Database.open(settings.database_url, min_size=1)
        try:
            rows = [r for r in await doctor_db.recent(db, 50) if r["workflow_id"] == workflow_id]
        finally:
            await db.close()
        assert {(r["daemon_id"], r["ok"]) for r in rows} == {
            (settings.daemon_id, True),
            ("d-not-connected", False),
        }

        # The recorded history replays deterministically against the current workflow code.
        history = await handle.fetch_history()
        await Replayer(workflows=[DoctorWorkflow], data_converter=client.data_converter).replay_workflow(history)
