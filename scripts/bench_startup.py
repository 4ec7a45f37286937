"""Benchmark: how fast `reliant up` becomes ready, and what it costs at idle.

Measures, against a floor taken in the same run (the three embedded services started on their own):
  cold start  fresh data dir -> GET /ready = 200      (median of N)
  warm start  existing data dir -> GET /ready = 200   (median of N)
  idle RSS    every process of a running appliance, summed, after it settles

    python scripts/bench_startup.py [--runs 5]

Prints a table and one JSON line. Targets: warm <= 1.5 s, cold <= 3 s, idle RSS <= 450 MiB.
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
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import embedded  # noqa: E402
from embedded.ports import free_port  # noqa: E402

TARGETS = {"warm_s": 1.5, "cold_s": 3.0, "idle_rss_mib": 450.0}


def ready(url: str, token: str) -> bool:
    request = urllib.request.Request(url + "/ready", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_up(data_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reliant", "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("RELIANT_")},
    )
    token_file = data_dir / "secrets" / "api_token"
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"reliant up exited with {proc.returncode}")
        if token_file.exists() and ready(url, token_file.read_text().strip()):
            return proc, time.perf_counter() - began
        time.sleep(0.005)
        if time.perf_counter() - began > 60:
            proc.kill()
            raise RuntimeError("reliant up not ready in 60s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


def rss_mib(pids: set[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def appliance_pids(root_pid: int, data_dir: Path) -> set[int]:
    """The up process, its children, and the postgres processes serving this data dir."""
    pids = {root_pid}
    pg_pid = None
    pidfile = data_dir / "postgres" / "postmaster.pid"
    if pidfile.exists():
        pg_pid = int(pidfile.read_text().split()[0])
        pids.add(pg_pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == root_pid or (pg_pid is not None and ppid == pg_pid):
            pids.add(int(entry.name))
    return pids


async def services_floor(root: Path) -> float:
    logs = root / "logs"
    pg = embedded.PostgresConfig(cluster_dir=root / "pg", log_path=logs / "pg.log", port=free_port(), password="p")
    nats = embedded.NatsConfig(
        store_dir=root / "nats",
        config_path=root / "nats.conf",
        log_path=logs / "nats.log",
        port=free_port(),
        token="t",
    )
    temporal = embedded.TemporalConfig(
        db_path=root / "t.db",
        log_path=logs / "t.log",
        port=free_port(),
        http_port=free_port(),
        metrics_port=free_port(),
    )
    began = time.perf_counter()
    services = await embedded.start_services(pg, nats, temporal)
    elapsed = time.perf_counter() - began
    await services.stop()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="reliant-bench-"))
    try:
        floor_cold, floor_warm = [], []
        for i in range(args.runs):
            floor_cold.append(asyncio.run(services_floor(base / f"floor-{i}")))
            floor_warm.append(asyncio.run(services_floor(base / f"floor-{i}")))

        cold, warm = [], []
        for i in range(args.runs):
            data = base / f"cold-{i}"
            proc, elapsed = start_up(data, free_port())
            cold.append(elapsed)
            stop(proc)
        warm_dir = base / "cold-0"
        port = json.loads((warm_dir / "ports.json").read_text())["api"]
        for _ in range(args.runs):
            proc, elapsed = start_up(warm_dir, port)
            warm.append(elapsed)
            stop(proc)

        proc, _ = start_up(warm_dir, port)
        time.sleep(5)
        idle = rss_mib(appliance_pids(proc.pid, warm_dir))
        stop(proc)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    result = {
        "cold_s": statistics.median(cold),
        "warm_s": statistics.median(warm),
        "idle_rss_mib": idle,
        "floor_cold_s": statistics.median(floor_cold),
        "floor_warm_s": statistics.median(floor_warm),
        "runs": args.runs,
    }
    rows = [
        (
            "cold start to /ready",
            f"{result['cold_s']:.3f} s",
            f"{result['floor_cold_s']:.3f} s",
            f"<= {TARGETS['cold_s']} s",
            result["cold_s"] <= TARGETS["cold_s"],
        ),
        (
            "warm start to /ready",
            f"{result['warm_s']:.3f} s",
            f"{result['floor_warm_s']:.3f} s",
            f"<= {TARGETS['warm_s']} s",
            result["warm_s"] <= TARGETS["warm_s"],
        ),
        (
            "idle RSS, all processes",
            f"{idle:.0f} MiB",
            "",
            f"<= {TARGETS['idle_rss_mib']:.0f} MiB",
            idle <= TARGETS["idle_rss_mib"],
        ),
    ]
    print(f"{'metric':<26} {'reliant up':>12} {'services only':>14} {'target':>12}  ok")
    for name, value, floor, target, ok in rows:
        print(f"{name:<26} {value:>12} {floor:>14} {target:>12}  {'yes' if ok else 'NO'}")
    result["ok"] = all(row[-1] for row in rows)
    print(
        json.dumps({"bench": "startup", **{k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}})
    )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
