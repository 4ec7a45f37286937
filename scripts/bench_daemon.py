"""Benchmark: the daemon's interactive paths, each against a floor measured in the same run.

  keystroke-to-echo   one byte typed into a terminal (ctl.term.input over NATS -> gateway -> daemon
                      -> PTY) until its echo arrives back (daemon event -> gateway -> NATS);
                      floors: a bare NATS request/reply in this process, and a local PTY echo
  MCP tool call       mcp__test__echo through NATS -> gateway -> daemon -> MCP server, and through
                      the daemon's ToolHost alone; floor: the same call with the MCP SDK directly
  file tree           first level of a 50,000-file repository (with a .gitignore) through NATS ->
                      gateway -> daemon; floor: os.scandir of that directory

Embedded NATS plus a gateway and a daemon in this process (as in `reliant up`).

    python scripts/bench_daemon.py [--keys 300] [--calls 200] [--files 50000]

Prints a table and one JSON line. Targets: keystroke p50 <= 10 ms, file tree first level <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import embedded  # noqa: E402
from embedded.ports import free_port  # noqa: E402
from reliant.bus import Bus, Incoming, subjects  # noqa: E402
from reliant.clients.daemons import call_tool  # noqa: E402
from reliant.config import Settings  # noqa: E402
from reliant.daemon.events import unframe  # noqa: E402
from reliant.daemon.filesystem import FileService  # noqa: E402
from reliant.daemon.role import DaemonRole  # noqa: E402
from reliant.domain.tools import ToolCall, ToolStatus  # noqa: E402
from reliant.gateway.role import GatewayRole  # noqa: E402

TEST_SERVER = ROOT / "tests" / "daemon" / "servers" / "reliant_test_mcp.py"
TARGETS = {"keystroke_p50_ms": 10.0, "tree_first_level_ms": 100.0}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(values), "p90": pct(values, 0.9), "p99": pct(values, 0.99)}


async def run_role(role: Any) -> tuple[asyncio.Task[None], asyncio.Event]:
    ready = asyncio.Event()
    task = asyncio.create_task(role.run(ready))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    return task, ready


def make_repo(root: Path, files: int) -> None:
    """`files` files: 100 top-level directories of equal share, a few root files, a .gitignore."""
    per_dir = max(1, files // 100)
    for d in range(100):
        directory = root / f"pkg{d:03d}"
        directory.mkdir(parents=True)
        for f in range(per_dir):
            (directory / f"module_{f:04d}.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("*.pyc\nbuild/\n__pycache__/\n")
    for name in ("README.md", "pyproject.toml", "setup.cfg"):
        (root / name).write_text("x\n")


async def keystrokes(bus: Bus, daemon_id: str, workspace: Path, n: int) -> list[float]:
    opened = await control(bus, daemon_id, "term.open", {"workspace": str(workspace), "command": ["cat"]})
    terminal_id = opened["terminal"]["id"]
    arrived: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_output(msg: Incoming) -> None:
        arrived.put_nowait(unframe(msg.data)[1])

    sub = await bus.subscribe(subjects.daemon_event(daemon_id, f"term.{terminal_id}.output"), on_output)
    timings = []
    try:
        for i in range(n + 20):
            key = b"abcdefghijklmnopqrstuvwxyz"[i % 26 : i % 26 + 1]
            while not arrived.empty():
                arrived.get_nowait()
            started = time.perf_counter()
            await control(bus, daemon_id, "term.input", {"id": terminal_id, "text": key.decode()})
            got = b""
            while key not in got:
                got += await asyncio.wait_for(arrived.get(), 5)
            if i >= 20:  # warm-up
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await sub.unsubscribe()
        await control(bus, daemon_id, "term.close", {"id": terminal_id})
    return timings


async def nats_floor(bus: Bus, n: int) -> list[float]:
    subject = f"bench.echo.{uuid.uuid4().hex[:8]}"

    async def echo(msg: Incoming) -> None:
        await bus.publish(msg.reply, msg.data)

    sub = await bus.subscribe(subject, echo)
    timings = []
    for i in range(n + 20):
        started = time.perf_counter()
        await bus.request(subject, b"x", timeout=5)
        if i >= 20:
            timings.append((time.perf_counter() - started) * 1000)
    await sub.unsubscribe()
    return timings


def pty_floor(n: int) -> list[float]:
    """A byte written to a local PTY (cat on the other side) until its echo is read back."""
    import select
    import subprocess

    master, slave = os.openpty()
    proc = subprocess.Popen(["cat"], stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    timings = []
    try:
        for i in range(n + 20):
            started = time.perf_counter()
            os.write(master, b"k")
            got = b""
            while b"k" not in got:
                select.select([master], [], [], 5)
                got += os.read(master, 1024)
            if i >= 20:
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
        os.close(slave)
    return timings


async def mcp_direct(n: int) -> list[float]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    timings = []
    params = StdioServerParameters(command=sys.executable, args=[str(TEST_SERVER)])
    with open(os.devnull, "w") as quiet:  # noqa: ASYNC230 - /dev/null never blocks
        return await _direct_calls(Client(stdio_client(params, errlog=quiet)), n, timings)


async def _direct_calls(client_cm: Any, n: int, timings: list[float]) -> list[float]:
    async with client_cm as client:
        for i in range(n + 20):
            started = time.perf_counter()
            await client.call_tool("echo", {"text": "hi"})
            if i >= 20:
                timings.append((time.perf_counter() - started) * 1000)
    return timings


async def mcp_via_daemon(
    bus: Bus, daemon_id: str, host: Any, workspace: Path, n: int
) -> tuple[list[float], list[float]]:
    hosted, gateway = [], []
    for i in range(n + 20):
        call = ToolCall(f"h-{i}", "mcp__test__echo", {"text": "hi"}, chat_id="bench", workspace=str(workspace))
        started = time.perf_counter()
        result = await host.execute(call)
        elapsed = (time.perf_counter() - started) * 1000
        assert result.status is ToolStatus.OK, result
        if i >= 20:
            hosted.append(elapsed)
    for i in range(n + 20):
        call = ToolCall(f"g-{i}", "mcp__test__echo", {"text": "hi"}, chat_id="bench", workspace=str(workspace))
        started = time.perf_counter()
        reply = await call_tool(bus, daemon_id, call, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        assert reply.result.status is ToolStatus.OK, reply.result
        if i >= 20:
            gateway.append(elapsed)
    return hosted, gateway


async def tree(bus: Bus, daemon_id: str, repo: Path, runs: int) -> tuple[list[float], list[float], list[float], int]:
    first = time.perf_counter()
    reply = await control(bus, daemon_id, "fs.tree", {"workspace": str(repo), "path": "."})
    cold = (time.perf_counter() - first) * 1000
    entries = len(reply["entries"])
    via, sub = [cold], []
    for _ in range(runs - 1):
        started = time.perf_counter()
        await control(bus, daemon_id, "fs.tree", {"workspace": str(repo), "path": "."})
        via.append((time.perf_counter() - started) * 1000)
    for _ in range(runs):
        started = time.perf_counter()
        await control(bus, daemon_id, "fs.tree", {"workspace": str(repo), "path": "pkg042"})
        sub.append((time.perf_counter() - started) * 1000)
    floor = []
    for _ in range(runs):
        started = time.perf_counter()
        with os.scandir(repo) as it:
            for entry in it:
                entry.stat(follow_symlinks=False)
        floor.append((time.perf_counter() - started) * 1000)
    FileService().tree(repo)  # the direct call, for comparison in-process (not timed)
    return via, sub, floor, entries


async def control(bus: Bus, daemon_id: str, name: str, body: dict[str, Any]) -> Any:
    reply = await bus.request(subjects.daemon_ctl(daemon_id, name), json.dumps(body).encode(), timeout=30)
    doc = reply.json()
    if isinstance(doc, dict) and doc.get("ok") is False:
        raise RuntimeError(f"{name}: {doc.get('error')}")
    return doc


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="reliant-bench-daemon-") as tmp:
        root = Path(tmp)
        workspace = root / "ws"
        workspace.mkdir()
        (workspace / ".reliant").mkdir()
        (workspace / ".reliant" / "mcp.json").write_text(
            json.dumps({"mcpServers": {"test": {"command": sys.executable, "args": [str(TEST_SERVER)]}}})
        )
        repo = root / "repo"
        make_repo(repo, args.files)
        token = uuid.uuid4().hex
        nats = await embedded.start_nats(
            embedded.NatsConfig(
                store_dir=root / "nats",
                config_path=root / "nats.conf",
                log_path=root / "nats.log",
                port=free_port(),
                token=token,
            )
        )
        port = free_port()
        settings = Settings(
            data_dir=root / "data",
            nats_url=nats.url,
            nats_token=token,
            gateway_port=port,
            gateway_address=f"127.0.0.1:{port}",
            daemon_token="bench",
            daemon_id=f"d-bench{uuid.uuid4().hex[:4]}",
            daemon_workspaces=(workspace, repo),
        )
        tasks = []
        try:
            bus = await Bus.connect(nats.url, token)
            gateway_task, _ = await run_role(GatewayRole(settings))
            daemon = DaemonRole(settings)
            daemon_task, _ = await run_role(daemon)
            tasks = [daemon_task, gateway_task]
            d = settings.daemon_id
            where = {"workspace": str(workspace.resolve())}
            trust = (await control(bus, d, "trust.get", where))["trust"]
            await control(bus, d, "trust.grant", {**where, "fingerprint": trust["fingerprint"]})  # as the user would
            await control(bus, d, "mcp.list", {"workspace": str(workspace)})  # start the server
            keys = await keystrokes(bus, d, workspace, args.keys)
            floor_nats = await nats_floor(bus, args.keys)
            floor_pty = await asyncio.to_thread(pty_floor, args.keys)
            direct = await mcp_direct(args.calls)
            hosted, via_gateway = await mcp_via_daemon(bus, d, daemon.host, workspace, args.calls)
            tree_via, tree_sub, tree_floor, entries = await tree(bus, d, repo, args.tree_runs)
            await bus.close()
        finally:
            for task in tasks:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await nats.stop()
    k, fn, fp = summary(keys), summary(floor_nats), summary(floor_pty)
    md, mh, mg = summary(direct), summary(hosted), summary(via_gateway)
    return {
        "keystroke_p50_ms": k["p50"],
        "keystroke_p90_ms": k["p90"],
        "keystroke_p99_ms": k["p99"],
        "floor_nats_request_p50_ms": fn["p50"],
        "floor_pty_echo_p50_ms": fp["p50"],
        "keystroke_over_nats_floor": k["p50"] / fn["p50"],
        "mcp_direct_p50_ms": md["p50"],
        "mcp_toolhost_p50_ms": mh["p50"],
        "mcp_gateway_p50_ms": mg["p50"],
        "mcp_toolhost_overhead_ms": mh["p50"] - md["p50"],
        "mcp_gateway_overhead_ms": mg["p50"] - md["p50"],
        "tree_first_level_ms": statistics.median(tree_via),
        "tree_first_level_cold_ms": tree_via[0],
        "tree_subdir_ms": statistics.median(tree_sub),
        "floor_scandir_ms": statistics.median(tree_floor),
        "tree_files": args.files,
        "tree_root_entries": entries,
        "keys": args.keys,
        "calls": args.calls,
    }


def report(r: dict[str, Any]) -> None:
    rows = [
        ("keystroke-to-echo p50", r["keystroke_p50_ms"], r["floor_nats_request_p50_ms"], "NATS req/reply", "<= 10"),
        ("keystroke-to-echo p90", r["keystroke_p90_ms"], r["floor_pty_echo_p50_ms"], "local PTY echo p50", ""),
        ("keystroke-to-echo p99", r["keystroke_p99_ms"], None, "", ""),
        ("MCP call via ToolHost p50", r["mcp_toolhost_p50_ms"], r["mcp_direct_p50_ms"], "SDK direct", ""),
        ("MCP call via gateway p50", r["mcp_gateway_p50_ms"], r["mcp_direct_p50_ms"], "SDK direct", ""),
        ("tree 50k repo, 1st level p50", r["tree_first_level_ms"], r["floor_scandir_ms"], "os.scandir", "<= 100"),
        ("tree 50k repo, 1st level cold", r["tree_first_level_cold_ms"], None, "", "<= 100"),
        ("tree, a 500-file directory", r["tree_subdir_ms"], None, "", ""),
    ]
    print(f"{'metric (ms)':<32} {'reliant':>9} {'floor':>9}  {'floor is':<16} {'target':>7}  ok")
    for name, value, floor, what, target in rows:
        ok = "" if not target else ("yes" if value <= float(target.split()[-1]) else "NO")
        shown = f"{floor:9.3f}" if floor is not None else f"{'':>9}"
        print(f"{name:<32} {value:9.3f} {shown}  {what:<16} {target:>7}  {ok}")
    print(
        f"MCP overhead over a direct SDK call: +{r['mcp_toolhost_overhead_ms']:.3f} ms in the daemon, "
        f"+{r['mcp_gateway_overhead_ms']:.3f} ms through NATS and the gateway"
    )
    print(json.dumps({"bench": "daemon", **{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--tree-runs", type=int, default=20)
    result = asyncio.run(main(parser.parse_args()))
    report(result)
    ok = (
        result["keystroke_p50_ms"] <= TARGETS["keystroke_p50_ms"]
        and result["tree_first_level_ms"] <= TARGETS["tree_first_level_ms"]
    )
    raise SystemExit(0 if ok else 1)
