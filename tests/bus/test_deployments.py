"""Several deployments on one NATS server: each sees only its own daemons, updates, tool requests,
live tails and presence, though their chats and daemons may even share ids."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from embedded.ports import free_port
from reliant.bus import Bus, Incoming, NoRespondersError, subjects
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.gateway.role import GatewayRole
from tests.conftest import Infra
from tests.support import RoleRunner, eventually


@pytest.fixture
async def buses(infra: Infra) -> AsyncIterator[dict[str, Bus]]:
    opened = {
        name: await Bus.connect(infra.nats_url, infra.nats_token, deployment=name) for name in ("team-a", "team-b")
    }
    opened[""] = await Bus.connect(infra.nats_url, infra.nats_token)  # a deployment without a name
    yield opened
    for bus in opened.values():
        await bus.close()


def _settings(infra: Infra, tmp_path: Path, deployment: str) -> Settings:
    port = free_port()
    workspace = tmp_path / deployment / "ws"
    workspace.mkdir(parents=True)
    return Settings(
        data_dir=tmp_path / deployment / "data",
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        gateway_port=port,
        gateway_address=f"127.0.0.1:{port}",
        daemon_token="daemon-secret",
        daemon_id="d-shared",  # the same daemon id in both deployments
        daemon_name=deployment,
        daemon_workspaces=(workspace,),
        deployment=deployment,
        heartbeat_interval=0.5,
    )


async def test_two_deployments_on_one_nats_do_not_see_each_other(
    infra: Infra, buses: dict[str, Bus], tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        for name in ("team-a", "team-b"):
            settings = _settings(infra, tmp_path, name)
            await stack.enter_async_context(RoleRunner(GatewayRole(settings)))
            await stack.enter_async_context(RoleRunner(DaemonRole(settings)))

        async def daemon_record(bus: Bus) -> dict[str, object] | None:
            return await (await bus.presence()).get(subjects.presence_key("daemon", "d-shared"))

        # Presence: each deployment's KV bucket holds its own daemon only.
        for name in ("team-a", "team-b"):
            record = await eventually(lambda b=buses[name]: daemon_record(b))  # type: ignore[misc]
            assert record["name"] == name
        assert await daemon_record(buses[""]) is None

        # Tool and control requests reach the deployment's own daemon, through its own gateway.
        for name in ("team-a", "team-b"):
            reply = await buses[name].request(subjects.daemon_ctl("d-shared", "workspace.list"), b"{}", timeout=10)
            assert json.loads(reply.data)["workspaces"] == [str(tmp_path / name / "ws")]
        with pytest.raises(NoRespondersError):
            await buses[""].request(subjects.daemon_tools("d-shared"), b"{}", timeout=5)

        # Chat updates: the same chat id in three deployments, three separate conversations.
        seen: dict[str, list[tuple[str, bytes]]] = {name: [] for name in buses}
        for name, bus in buses.items():

            async def record(msg: Incoming, name: str = name) -> None:
                seen[name].append((msg.subject, msg.data))

            await bus.subscribe(subjects.chat_updates("c1"), record, queue="readers")
        for name, bus in buses.items():
            await bus.publish(subjects.chat_updates("c1"), name.encode() or b"plain")
        for bus in buses.values():
            await bus.ping()  # every server has routed all of the above
        # A stray copy would have been sent to a subscriber before this marker: one connection,
        # one order.
        for bus in buses.values():
            await bus.publish(subjects.chat_updates("c1"), b"end")
        await eventually(lambda: all(len(got) == 2 for got in seen.values()))
        for name in buses:
            update = subjects.chat_updates("c1")
            assert seen[name] == [(update, name.encode() or b"plain"), (update, b"end")], "no other's update"

        # Live tails: one stream per deployment; a follower sees its own deployment's answer only.
        await buses["team-a"].live.publish("c1", 1, b"a-token")
        await buses["team-b"].live.publish("c1", 1, b"b-token")
        tails: dict[str, list[bytes]] = {"team-a": [], "team-b": []}
        followers = []
        for name in ("team-a", "team-b"):

            async def tail(msg: Incoming, name: str = name) -> None:
                tails[name].append(msg.data)

            followers.append(await buses[name].live.follow("c1", tail))
        for name in tails:
            await buses[name].live.publish("c1", 1, b"end")  # stored after everything above
        await eventually(lambda: all(got[-1:] == [b"end"] for got in tails.values()))
        assert tails == {"team-a": [b"a-token", b"end"], "team-b": [b"b-token", b"end"]}
        for follower in followers:
            await follower.stop()
        for name in tails:
            await buses[name].live.purge("c1")
