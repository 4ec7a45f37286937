"""The same roles split into separate processes, as a team would run them across machines."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from embedded.ports import server_port
from tests.e2e.harness import Proc, clean_env, http_json, run_cli
from tests.support import processes_mentioning, wait_until

pytestmark = pytest.mark.e2e


def _read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_split_mode_roles_in_separate_processes_pass_the_doctor(tmp_path: Path) -> None:
    env = clean_env()
    infra_dir, server_dir, daemon_dir = tmp_path / "infra", tmp_path / "server", tmp_path / "daemon"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    procs: list[Proc] = []

    def start(name: str, *args: str, ready: str) -> Proc:
        proc = Proc(list(args), tmp_path / f"{name}.log", env=env).start()
        procs.append(proc)
        proc.wait_for_output(ready)
        return proc

    try:
        start("services", "services", "--data-dir", str(infra_dir), ready="Press Ctrl-C to stop.")
        urls = _read_env(infra_dir / "services.env")
        # Replicas share the codec key and the tokens of the services' data dir, as files, as
        # `. services.env` gives them.
        for name in ("CODEC_KEY", "API_TOKEN", "DAEMON_TOKEN"):
            env[f"RELIANT_{name}_FILE"] = urls[f"RELIANT_{name}_FILE"]
            assert urls[f"RELIANT_{name}_FILE"] == str(infra_dir / "secrets" / name.lower())
        nats_token = Path(urls["RELIANT_NATS_TOKEN_FILE"]).read_text().strip()
        common = ["--nats-url", urls["RELIANT_NATS_URL"], "--nats-token", nats_token, "--data-dir", str(server_dir)]
        temporal = ["--temporal-address", urls["RELIANT_TEMPORAL_ADDRESS"], "--temporal-namespace", "reliant"]
        db = ["--db-url", urls["RELIANT_DATABASE_URL"]]
        api_port, gateway_port = server_port(), server_port()
        worker_dir = ["--data-dir", str(tmp_path / "worker")]  # its own: only the shared key links it to the api
        start("worker", "server", "worker", *db, *common, *temporal, *worker_dir, ready="reliant worker ready")
        start(
            "gateway",
            "server",
            "gateway",
            "--port",
            str(gateway_port),
            *common,
            ready="reliant gateway ready",
        )
        start(
            "api",
            "server",
            "api",
            "--port",
            str(api_port),
            *db,
            *common,
            *temporal,
            ready="reliant api ready",
        )
        token_file = infra_dir / "secrets" / "daemon_token"
        daemon_args = [
            "daemon",
            "start",
            "--gateway",
            f"127.0.0.1:{gateway_port}",
            "--token-file",
            str(token_file),
            "--workspace",
            str(workspace),
            "--name",
            "split-daemon",
            "--data-dir",
            str(daemon_dir),
        ]
        daemon = start("daemon", *daemon_args, ready="connected to")

        for role_dir in (tmp_path / "worker", server_dir):
            assert (role_dir / "secrets").is_dir() and not list((role_dir / "secrets").iterdir()), "no secret made"
        pids = {p.pid for p in procs}
        assert len(pids) == 5, "every role runs in its own process"
        api_token = (infra_dir / "secrets" / "api_token").read_text().strip()
        api = f"http://127.0.0.1:{api_port}"
        assert http_json("GET", api + "/ready", token=api_token)[0] == 200

        doctor = run_cli("doctor", "--api-url", api, "--token", api_token, env=env)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "split-daemon" in doctor.stdout and "daemon: ping tool" in doctor.stdout

        # The daemon goes away and comes back: reported offline, then the doctor passes again.
        daemon.stop()
        wait_until(lambda: "offline" in run_cli("status", "--api-url", api, "--token", api_token, env=env).stdout)
        start("daemon-again", *daemon_args, ready="connected to")
        doctor = run_cli("doctor", "--api-url", api, "--token", api_token, env=env)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr

        # A daemon with the wrong token is refused with a message that says what to do.
        bad = tmp_path / "bad-token"
        bad.write_text("not-the-token\n")
        refused = run_cli(
            "daemon",
            "start",
            "--gateway",
            f"127.0.0.1:{gateway_port}",
            "--token-file",
            str(bad),
            "--data-dir",
            str(tmp_path / "intruder"),
            env=env,
            timeout=60,
        )
        assert refused.returncode == 1
        assert "daemon token rejected" in refused.stderr and "--token-file" in refused.stderr
    finally:
        for proc in reversed(procs):
            if proc.process is not None and proc.process.poll() is None:
                assert proc.stop() == 0, proc.output()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
