"""Benchmark: sub-agents (spawn_agent) against floors measured in the same run.

  spawn latency   spawn_agent -> the child's first update (its run_started), p50/p99 over sequential
                  spawns of one chat, from the update log's own timestamps (target p50 <= 100 ms)
  10 in parallel  a parent spawning 10 children at once, each one scripted turn, user message -> the
                  chat idle: against the same parent spawning 1 child (target <= 2x) and against a
                  bare Temporal parent starting 10 child workflows of one no-op activity (ratio; and
                  that parent's own 10 against its 1, the same target for Temporal alone)
  CPU             user + system time of the reliant process and the services for 1 and for 10
                  children and for the bare Temporal parent's 10: the 10 children's CPU spread over
                  every core is the least wall time any schedule of them can take on this machine
  RSS             the reliant process (worker, gateway, daemon and api roles in one process) and the
                  services (Temporal, Postgres, NATS) with no agents, 50 idle agents (each waiting on
                  an approval) and 10 running (each in a 3 s model call): peak sampled every 50 ms

    python scripts/bench_agents.py

Prints a table and one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import bench_agents_floor as floor  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

import embedded  # noqa: E402
from reliant.db import agents as agents_db  # noqa: E402
from tests.conftest import Infra, service_configs  # noqa: E402
from tests.support import eventually  # noqa: E402
from tests.worker.agent_env import AgentEnv, agent_env  # noqa: E402

SPAWNS = 30
REPEATS = 3
IDLE = 50
RUNNING = 10


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def spawn(task: str, model: str, **extra: Any) -> dict[str, Any]:
    return {"name": "spawn_agent", "input": {"task": task, "model": model, **extra}}


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.results: dict[str, Any] = {}
        self.project: Any = None

    async def run(self) -> dict[str, Any]:
        pg, nats, temporal = service_configs(self.root / "services")
        services = await embedded.start_services(pg, nats, temporal)
        self.service_pids = [services.temporal.pid, services.postgres.pid, services.nats.pid]
        try:
            infra = Infra(services, nats.token)
            overrides = {
                "agents_max_concurrent": IDLE + 5,
                "agents_max_per_chat": IDLE + 5,
                "heartbeat_interval": 2.0,  # a loaded machine must not take the daemon for gone
                "heartbeat_timeout": 60.0,
            }
            (self.root / "env").mkdir()
            async with agent_env(infra, self.root / "env", **overrides) as env:
                await self.rss("no agents")
                await self.latency(env)
                await self.parallel(env)
                await self.idle(env)
                await self.running(env)
        finally:
            await services.stop()
        return self.results

    async def chat_run(self, env: AgentEnv, parent: str, *, mode: str = "") -> tuple[str, float]:
        """A chat on `parent`'s script, one message: (chat id, seconds from send to idle)."""
        chat = await self.new_chat(env, parent)
        if mode:
            await env.chats.set_mode(chat.id, mode)
        began = time.time()
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id, timeout=300)
        last = max(u.created_at for u in await env.updates(chat.id))
        return chat.id, last - began

    async def new_chat(self, env: AgentEnv, model: str) -> Any:
        """A chat in the one project (made once: a loaded machine may be slow to show the daemon)."""
        if self.project is None:
            self.project = await env.chats.create_project(str(env.workspace), daemon_id=env.settings.daemon_id)
        return await env.chats.create_chat(self.project.id, model)

    async def latency(self, env: AgentEnv) -> None:
        child = env.script([{"text": "done"}])
        parent = env.script(
            [{"tools": [spawn(f"task {i}", child, name=f"s{i}")]} for i in range(SPAWNS)] + [{"text": "ok"}]
        )
        chat_id, _ = await self.chat_run(env, parent)
        updates = await env.updates(chat_id)
        agents = await agents_db.for_chat(env.db, chat_id)
        by_key = {a.call_key: a.id for a in agents}
        started: dict[str, float] = {}
        first: dict[str, float] = {}
        for u in updates:
            if u.kind == "tool_started" and u.payload.get("tool_name") == "spawn_agent":
                key = u.payload.get("call_key") or u.payload["tool_call_id"]
                started[by_key[key]] = u.created_at
            if u.kind == "run_started" and u.payload.get("run_id") in by_key.values():
                first.setdefault(u.payload["run_id"], u.created_at)
        samples = [(first[a] - started[a]) * 1000 for a in started if a in first]
        assert len(samples) == SPAWNS, (len(samples), SPAWNS)
        self.results["spawn_first_update_ms"] = {"p50": pct(samples, 50), "p99": pct(samples, 99), "n": len(samples)}

    async def parallel(self, env: AgentEnv) -> None:
        child = env.script([{"text": "done"}])
        one = env.script([{"tools": [spawn("task", child)]}, {"text": "ok"}])
        ten = env.script([{"tools": [spawn(f"task {i}", child) for i in range(10)]}, {"text": "ok"}])
        queue = f"bench-floor-{uuid.uuid4().hex[:8]}"
        ones, tens, floor10, floor1 = [], [], [], []
        cpu: dict[str, list[float]] = {"one": [], "ten": [], "bare_ten": []}
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[floor.FloorAgentParent, floor.FloorAgentChild],
            activities=[floor.floor_turn],
        ):
            for _ in range(REPEATS):
                used = self.cpu_seconds()
                ones.append((await self.chat_run(env, one))[1])
                cpu["one"].append(self.cpu_seconds() - used)
                used = self.cpu_seconds()
                tens.append((await self.chat_run(env, ten))[1])
                cpu["ten"].append(self.cpu_seconds() - used)
                for n, into in ((10, floor10), (1, floor1)):
                    used = self.cpu_seconds()
                    began = time.perf_counter()
                    await env.client.execute_workflow(
                        floor.FloorAgentParent.run, floor.FloorTurn(n), id=f"floor-{uuid.uuid4().hex}", task_queue=queue
                    )
                    into.append(time.perf_counter() - began)
                    if n == 10:
                        cpu["bare_ten"].append(self.cpu_seconds() - used)
        m1, m10, f10, f1 = (statistics.median(x) * 1000 for x in (ones, tens, floor10, floor1))
        cores = psutil.cpu_count() or 1
        spent = {k: statistics.median(v) * 1000 for k, v in cpu.items()}
        self.results["cpu_ms"] = {
            "cores": cores,
            "one_child": spent["one"],
            "ten_children": spent["ten"],
            "bare_temporal_ten": spent["bare_ten"],
            "per_extra_child": (spent["ten"] - spent["one"]) / 9,
            # the CPU the 10 children take, spread over every core: no schedule finishes sooner
            "ten_children_on_all_cores": spent["ten"] / cores,
        }
        self.results["parallel_ms"] = {
            "one_child": m1,
            "ten_children": m10,
            "bare_temporal_ten": f10,
            "bare_temporal_one": f1,
            "ten_vs_one": m10 / m1,
            "ten_vs_bare_ten": m10 / f10,
            # the same target for Temporal alone: its 10 no-op children against its 1
            "bare_ten_vs_bare_one": f10 / f1,
        }

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of this process (reliant's roles) and of the services so far."""
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def processes(self) -> list[psutil.Process]:
        found = [psutil.Process()]
        for pid in self.service_pids:
            try:
                service = psutil.Process(pid)
                found += [service, *service.children(recursive=True)]
            except psutil.Error:
                pass
        return found

    async def rss(self, label: str, *, during: asyncio.Task[Any] | None = None) -> None:
        """The RSS (MB) of this process and of the services; with `during`, the peak while it runs."""

        def sample() -> tuple[float, float]:
            mine, *services = self.processes()
            used = 0
            for proc in services:
                try:
                    used += proc.memory_info().rss
                except psutil.Error:
                    pass
            return mine.memory_info().rss / 2**20, used / 2**20

        peak = sample()
        if during is not None:
            while not during.done():
                now = sample()
                peak = (max(peak[0], now[0]), max(peak[1], now[1]))
                await asyncio.sleep(0.05)
            await during
        self.results.setdefault("rss_mb", {})[label] = {"reliant": peak[0], "services": peak[1]}

    async def idle(self, env: AgentEnv) -> None:
        child = env.script([{"tools": [{"name": "shell", "input": {"command": "echo hi"}}]}, {"text": "done"}])
        parent = env.script([{"tools": [spawn(f"idle {i}", child) for i in range(IDLE)]}, {"text": "ok"}])
        chat = await self.new_chat(env, parent)
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "go")

        async def all_waiting() -> bool:
            return len(await env.gates.pending_approvals(chat.id)) == IDLE

        await eventually(all_waiting, timeout=300, interval=0.2)
        await self.rss(f"{IDLE} idle agents")
        await env.chats.cancel(chat.id)

        async def stopped() -> bool:
            return all(a.status.value != "running" for a in await agents_db.for_chat(env.db, chat.id))

        await eventually(stopped, timeout=120, interval=0.2)

    async def running(self, env: AgentEnv) -> None:
        child = env.script([{"text": "slow answer", "delay_ms": 3000}])
        parent = env.script([{"tools": [spawn(f"run {i}", child) for i in range(RUNNING)]}, {"text": "ok"}])
        await self.rss(f"{RUNNING} running agents", during=asyncio.create_task(self.chat_run(env, parent)))


