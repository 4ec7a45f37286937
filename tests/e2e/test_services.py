"""The embedded services under `reliant up` and `reliant services` are supervised: one that is
killed comes back on its port with its data and the roles reconnect by themselves; one that keeps
dying ends the run with a clear error. And a power cut (everything SIGKILLed at once) is followed by
a start that works, every time."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import Appliance, Proc, Rest, clean_env, run_cli, wait_gone
from tests.support import pid_alive, processes_mentioning, wait_until

pytestmark = pytest.mark.e2e


def _run_record(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "run.json").read_text())


def _replaced(data_dir: Path, service: str, old: int) -> int | None:
    """The pid of the service's new process, once run.json names one."""
    pid = int(_run_record(data_dir)["service_pids"][service])
    return pid if pid != old else None


def _chat_completes(up: Appliance, workspace: Path, marker: str) -> None:
    script = up.data_dir / f"{marker}.yaml"  # scripts may lie in the data dir or the chat's project
    shell = {"name": "shell", "input": {"command": f"echo {marker} >> effects.log"}}
    script.write_text(yaml.safe_dump({"turns": [{"tools": [shell]}, {"text": "done"}]}))
    rest = Rest(up.url, up.token)
    # Just after a service came back the api may still answer 503 (it names what is unreachable)
    # for a moment; it must answer again by itself, without a restart.
    [projects] = wait_until(lambda: [rest.call("GET", "/api/projects", timeout=5)], timeout=30, interval=0.2)
    project = next((p for p in projects if p["path"] == str(workspace)), None)
    project = project or rest.project(workspace)
    chat = rest.chat(project["id"], f"scripted:{script}")
    rest.send(chat["id"], "go")
    rest.wait_idle(chat["id"], timeout=60)
    assert rest.messages(chat["id"])[-1]["blocks"][-1]["text"] == "done"
    assert (workspace / "effects.log").read_text().split().count(marker) == 1


@pytest.fixture
def appliance(tmp_path: Path) -> Any:
    up = Appliance(tmp_path / "data", env=clean_env())
    yield up
    if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
        up.kill()
    for pid, _ in processes_mentioning(str(tmp_path)):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(240)
def test_up_restarts_a_killed_service_and_the_roles_reconnect(appliance: Appliance, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    appliance.start()
    _chat_completes(appliance, workspace, "first")
    for service in ("nats", "temporal", "postgres"):
        old = _run_record(appliance.data_dir)["service_pids"][service]
        os.kill(old, signal.SIGKILL)
        new = wait_until(functools.partial(_replaced, appliance.data_dir, service, old), timeout=30)
        assert pid_alive(new)
        # postgres is not our child (pg_ctl daemonizes it): how it died is not ours to know
        how = "exited" if service == "postgres" else "killed by SIGKILL"
        assert f"{service} (pid {old}) died: {how}; restarting it in" in appliance.proc.output()  # type: ignore[union-attr]
        _chat_completes(appliance, workspace, f"after-{service}")
    assert appliance.stop() == 0
    assert appliance.leftovers() == []


def test_services_exits_with_a_clear_error_when_a_service_keeps_dying(tmp_path: Path) -> None:
    data = tmp_path / "infra"
    proc = Proc(["services", "--data-dir", str(data)], tmp_path / "services.log", env=clean_env()).start()
    try:
        proc.wait_for_output("Press Ctrl-C to stop.")
        for _ in range(4):
            old = _run_record(data)["service_pids"]["nats"]
            os.kill(old, signal.SIGKILL)
            wait_until(lambda o=old: _run_record(data)["service_pids"]["nats"] != o, timeout=30)
        os.kill(_run_record(data)["service_pids"]["nats"], signal.SIGKILL)
        assert proc.process is not None
        assert proc.process.wait(30) == 1
        message = "error: nats: died 5 times within 60s (last: killed by SIGKILL); not restarting it again"
        assert message in proc.output()
        wait_until(lambda: not processes_mentioning(str(data)), timeout=15)
    finally:
        if proc.process is not None and proc.process.poll() is None:
            proc.kill()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


def test_a_command_for_the_api_says_that_reliant_services_runs_here_without_one(tmp_path: Path) -> None:
    """Not 'start it with `reliant up`', which would say that reliant is already running here."""
    data = tmp_path / "infra"
    proc = Proc(["services", "--data-dir", str(data)], tmp_path / "services.log", env=clean_env()).start()
    try:
        proc.wait_for_output("Press Ctrl-C to stop.")
        done = run_cli("status", "--data-dir", str(data), env=clean_env(), timeout=60)
        assert done.returncode == 1
        assert done.stderr.strip() == (
            f"error: `reliant services` (pid {proc.pid}) runs here, in {data}, without an api: start one"
            f" with `reliant server api` and the settings of {data / 'services.env'}, then point the CLI"
            " at it: RELIANT_API_URL, --api-url or `reliant context add`"
        )
        assert proc.stop() == 0
        gone = run_cli("status", "--data-dir", str(data), env=clean_env(), timeout=60)
        assert gone.returncode == 1 and "no running reliant found" in gone.stderr
    finally:
        if proc.process is not None and proc.process.poll() is None:
            proc.kill()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(300)
def test_up_starts_at_once_after_a_power_cut_again_and_again(appliance: Appliance, tmp_path: Path) -> None:
    """SIGKILL the appliance and every service it started at the same moment (as a power cut
    would), and start again at once: the postmaster is then still a zombie for a while."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    appliance.start()
    for round_ in range(3):
        run = _run_record(appliance.data_dir)
        victims = [run["pid"], *run["service_pids"].values()]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):  # gone already: it dies with its parent
                os.kill(pid, signal.SIGKILL)
        appliance.proc.process.wait(10)  # type: ignore[union-attr]
        wait_gone(victims)  # dead: zombies count as gone
        appliance.start()
        assert appliance.get("/ready")[0] == 200
        _chat_completes(appliance, workspace, f"round-{round_}")
    assert appliance.stop() == 0
    assert appliance.leftovers() == []
