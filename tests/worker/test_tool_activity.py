"""execute_tool against a real gateway and daemon (in this process), NATS and Postgres, run the way
Temporal runs it (ActivityEnvironment): what is recorded when a request never reached the daemon,
when the gateway refuses it for a stream it no longer holds, when two attempts attach to one running
call, when the daemon run a call went to is gone, when the activity is cancelled by a user or by
anything else, and when the daemon refuses a project's step because its files are not trusted now."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.activity import ActivityCancellationDetails
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from embedded.ports import free_port
from reliant.bus import Bus
from reliant.clients.daemons import control
from reliant.clients.tool_delivery import ToolDelivery
from reliant.clients.update_log import UpdateLog
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.db import Database
from reliant.db import chats as chats_db
from reliant.db import projects as projects_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import updates as updates_db
from reliant.domain.chat import ToolRun, ToolState
from reliant.gateway.role import GatewayRole
from reliant.worker.activities.tools import ToolActivities
from reliant.worker.activities.types import (
    DAEMON_OFFLINE,
    PROJECT_UNTRUSTED,
    TOOL_DETACHED,
    ExecuteToolInput,
    ExecuteToolResult,
)
from tests.conftest import Infra
from tests.support import RoleRunner, eventually, pid_alive


@dataclass
class Setup:
    settings: Settings
    db: Database
    bus: Bus
    workspace: Path
    activities: ToolActivities
    gateway: GatewayRole

    def daemon(self) -> RoleRunner:
        return RoleRunner(DaemonRole(self.settings))

    async def call(self, command: str, *, read_only: bool = False) -> ExecuteToolInput:
        """A chat with one planned shell call."""
        project = await projects_db.create(
            self.db, name="p", daemon_id=self.settings.daemon_id, path=str(self.workspace)
        )
        chat = await chats_db.create(self.db, project_id=project.id, model="scripted:demo")
        ident = f"t-{uuid.uuid4().hex[:6]}"
        planned = tool_runs_db.PlannedCall(ident, "shell", {"command": command}, read_only, 0)
        await tool_runs_db.plan(self.db, chat.id, 1, [planned])
        return ExecuteToolInput(chat_id=chat.id, turn=1, tool_call_id=ident)

    async def run(self, inp: ExecuteToolInput, env: ActivityEnvironment | None = None) -> ExecuteToolResult:
        result: ExecuteToolResult = await (env or ActivityEnvironment()).run(self.activities.execute_tool, inp)
        return result

    async def record(self, inp: ExecuteToolInput) -> ToolRun:
        run = await tool_runs_db.get(self.db, inp.chat_id, inp.tool_call_id)
        assert run is not None
        return run

    async def pid_of_tool(self) -> int:
        """The pid the tool's shell wrote to ./pid."""
        path = self.workspace / "pid"
        return int(await eventually(lambda: path.exists() and path.read_text().strip()))

    async def finishes(self, inp: ExecuteToolInput) -> int:
        updates = await updates_db.since(self.db, inp.chat_id, 0, 1000)
        return sum(1 for u in updates if u.kind == "tool_finished")


@pytest.fixture
async def setup(infra: Infra, migrated_db: Database, tmp_path: Path) -> AsyncIterator[Setup]:
    port = free_port()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = Settings(
        data_dir=tmp_path / "daemon-data",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        daemon_workspaces=(workspace,),
        heartbeat_interval=0.2,
        heartbeat_timeout=1.0,
    )
    bus = await Bus.connect(infra.nats_url, infra.nats_token)
    delivery = ToolDelivery(bus, poll_wait=0.5, reply_margin=1.0, offline_grace=1.0)
    activities = ToolActivities(migrated_db, bus, UpdateLog(migrated_db, bus), delivery)
    try:
        async with RoleRunner(GatewayRole(settings)) as gateway:
            yield Setup(settings, migrated_db, bus, workspace, activities, gateway.role)  # type: ignore[arg-type]
    finally:
        await bus.close()


