"""Workflow definitions. Deterministic: no I/O, clocks, randomness or logging; activities do that."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from reliant.domain.workflows import DOCTOR_WORKFLOW, DoctorInput, DoctorResult
    from reliant.worker.activities import DoctorActivities, PingDaemonInput, RecordDoctorInput


@workflow.defn(name=DOCTOR_WORKFLOW)
class DoctorWorkflow:
    """Proves the whole chain: workflow -> activity -> NATS -> gateway -> daemon `ping` -> back."""

    @workflow.run
    async def run(self, inp: DoctorInput) -> DoctorResult:
        pings = await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    DoctorActivities.ping_daemon,
                    PingDaemonInput(daemon_id, inp.timeout_seconds),
                    start_to_close_timeout=timedelta(seconds=inp.timeout_seconds + 5),
                    retry_policy=RetryPolicy(maximum_attempts=2),
                )
                for daemon_id in inp.daemon_ids
            )
        )
        await workflow.execute_activity_method(
            DoctorActivities.record_doctor_run,
            RecordDoctorInput(workflow.info().workflow_id, list(pings)),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        return DoctorResult(pings=list(pings))
