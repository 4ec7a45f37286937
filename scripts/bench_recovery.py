"""Benchmark: recovery after a power cut. `reliant up` runs a chat whose answer streams slowly; the
appliance and every service it started are SIGKILLed at once, and it is started again at once.
Measured: /ready -> the chat's next update (target <= 1 s), and restart -> /ready.

Floor, on the same Temporal server in the same run: a bare workflow whose heartbeating activity
loses its worker to SIGKILL; a new worker starts; its ready -> the activity's retry starting.

    python scripts/bench_recovery.py [--rounds N]

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from tests.e2e.harness import Appliance, Rest, clean_env  # noqa: E402
from tests.support import wait_until  # noqa: E402

TARGET_S = 1.0


def _ready(url: str, token: str) -> bool:
    request = urllib.request.Request(url + "/ready", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _power_cut(up: Appliance) -> None:
    """SIGKILL the appliance and every service it started, all at once."""
    run = json.loads((up.data_dir / "run.json").read_text())
    for pid in [run["pid"], *run["service_pids"].values()]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert up.proc is not None and up.proc.process is not None
    up.proc.process.wait(10)


def reliant_rounds(root: Path, rounds: int) -> tuple[list[float], list[float], Appliance]:
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    script = root / "slow.yaml"
    script.write_text(yaml.safe_dump({"turns": [{"text": " ".join(["word"] * 200), "delay_ms": 50}]}))
    up = Appliance(root / "data", env=clean_env())
    up.start()
    rest = Rest(up.url, up.token)
    project = rest.project(workspace)
    recoveries, restarts = [], []
    for _ in range(rounds):
        chat = rest.chat(project["id"], f"scripted:{script}")
        rest.send(chat["id"], "talk")
        wait_until(lambda c=chat, r=rest: any(u["kind"] == "block_delta" for u in r.updates(c["id"])), timeout=30)
        last = max(int(u["seq"]) for u in rest.updates(chat["id"]))
        _power_cut(up)
        began = time.monotonic()
        up.runs += 1
        from tests.e2e.harness import Proc

        up.proc = Proc(
            ["up", "--data-dir", str(up.data_dir), "--port", str(up.port)], root / f"restart-{up.runs}.log", env=up.env
        ).start()
        while not _ready(up.url, up.token):
            time.sleep(0.005)
        ready_at = time.monotonic()
        rest = Rest(up.url, up.token)
        while not rest.updates(chat["id"], last):
            time.sleep(0.005)
        recoveries.append(time.monotonic() - ready_at)
        restarts.append(ready_at - began)
        rest.wait_idle(chat["id"], timeout=60)
    return recoveries, restarts, up


def floor_rounds(root: Path, temporal_address: str, rounds: int) -> list[float]:
    from temporalio.client import Client

    async def run() -> list[float]:
        client = await Client.connect(temporal_address, namespace="reliant")
        out = []
        for n in range(rounds):
            queue = f"floor-recovery-{uuid.uuid4().hex[:8]}"
            marker = root / f"floor-{n}.txt"
            marker.touch()
            first = _floor_worker(temporal_address, queue, marker, root / f"floor-{n}-a.log")
            _wait_line(root / f"floor-{n}-a.log", "ready")
            handle = await client.start_workflow("RecoveryFloor", 60.0, id=f"floor-{queue}", task_queue=queue)
            await asyncio.to_thread(wait_until, lambda m=marker: m.read_text().count("\n") >= 1, timeout=30)
            first.kill()
            first.wait()
            second = _floor_worker(temporal_address, queue, marker, root / f"floor-{n}-b.log")
            await asyncio.to_thread(_wait_line, root / f"floor-{n}-b.log", "ready")
            ready_at = time.time()
            await asyncio.to_thread(wait_until, lambda m=marker: m.read_text().count("\n") >= 2, timeout=60)
            retried_at = float(marker.read_text().splitlines()[1].split()[1])
            out.append(max(0.0, retried_at - ready_at))
            await handle.terminate()
            second.kill()
            second.wait()
        return out

    return asyncio.run(run())


def _floor_worker(address: str, queue: str, marker: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "bench_recovery_floor.py"), address, "reliant", queue, str(marker)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def _wait_line(log: Path, text: str) -> None:
    wait_until(lambda: text in log.read_text(), timeout=60, interval=0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="reliant-bench-recovery-"))
    up: Appliance | None = None
    try:
        recoveries, restarts, up = reliant_rounds(root / "reliant", args.rounds)
        run = json.loads((up.data_dir / "run.json").read_text())
        floors = floor_rounds(root, run["temporal_address"], args.rounds)
        up.stop()
    finally:
        if up is not None and up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            up.kill()
        if up is not None:
            for pid, _ in up.leftovers():
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
    r: dict[str, Any] = {
        "rounds": args.rounds,
        "recovery_p50_s": statistics.median(recoveries),
        "recovery_max_s": max(recoveries),
        "restart_to_ready_p50_s": statistics.median(restarts),
        "floor_recovery_p50_s": statistics.median(floors),
        "floor_recovery_max_s": max(floors),
    }
    r["recovery_vs_floor"] = r["recovery_p50_s"] / r["floor_recovery_p50_s"] if r["floor_recovery_p50_s"] else 0.0
    ok = r["recovery_max_s"] <= TARGET_S
    rows = [
        ("power cut: /ready -> update p50", r["recovery_p50_s"], r["floor_recovery_p50_s"], f"<= {TARGET_S:.0f} s"),
        ("power cut: /ready -> update max", r["recovery_max_s"], r["floor_recovery_max_s"], f"<= {TARGET_S:.0f} s"),
        ("restart -> /ready p50", r["restart_to_ready_p50_s"], None, ""),
    ]
    print(f"{'metric':<34} {'reliant':>10} {'floor':>10} {'target':>10}")
    for name, value, floor, target in rows:
        floor_text = f"{floor:.2f} s" if floor is not None else ""
        print(f"{name:<34} {value:>8.2f} s {floor_text:>10} {target:>10}")
    print(
        f"{'ok' if ok else 'NOT ok'}: worst recovery {r['recovery_max_s']:.2f} s against a target of {TARGET_S:.0f} s"
    )
    print(
        json.dumps(
            {"bench": "recovery", "ok": ok, **{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}}
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
