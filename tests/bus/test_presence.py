"""The presence bucket read whole: every live record, every time, also when many reads run at once
on a busy connection (a key watcher could say "no more keys" before the first one reached it)."""

from __future__ import annotations

import asyncio
import uuid

from reliant.bus import Bus
from reliant.bus.client import Beacon
from tests.conftest import Infra


async def test_every_read_of_the_presence_bucket_sees_every_live_record(infra: Infra) -> None:
    bus = await Bus.connect(infra.nats_url, infra.nats_token, deployment=f"p-{uuid.uuid4().hex[:8]}")
    try:
        presence = await bus.presence()
        keys = [f"daemon.d-{n}" for n in range(40)]
        for n, key in enumerate(keys):
            await presence.put(key, {"id": key, "n": n})
        await presence.delete(keys[0])  # a deleted record is not live
        await presence.put("role.api.x", {"role": "api"})
        reads = await asyncio.gather(*(presence.entries("daemon.") for _ in range(50)))
        for read in reads:
            assert set(read) == set(keys[1:])
            assert read["daemon.d-7"] == {"id": "daemon.d-7", "n": 7}
        assert set(await presence.entries()) == {*keys[1:], "role.api.x"}
    finally:
        await bus.close()


async def test_a_beacon_stops_even_when_its_cancellation_meets_a_reply(infra: Infra) -> None:
    """A beacon shut down while a refresh's reply arrives stops all the same (nats-py waits for a
    reply through asyncio.wait_for, which can drop such a cancellation on Python 3.11): a gateway
    that stopped a daemon's beacon used to wait on it forever, and the daemon never saw its stream end."""
    bus = await Bus.connect(infra.nats_url, infra.nats_token, deployment=f"p-{uuid.uuid4().hex[:8]}")
    try:
        for n in range(60):
            beacon = Beacon(bus, f"daemon.b-{n}", lambda: {"id": "b"}, interval=0.0)
            await beacon.start()
            await asyncio.sleep(0.002 * (n % 10))
            await asyncio.wait_for(beacon.shutdown(), 5.0)
    finally:
        await bus.close()