async def test_a_call_that_never_reached_the_daemon_stays_pending_and_runs_once_it_is_back(setup: Setup) -> None:
    inp = await setup.call("echo ran >> effects.log; echo ok")
    with pytest.raises(ApplicationError) as raised:
        await setup.run(inp)  # the gateway is up, the daemon is not: no responders
    assert raised.value.type == DAEMON_OFFLINE and raised.value.non_retryable
    run = await setup.record(inp)
    assert run.state is ToolState.PENDING, "provably never sent: pending, not executing"
    async with setup.daemon():
        result = await setup.run(inp)
    assert (result.state, result.replayed) == ("completed", False)
    run = await setup.record(inp)
    assert run.state is ToolState.COMPLETED and "ok" in run.output
    assert (setup.workspace / "effects.log").read_text() == "ran\n"


async def test_the_gateway_refusing_a_request_for_a_stream_it_no_longer_holds_says_so_and_leaves_it_pending(
    setup: Setup,
) -> None:
    inp = await setup.call("echo ran >> effects.log")
    daemon_id = setup.settings.daemon_id
    servicer = setup.gateway.servicer
    assert servicer is not None
    async with setup.daemon() as daemon:
        session = await eventually(lambda: servicer.sessions.get(daemon_id))
        # The gateway's cleanup of a stream waits here, before it drops the daemon's subscription:
        # the moment between the stream's end and its cleanup, held open.
        async with servicer._registry_lock(daemon_id):
            await daemon.stop()
            await eventually(session.closed.is_set)
            with pytest.raises(ApplicationError) as raised:
                await setup.run(inp)
    expected = f"daemon {daemon_id} is offline: the gateway no longer holds its connection (daemon-not-connected-here)"
    assert (raised.value.message, raised.value.type) == (expected, DAEMON_OFFLINE)
    assert (await setup.record(inp)).state is ToolState.PENDING, "refused, so provably never sent"
    assert not (setup.workspace / "effects.log").exists()


async def test_two_attempts_attaching_to_one_running_call_record_one_result(setup: Setup) -> None:
    inp = await setup.call("echo ran >> effects.log; sleep 1.5; echo ok")
    async with setup.daemon():
        first = asyncio.create_task(setup.run(inp))
        await eventually((setup.workspace / "effects.log").exists)
        assert (await setup.record(inp)).state is ToolState.EXECUTING
        # A retry (the first attempt's heartbeat timed out, say) while the call still runs.
        second = await setup.run(inp)
        first_result = await first
    assert first_result.state == second.state == "completed"
    assert (await setup.record(inp)).output.strip().endswith("ok")
    assert await setup.finishes(inp) == 1, "one result, one tool_finished update"
    assert (setup.workspace / "effects.log").read_text() == "ran\n"


async def test_a_call_sent_to_a_daemon_run_that_is_gone_is_reported_interrupted_saying_why(setup: Setup) -> None:
    inp = await setup.call("echo ran >> effects.log")
    await tool_runs_db.begin(setup.db, inp.chat_id, inp.tool_call_id, daemon_boot="a-run-before-a-restart")
    async with setup.daemon():
        result = await setup.run(inp)
    assert result.state == "interrupted"
    run = await setup.record(inp)
    assert run.error.startswith("the daemon restarted while this tool was running")
    assert not (setup.workspace / "effects.log").exists(), "never run again"


async def test_a_call_recorded_as_sent_that_never_reached_its_daemon_run_is_sent(setup: Setup) -> None:
    inp = await setup.call("echo ran >> effects.log")
    async with setup.daemon() as daemon:
        boot = daemon.role.host.boot_id  # type: ignore[attr-defined]
        # The worker died between recording the call and sending it to this very daemon run.
        await tool_runs_db.begin(setup.db, inp.chat_id, inp.tool_call_id, daemon_boot=boot)
        result = await setup.run(inp)
    assert result.state == "completed"
    assert (setup.workspace / "effects.log").read_text() == "ran\n"


