"""Benchmark: the workflow engine's own cost, against floors measured in the same run.

  per node        a 100-node linear workflow of save_message nodes (message -> run finished) against
                  a bare workflow running the same activity 100 times (target <= 1.3x)
  agent per turn  the built-in `agent` workflow, 50 turns of a scripted model + a `view` tool: p50
                  between turns, against bench_floor's bare two-activity loop (target <= 1.5x), with
                  the agent loop written in code (the release before workflows) measured beside it
  parallel        a `parallel` node of 10 branches, each a `run` node sleeping 1 s, against 1 branch
                  (target <= 1.5x)
  CEL per edge    the run-state machine following an edge with a condition, minus one without (us)
  concurrency     50 chats x 10 turns on the built-in `agent` workflow at once, against 50 bare
                  workflows calling the same activities (call_llm, execute_tool): turns/s (target
                  >= 70% of the floor's), and no update lost

    python scripts/bench_workflows.py

Prints a table and one JSON line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench_floor  # noqa: E402
import bench_workflows_floor as floors  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

import embedded  # noqa: E402
from embedded.ports import free_port  # noqa: E402
from reliant.api.chats import Chats  # noqa: E402
from reliant.api.context import ApiContext  # noqa: E402
from reliant.bus import Bus, subjects  # noqa: E402
from reliant.clients import temporal as temporal_client  # noqa: E402
from reliant.clients.codec import CodecKey  # noqa: E402
from reliant.clients.daemons import control  # noqa: E402
from reliant.clients.providers import ProviderPool  # noqa: E402
from reliant.config import Settings  # noqa: E402
from reliant.daemon.role import DaemonRole  # noqa: E402
from reliant.db import Database  # noqa: E402
from reliant.db import chats as chats_db  # noqa: E402
from reliant.db import messages as messages_db  # noqa: E402
from reliant.db import threads as threads_db  # noqa: E402
from reliant.db import updates as updates_db  # noqa: E402
from reliant.domain.workflows import AGENT_WORKFLOW, SIGNAL_USER_MESSAGE, AgentInput, AgentState  # noqa: E402
from reliant.engine import Run, load_definition  # noqa: E402
from reliant.gateway.role import GatewayRole  # noqa: E402
from reliant.wire import updates as wire_updates  # noqa: E402
from reliant.worker.role import WorkerRole  # noqa: E402
from tests.conftest import service_configs  # noqa: E402
from tests.support import RoleRunner  # noqa: E402
from tests.worker.agent_before_workflows import AgentBeforeWorkflows  # noqa: E402

TURNS = 50
NODES = 100
EDGES = 200


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def linear(count: int) -> str:
    nodes = "\n".join(f"  - {{id: n{i}, type: save_message, role: user, content: x}}" for i in range(count))
    edges = "\n".join(f"  - {{from: n{i}, default: n{i + 1}}}" for i in range(count - 1))
    return f"name: linear\nentry: n0\nnodes:\n{nodes}\nedges:\n{edges}\n"


def parallel(branches: int) -> str:
    rows = "\n".join(
        f"      b{i}: {{entry: s{i}, nodes: [{{id: s{i}, type: run, command: 'sleep 1'}}]}}" for i in range(branches)
    )
    return f"name: par{branches}\nentry: p\nnodes:\n  - id: p\n    type: parallel\n    branches:\n{rows}\n"


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.results: dict[str, Any] = {}

    async def run(self) -> dict[str, Any]:
        self.cel()
        pg, nats, temporal = service_configs(self.root / "services")
        services = await embedded.start_services(pg, nats, temporal)
        try:
            await self.in_process(services, nats.token)
        finally:
            await services.stop()
        return self.results

    async def in_process(self, services: embedded.Services, nats_token: str) -> None:
        workspace = self.root / "workspace"
        flows = workspace / ".reliant" / "workflows"
        flows.mkdir(parents=True)
        (workspace / "file.txt").write_text("hello\n" * 20)
        (flows / "linear.yaml").write_text(linear(NODES))
        (flows / "par10.yaml").write_text(parallel(10))
        (flows / "par1.yaml").write_text(parallel(1))
        gateway_port = free_port()
        s = Settings(
            data_dir=self.root / "data",
            database_url=services.postgres.url,
            nats_url=services.nats.url,
            nats_token=nats_token,
            temporal_address=services.temporal.address,
            gateway_port=gateway_port,
            gateway_address=f"127.0.0.1:{gateway_port}",
            daemon_token="bench-daemon-token",
            daemon_id=f"d-{uuid.uuid4().hex[:8]}",
            codec_key=CodecKey.generate().to_text().splitlines()[0],
        )
        self.settings = s
        floor_queue = f"{s.temporal_task_queue}-floor"
        legacy_queue = f"{s.temporal_task_queue}-legacy"
        async with AsyncExitStack() as stack:
            for role in (
                WorkerRole(s),
                # The floors and the agent loop of the release before workflows, with the same
                # activities, on task queues of their own.
                WorkerRole(
                    replace(s, temporal_task_queue=floor_queue), workflows=[floors.FloorNodes, floors.FloorChat]
                ),
                WorkerRole(replace(s, temporal_task_queue=legacy_queue), workflows=[AgentBeforeWorkflows]),
                GatewayRole(s),
                DaemonRole(s),
            ):
                await stack.enter_async_context(RoleRunner(role))
            db = await Database.open(s.database_url, min_size=2)
            stack.push_async_callback(db.close)
            bus = await Bus.connect(s.nats_url, s.nats_token)
            stack.push_async_callback(bus.close)
            client = await temporal_client.connect(s)
            self.plain = await Client.connect(s.temporal_address, namespace=s.temporal_namespace)
            ctx = ApiContext(settings=s, db=db, bus=bus, temporal=client, api_url="http://bench")
            self.db, self.bus, self.client = db, bus, client
            self.floor_queue, self.legacy_queue = floor_queue, legacy_queue
            self.chats = Chats(ctx, ProviderPool(db, s))
            self.project = await self.chats.create_project(str(workspace), daemon_id=s.daemon_id)
            where = {"workspace": str(workspace.resolve())}
            trust = (await control(bus, s.daemon_id, "trust.get", where, timeout=30))["trust"]
            await control(bus, s.daemon_id, "trust.grant", {**where, "fingerprint": trust["fingerprint"]}, timeout=30)
            await self.per_node()
            await self.agent_turns()
            await self.parallel()
            await self.concurrency()

    def script(self, turns: list[dict[str, Any]]) -> str:
        path = self.root / "data" / f"script-{uuid.uuid4().hex[:6]}.yaml"  # scripts may be in the data dir
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"turns": turns}))
        return f"scripted:{path}"

    async def chat(self, model: str, workflow: str = "agent") -> str:
        chat = await self.chats.create_chat(self.project.id, model)
        await chats_db.set_workflow(self.db, chat.id, workflow, {})
        return chat.id

    async def watch(self, chat_id: str, send: Any) -> dict[str, list[float]]:
        """Arrival times of the chat's updates by kind, as received live on NATS (the log, and the
        live tail where an answer streams: message_started), until idle."""
        seen: dict[str, list[float]] = {}
        done = asyncio.Event()

        async def on_update(msg: Any) -> None:
            update = wire_updates.decode(msg.data)
            seen.setdefault(update.kind, []).append(time.perf_counter())
            if update.kind == "chat_status" and update.payload["status"] == "idle":
                done.set()

        subs = [
            await self.bus.subscribe(subjects.chat_updates(chat_id), on_update),
            await self.bus.subscribe(subjects.chat_live_all(chat_id), on_update),
        ]
        try:
            seen["sent"] = [time.perf_counter()]
            await send()
            await asyncio.wait_for(done.wait(), 600)
        finally:
            for sub in subs:
                await sub.unsubscribe()
        return seen

    async def run_time(self, workflow: str) -> float:
        chat_id = await self.chat(self.script([{"text": "unused"}]), workflow)
        seen = await self.watch(chat_id, lambda: self.chats.send(chat_id, "go"))
        return (seen["run_finished"][-1] - seen["sent"][0]) * 1000

    # -- per node -------------------------------------------------------------------------------------

    async def per_node(self) -> None:
        await self.run_time("linear")  # warm up
        engine = statistics.median([await self.run_time("linear") for _ in range(3)])
        chat_id = await self.chat(self.script([{"text": "unused"}]))
        thread = await threads_db.main(self.db, chat_id)
        assert thread is not None
        floor = []
        for _ in range(4):
            began = time.perf_counter()
            await self.client.execute_workflow(
                "FloorNodes",
                floors.FloorNodesInput(chat_id, thread.id, NODES),
                id=f"floor-nodes-{uuid.uuid4().hex}",
                task_queue=self.floor_queue,
            )
            floor.append((time.perf_counter() - began) * 1000)
        self.results["linear100_ms"] = engine
        self.results["floor100_ms"] = statistics.median(floor[1:])
        self.results["per_node_ms"] = engine / NODES
        self.results["floor_per_activity_ms"] = self.results["floor100_ms"] / NODES
        self.results["per_node_vs_floor"] = engine / self.results["floor100_ms"]

    # -- agent turns ----------------------------------------------------------------------------------

    async def agent_turns(self) -> None:
        acts = bench_floor.FloorActivities()
        queue = f"floorloop-{uuid.uuid4().hex[:6]}"
        async with Worker(
            self.plain, task_queue=queue, workflows=[bench_floor.FloorLoop], activities=[acts.llm, acts.tool]
        ):
            await self.plain.execute_workflow("FloorLoop", 5, id=f"floor-warm-{uuid.uuid4().hex}", task_queue=queue)
            acts.turn_starts.clear()
            await self.plain.execute_workflow("FloorLoop", TURNS + 1, id=f"floor-{uuid.uuid4().hex}", task_queue=queue)
        per_turn = [(b - a) * 1000 for a, b in itertools.pairwise(acts.turn_starts)]
        self.results["floor_turn_p50_ms"] = statistics.median(per_turn)

        view = {"tools": [{"name": "view", "input": {"path": "file.txt"}}]}
        script = [view] * TURNS + [{"text": "done"}]
        warm = await self.chat(self.script([view] * 3 + [{"text": "ok"}]))
        await self.watch(warm, lambda: self.chats.send(warm, "warm up"))
        engine = await self.chat(self.script(script))
        seen = await self.watch(engine, lambda: self.chats.send(engine, "go"))
        turns = [(b - a) * 1000 for a, b in itertools.pairwise(seen["message_started"])][:TURNS]
        self.results["agent_turn_p50_ms"] = statistics.median(turns)
        self.results["agent_turn_p99_ms"] = pct(turns, 99)
        self.results["agent_turn_vs_floor"] = self.results["agent_turn_p50_ms"] / self.results["floor_turn_p50_ms"]

        legacy = await self.chat(self.script(script))
        seen = await self.watch(legacy, lambda: self.legacy_send(legacy, "go"))
        turns = [(b - a) * 1000 for a, b in itertools.pairwise(seen["message_started"])][:TURNS]
        self.results["loop_in_code_turn_p50_ms"] = statistics.median(turns)
        self.results["loop_in_code_vs_floor"] = (
            self.results["loop_in_code_turn_p50_ms"] / self.results["floor_turn_p50_ms"]
        )

    async def legacy_send(self, chat_id: str, text: str) -> None:
        """As the release before workflows sent a message: to its Agent workflow."""
        message = await messages_db.enqueue_user(self.db, chat_id, text)
        await self.client.start_workflow(
            AGENT_WORKFLOW,
            AgentInput(chat_id=chat_id, state=AgentState()),
            id=f"chat-{chat_id}",
            task_queue=self.legacy_queue,
            start_signal=SIGNAL_USER_MESSAGE,
            start_signal_args=[message.id],
        )

    # -- parallel -------------------------------------------------------------------------------------

    async def parallel(self) -> None:
        await self.run_time("par1")
        one = statistics.median([await self.run_time("par1") for _ in range(3)])
        ten = statistics.median([await self.run_time("par10") for _ in range(3)])
        self.results["parallel1_ms"] = one
        self.results["parallel10_ms"] = ten
        self.results["parallel10_vs_1"] = ten / one

    # -- CEL ------------------------------------------------------------------------------------------

    def cel(self) -> None:
        def chain(condition: bool) -> str:
            nodes = "\n".join(f"  - {{id: n{i}, type: run, command: x}}" for i in range(EDGES + 1))
            if condition:
                edge = '  - {{from: n{i}, cases: [{{to: n{j}, condition: "nodes.n{i}.exit_code == 0 && inputs.go"}}]}}'
            else:
                edge = "  - {{from: n{i}, default: n{j}}}"
            edges = "\n".join(edge.format(i=i, j=i + 1) for i in range(EDGES))
            head = "name: chain\ninputs: {go: {type: boolean, default: true}}\nentry: n0\n"
            return f"{head}nodes:\n{nodes}\nedges:\n{edges}\n"

        outputs = {"exit_code": 0, "stdout": "", "stderr": ""}

        def walk(text: str) -> float:
            definition = load_definition(text, "bench.yaml")
            run = Run.start(definition, {})
            began = time.perf_counter()
            while not run.done:
                [task] = run.take_ready()
                run.finish(task, outputs)
            return time.perf_counter() - began

        plain, conditioned = chain(False), chain(True)
        walk(plain), walk(conditioned)
        without = statistics.median([walk(plain) for _ in range(5)])
        with_ = statistics.median([walk(conditioned) for _ in range(5)])
        self.results["cel_per_edge_us"] = max(0.0, (with_ - without) / EDGES * 1e6)
        self.results["machine_per_node_us"] = without / (EDGES + 1) * 1e6

    # -- concurrency ----------------------------------------------------------------------------------

    async def concurrency(self, chats: int = 50, turns: int = 10) -> None:
        view = {"tools": [{"name": "view", "input": {"path": "file.txt"}}]}
        model = self.script([view] * (turns - 1) + [{"text": "done"}])

        async def engine() -> tuple[float, int]:
            created = [await self.chat(model) for _ in range(chats)]
            began = time.perf_counter()
            await asyncio.gather(*(self.watch(c, lambda c=c: self.chats.send(c, "go")) for c in created))
            wall = time.perf_counter() - began
            lost = 0
            for c in created:
                seqs = [u.seq for u in await updates_db.since(self.db, c, 0, 100_000)]
                lost += seqs != list(range(1, len(seqs) + 1))
            return wall, lost

        async def floor() -> float:
            created = [await self.chat(model) for _ in range(chats)]
            messages = [await messages_db.enqueue_user(self.db, c, "go") for c in created]
            began = time.perf_counter()
            await asyncio.gather(
                *(
                    self.client.execute_workflow(
                        "FloorChat",
                        floors.FloorChatInput(c, m.id),
                        id=f"floor-chat-{c}",
                        task_queue=self.floor_queue,
                    )
                    for c, m in zip(created, messages, strict=True)
                )
            )
            return time.perf_counter() - began

        floor_wall = await floor()
        engine_wall, lost = await engine()
        self.results["concurrent_floor_turns_per_s"] = chats * turns / floor_wall
        self.results["concurrent_turns_per_s"] = chats * turns / engine_wall
        self.results["concurrent_vs_floor"] = floor_wall / engine_wall
        self.results["concurrent_chats_with_lost_updates"] = lost


def report(r: dict[str, Any]) -> bool:
    rows = [
        (
            "100 nodes: message -> finished",
            f"{r['linear100_ms']:.0f} ms",
            f"{r['floor100_ms']:.0f} ms",
            f"<= 1.3x ({r['per_node_vs_floor']:.2f}x)",
            r["per_node_vs_floor"] <= 1.3,
        ),
        ("  per node", f"{r['per_node_ms']:.1f} ms", f"{r['floor_per_activity_ms']:.1f} ms", "", True),
        (
            "agent: per turn p50",
            f"{r['agent_turn_p50_ms']:.1f} ms",
            f"{r['floor_turn_p50_ms']:.1f} ms",
            f"<= 1.5x ({r['agent_turn_vs_floor']:.2f}x)",
            r["agent_turn_vs_floor"] <= 1.5,
        ),
        ("agent: per turn p99", f"{r['agent_turn_p99_ms']:.1f} ms", "", "", True),
        (
            "loop in code: per turn p50",
            f"{r['loop_in_code_turn_p50_ms']:.1f} ms",
            f"{r['floor_turn_p50_ms']:.1f} ms",
            f"(was) {r['loop_in_code_vs_floor']:.2f}x",
            True,
        ),
        (
            "parallel: 10 branches vs 1",
            f"{r['parallel10_ms']:.0f} ms",
            f"{r['parallel1_ms']:.0f} ms",
            f"<= 1.5x ({r['parallel10_vs_1']:.2f}x)",
            r["parallel10_vs_1"] <= 1.5,
        ),
        ("CEL: per edge condition", f"{r['cel_per_edge_us']:.1f} us", f"{r['machine_per_node_us']:.1f} us", "", True),
        (
            "50x10 on agent: turns/s",
            f"{r['concurrent_turns_per_s']:.1f}",
            f"{r['concurrent_floor_turns_per_s']:.1f}",
            f">= 70% ({r['concurrent_vs_floor']:.0%})",
            r["concurrent_vs_floor"] >= 0.7,
        ),
        (
            "50x10: chats losing updates",
            str(r["concurrent_chats_with_lost_updates"]),
            "",
            "0",
            r["concurrent_chats_with_lost_updates"] == 0,
        ),
    ]
    print(f"{'metric':<32} {'reliant':>12} {'floor':>12} {'target':>20}  ok")
    for name, value, floor, target, ok in rows:
        print(f"{name:<32} {value:>12} {floor:>12} {target:>20}  {'yes' if ok else 'NO'}")
    return all(row[-1] for row in rows)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="reliant-bench-workflows-"))
    try:
        results = asyncio.run(Bench(root).run())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ok = report(results)
    print(
        json.dumps(
            {
                "bench": "workflows",
                "ok": ok,
                **{k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()},
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
