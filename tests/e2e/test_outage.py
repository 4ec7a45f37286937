"""Infrastructure outages are waited out: with the roles split into processes, Postgres goes away
for ~20 s in the middle of a tool-heavy chat and comes back; the chat goes on by itself and
completes, never paused, no click needed."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import embedded
from embedded.ports import server_port
from tests.conftest import service_configs
from tests.e2e.harness import Proc, Rest, clean_env, http_json, run_cli, shared_secrets
from tests.support import processes_mentioning, wait_until

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = 20
TURNS = 12


class Split:
    """The roles as separate processes against services the test owns (and can stop)."""

    def __init__(self, root: Path, services: embedded.Services, nats_token: str) -> None:
        self.root = root
        self.services = services
        self.nats_token = nats_token
        self.procs: list[Proc] = []
        self.api_port = server_port()
        self.gateway_port = server_port()

    def start(self, workspace: Path) -> None:
        roles = self.root / "roles"
        env = clean_env(**shared_secrets(self.root / "shared"))
        common = ["--nats-url", self.services.nats.url, "--nats-token", self.nats_token, "--data-dir", str(roles)]
        temporal = ["--temporal-address", self.services.temporal.address, "--temporal-namespace", "reliant"]
        db = ["--db-url", self.services.postgres.url]
        port = ["--port"]
        for name, args, ready in (
            ("worker", ["server", "worker", *db, *common, *temporal], "reliant worker ready"),
            ("gateway", ["server", "gateway", *port, str(self.gateway_port), *common], "reliant gateway ready"),
            ("api", ["server", "api", *port, str(self.api_port), *db, *common, *temporal], "reliant api ready"),
        ):
            proc = Proc(args, self.root / f"{name}.log", env=env).start()
            self.procs.append(proc)
            proc.wait_for_output(ready)
        daemon = Proc(
            [
                "daemon",
                "start",
                "--gateway",
                f"127.0.0.1:{self.gateway_port}",
                "--token-file",
                str(self.root / "shared" / "daemon_token"),
                "--workspace",
                str(workspace),
                "--data-dir",
                str(self.root / "daemon"),
            ],
            self.root / "daemon.log",
            env=env,
        ).start()
        self.procs.append(daemon)
        daemon.wait_for_output("connected to")

    @property
    def rest(self) -> Rest:
        token = (self.root / "shared" / "api_token").read_text().strip()
        return Rest(f"http://127.0.0.1:{self.api_port}", token)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.process is not None and proc.process.poll() is None:
                proc.stop()


def _status_says_waiting(rest: Rest) -> bool:
    shown = run_cli("status", "--api-url", rest.url, "--token", rest.token, env=clean_env(), timeout=30)
    return "waiting for postgres" in shown.stdout


@pytest.mark.timeout(240)
async def test_a_postgres_outage_in_split_mode_is_waited_out_without_a_pause(tmp_path: Path) -> None:
    pg, nats, temporal = service_configs(tmp_path / "infra")
    services = await embedded.start_services(pg, nats, temporal)
    split = Split(tmp_path, services, nats.token)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    turns: list[dict[str, Any]] = [
        {"tools": [{"name": "shell", "input": {"command": f"echo t{i} >> effects.log; sleep 0.3"}}]}
        for i in range(TURNS)
    ]
    script = workspace / ".script.yaml"  # scripts may lie in the chat's project (or the data dir)
    script.write_text(yaml.safe_dump({"turns": [*turns, {"text": "done"}]}))
    effects = workspace / "effects.log"
    try:
        await asyncio.to_thread(split.start, workspace)
        rest = split.rest
        chat = rest.chat(rest.project(workspace)["id"], f"scripted:{script}")
        rest.send(chat["id"], "work through the script")
        await asyncio.to_thread(
            wait_until, lambda: effects.exists() and len(effects.read_text().split()) >= 2, timeout=60
        )

        await services.postgres.stop()
        outage_ends = asyncio.get_running_loop().time() + OUTAGE_SECONDS
        # Meanwhile the api answers 503 (try again), and `reliant status` says what the worker waits for.
        status, _ = http_json("GET", rest.url + "/api/projects", token=rest.token)
        assert status == 503
        await asyncio.to_thread(wait_until, functools.partial(_status_says_waiting, rest), timeout=15)
        await asyncio.sleep(outage_ends - asyncio.get_running_loop().time())
        services.postgres = await embedded.start_postgres(pg)

        await asyncio.to_thread(rest.wait_idle, chat["id"], 120)  # fails on a pause
        messages = rest.messages(chat["id"])
        assert messages[-1]["blocks"][-1]["text"] == "done"
        ran = Counter(effects.read_text().split())
        assert max(ran.values()) == 1, f"a side effect happened twice: {ran}"
        states = Counter(b["tool_state"] for m in messages for b in m["blocks"] if b["type"] == "tool_call")
        assert sum(states.values()) == TURNS
        updates = rest.updates(chat["id"])
        paused = [u for u in updates if u["kind"] == "chat_status" and u["payload"]["status"] == "paused"]
        assert paused == [], paused
    finally:
        await asyncio.to_thread(split.stop)
        await services.stop()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