@pytest.mark.parametrize(
    "details",
    [ActivityCancellationDetails(worker_shutdown=True), ActivityCancellationDetails(timed_out=True)],
    ids=["worker shutdown", "heartbeat timeout"],
)
async def test_a_cancel_not_asked_by_the_user_leaves_the_tool_running_for_the_retry(
    setup: Setup, details: ActivityCancellationDetails
) -> None:
    inp = await setup.call("echo $$ > pid; sleep 1.5; echo done >> marker; echo finished")
    async with setup.daemon():
        env = ActivityEnvironment()
        attempt = asyncio.create_task(setup.run(inp, env))
        pid = await setup.pid_of_tool()
        env.cancel(cancellation_details=details)
        with pytest.raises(ApplicationError) as raised:
            await attempt
        assert raised.value.type == TOOL_DETACHED
        assert pid_alive(pid), "the tool was not killed"
        assert (await setup.record(inp)).state is ToolState.EXECUTING
        retry = await setup.run(inp)
    assert (retry.state, retry.replayed) == ("completed", True)
    run = await setup.record(inp)
    assert "finished" in run.output and "cancelled by the user" not in run.error
    assert (setup.workspace / "marker").read_text() == "done\n"
    assert await setup.finishes(inp) == 1


async def test_a_user_cancel_kills_the_tool_and_says_so(setup: Setup) -> None:
    inp = await setup.call("echo $$ > pid; sleep 30; echo done >> marker")
    async with setup.daemon():
        env = ActivityEnvironment()
        attempt = asyncio.create_task(setup.run(inp, env))
        pid = await setup.pid_of_tool()
        env.cancel(cancellation_details=ActivityCancellationDetails(cancel_requested=True))
        with pytest.raises(asyncio.CancelledError):
            await attempt
        await eventually(lambda: not pid_alive(pid), timeout=5)
    run = await setup.record(inp)
    assert (run.state, run.error) == (ToolState.INTERRUPTED, "cancelled by the user")
    assert not (setup.workspace / "marker").exists()


async def test_a_project_step_refused_as_untrusted_is_pending_again_also_for_a_retry_that_attaches(
    setup: Setup,
) -> None:
    flows = setup.workspace / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "check.yaml").write_text("name: check\nentry: c\nnodes:\n  - {id: c, type: run, command: bash check.sh}\n")
    script = setup.workspace / "check.sh"
    script.write_text("echo ran >> effects.log\n")
    chat_id = (await setup.call("true")).chat_id  # the chat; its step, a project workflow's:
    await tool_runs_db.plan_command(setup.db, chat_id, "run:c", {"command": "bash check.sh", "project": True})
    step = ExecuteToolInput(chat_id=chat_id, turn=0, tool_call_id="run:c")
    async with setup.daemon() as daemon:
        await trust_now(setup)
        script.write_text("echo pwned >> effects.log\n")  # changed since trusted
        with pytest.raises(ApplicationError) as raised:
            await setup.run(step)
        assert raised.value.type == PROJECT_UNTRUSTED and raised.value.non_retryable
        assert "files changed since this workflow was read: one of " in raised.value.message
        assert (await setup.record(step)).state is ToolState.PENDING, "no outcome: asked again once resumed"
        # The worker died after the daemon refused, before the call was pending again: the retry
        # attaches to the refused call and learns the same.
        boot = daemon.role.host.boot_id  # type: ignore[attr-defined]
        await tool_runs_db.begin(setup.db, chat_id, "run:c", daemon_boot=boot)
        with pytest.raises(ApplicationError) as again:
            await setup.run(step)
        assert again.value.type == PROJECT_UNTRUSTED and (await setup.record(step)).state is ToolState.PENDING
        await trust_now(setup)
        ran = await setup.run(step)
        assert (ran.state, ran.replayed) == ("completed", False)
        assert (await setup.run(step)).replayed
    assert (setup.workspace / "effects.log").read_text() == "pwned\n", "once, and only when trusted"
    assert await setup.finishes(step) == 1


async def trust_now(setup: Setup) -> None:
    """Trust the workspace's files as they are now (as the user would, through the daemon)."""
    where = {"workspace": str(setup.workspace.resolve())}
    daemon_id = setup.settings.daemon_id
    trust = (await control(setup.bus, daemon_id, "trust.get", where, timeout=30))["trust"]
    granted = await control(
        setup.bus, daemon_id, "trust.grant", {**where, "fingerprint": trust["fingerprint"]}, timeout=30
    )
    assert granted["ok"], granted