def table(r: dict[str, Any]) -> str:
    s, p = r["spawn_first_update_ms"], r["parallel_ms"]
    rows = [
        ("spawn_agent -> child's first update p50", f"{s['p50']:.1f} ms", "target <= 100 ms"),
        ("spawn_agent -> child's first update p99", f"{s['p99']:.1f} ms", f"n={s['n']}"),
        ("1 child (message -> idle)", f"{p['one_child']:.0f} ms", "floor"),
        ("10 children in parallel", f"{p['ten_children']:.0f} ms", f"{p['ten_vs_one']:.2f}x one (target <= 2x)"),
        (
            "bare Temporal parent, 10 children",
            f"{p['bare_temporal_ten']:.0f} ms",
            f"reliant {p['ten_vs_bare_ten']:.1f}x",
        ),
        (
            "bare Temporal parent, 1 child",
            f"{p['bare_temporal_one']:.0f} ms",
            f"its 10 take {p['bare_ten_vs_bare_one']:.2f}x its 1",
        ),
    ]
    if "cpu_ms" in r:
        c = r["cpu_ms"]
        rows += [
            ("CPU, 1 child (reliant + services)", f"{c['one_child']:.0f} ms", ""),
            (
                "CPU, 10 children",
                f"{c['ten_children']:.0f} ms",
                f"{c['per_extra_child']:.0f} ms per extra child; bare Temporal 10: {c['bare_temporal_ten']:.0f} ms",
            ),
            (
                f"10 children's CPU over {c['cores']} cores",
                f"{c['ten_children_on_all_cores']:.0f} ms",
                "no schedule of the 10 ends sooner on this machine",
            ),
        ]
    for label, mem in r["rss_mb"].items():
        rows.append((f"RSS, {label}", f"{mem['reliant']:.0f} MB", f"services {mem['services']:.0f} MB"))
    width = max(len(a) for a, _, _ in rows)
    return "\n".join(f"{a:<{width}}  {b:>10}  {c}" for a, b, c in rows)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-agents-") as tmp:
        results = asyncio.run(Bench(Path(tmp)).run())
    print(table(results))
    print(json.dumps({"bench": "agents", **results}))


if __name__ == "__main__":
    main()
