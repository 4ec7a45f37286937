"""Replicas of the split roles share their secrets through configuration only (files and env), never
through a data dir: two apis and two workers, each on its own data dir, serve one deployment."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml

from embedded.ports import server_port
from tests.e2e.harness import Proc, Rest, clean_env, http_json, run_cli
from tests.support import processes_mentioning, wait_until

pytestmark = pytest.mark.e2e


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_two_apis_and_two_workers_share_secrets_only_by_files_and_env(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    procs: list[Proc] = []

    def start(name: str, args: list[str], env: dict[str, str], ready: str) -> Proc:
        proc = Proc(args, tmp_path / f"{name}.log", env=env).start()
        procs.append(proc)
        proc.wait_for_output(ready)
        return proc

    try:
        start("services", ["services", "--data-dir", str(infra)], clean_env(), "Press Ctrl-C to stop.")
        shared = _read_env(infra / "services.env")
        secrets = infra / "secrets"
        url = shared["RELIANT_DATABASE_URL"]
        url_without_password = url.replace(":" + (secrets / "postgres_password").read_text().strip() + "@", "@")
        assert url_without_password != url
        base = {k: shared[k] for k in ("RELIANT_NATS_URL", "RELIANT_TEMPORAL_ADDRESS", "RELIANT_TEMPORAL_NAMESPACE")}
        # Replica 1 of each role reads every secret from a file; replica 2 gets the values in its
        # environment (the Postgres password apart from the URL, as a Secret would give it).
        by_files = clean_env(
            **base,
            RELIANT_DATABASE_URL=url,
            RELIANT_NATS_TOKEN_FILE=str(secrets / "nats_token"),
            RELIANT_API_TOKEN_FILE=str(secrets / "api_token"),
            RELIANT_DAEMON_TOKEN_FILE=str(secrets / "daemon_token"),
            RELIANT_CODEC_KEY_FILE=str(secrets / "codec_key"),
        )
        by_values = clean_env(
            **base,
            RELIANT_DATABASE_URL=url_without_password,
            RELIANT_DATABASE_PASSWORD_FILE=str(secrets / "postgres_password"),
            RELIANT_NATS_TOKEN=(secrets / "nats_token").read_text().strip(),
            RELIANT_API_TOKEN=(secrets / "api_token").read_text().strip(),
            RELIANT_CODEC_KEY=(secrets / "codec_key").read_text().splitlines()[0],
        )
        api_ports = [server_port(), server_port()]
        gateway_port, worker_probes, gateway_probes = server_port(), server_port(), server_port()
        for n, env in enumerate((by_files, by_values), 1):
            data = ["--data-dir", str(tmp_path / f"worker-{n}")]
            probes = ["--probe-port", str(worker_probes)] if n == 1 else []
            start(f"worker-{n}", ["server", "worker", *data, *probes], env, "reliant worker ready")
        gateway = ["server", "gateway", "--port", str(gateway_port), "--probe-port", str(gateway_probes)]
        start("gateway", [*gateway, "--data-dir", str(tmp_path / "gateway")], by_files, "reliant gateway ready")
        for probes in (worker_probes, gateway_probes):  # Kubernetes' probes of the worker and gateway
            assert http_json("GET", f"http://127.0.0.1:{probes}/health") == (200, {"status": "ok"})
            assert http_json("GET", f"http://127.0.0.1:{probes}/ready") == (200, {"ready": True})
        for n, env in enumerate((by_files, by_values), 1):
            args = ["server", "api", "--port", str(api_ports[n - 1]), "--data-dir", str(tmp_path / f"api-{n}")]
            start(f"api-{n}", args, env, "reliant api ready")
        daemon = ["daemon", "start", "--gateway", f"127.0.0.1:{gateway_port}", "--workspace", str(workspace)]
        start("daemon", [*daemon, "--data-dir", str(tmp_path / "daemon")], by_files, "connected to")

        for role_dir in ("worker-1", "worker-2", "gateway", "api-1", "api-2"):
            assert not list((tmp_path / role_dir / "secrets").iterdir()), f"{role_dir} made a secret of its own"

        token = (secrets / "api_token").read_text().strip()
        for port in api_ports:  # the api's own probes need no token and tell nothing more without it
            assert http_json("GET", f"http://127.0.0.1:{port}/ready") == (200, {"ready": True})
        api1, api2 = (Rest(f"http://127.0.0.1:{port}", token) for port in api_ports)
        script = workspace / "script.yaml"
        script.write_text(yaml.safe_dump({"turns": [{"text": "shared " * 40, "delay_ms": 5}]}))
        project = api1.project(workspace)
        chat = api1.chat(project["id"], f"scripted:{script}")
        follower = api2.follow(chat["id"])
        try:
            api1.send(chat["id"], "hello from api-1")
            api2.wait_idle(chat["id"])
            wait_until(lambda: "message_completed" in follower.kinds())
            assert "block_delta" in follower.kinds(), "api-2 streamed the answer as it was made"
        finally:
            follower.close()
        answer = api2.messages(chat["id"])[-1]
        assert answer["role"] == "assistant" and "shared shared" in str(answer)
    finally:
        for proc in reversed(procs):
            if proc.process is not None and proc.process.poll() is None:
                proc.stop()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("role", "setting"),
    [("api", "api_token_file"), ("worker", "codec_key_file"), ("gateway", "daemon_token_file")],
)
def test_a_split_role_refuses_to_invent_a_secret_its_replicas_share(tmp_path: Path, role: str, setting: str) -> None:
    env = clean_env(
        RELIANT_DATABASE_URL="postgresql://reliant@127.0.0.1:1/reliant",
        RELIANT_NATS_URL="nats://127.0.0.1:1",
        RELIANT_TEMPORAL_ADDRESS="127.0.0.1:1",
        RELIANT_CODEC_KEY="k" * 43 if role == "api" else "",
    )
    port = ["--port", str(server_port())] if role != "worker" else []
    done = run_cli("server", role, *port, "--data-dir", str(tmp_path / "role"), env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert setting in done.stderr and "its replicas share" in done.stderr, done.stderr
    assert not (tmp_path / "role").exists(), "refused before making anything"
