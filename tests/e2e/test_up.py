"""`reliant up` as a subprocess, driven like a user would: HTTP, the CLI, signals and kill -9."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.e2e.harness import Appliance, Rest, clean_env, reliant_cmd, run_cli, wait_gone
from tests.support import listening_ports, pid_alive, processes_mentioning, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def appliance(tmp_path: Path) -> Appliance:
    up = Appliance(tmp_path / "data", env=clean_env())
    yield up
    if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
        up.stop()
    for pid, _ in up.leftovers():
        os.kill(pid, signal.SIGKILL)


def test_up_is_ready_passes_doctor_and_keeps_rows_across_a_restart(appliance: Appliance) -> None:
    appliance.start()
    assert appliance.proc is not None and "without TLS" not in appliance.proc.output(), "loopback: no warning"
    assert appliance.get("/health", token="")[0] == 200
    status, body = appliance.get("/ready")
    assert status == 200 and body["ready"] is True, body
    assert appliance.get("/api/version", token="")[0] == 401
    assert appliance.get("/api/version", token="wrong")[0] == 401
    assert appliance.get("/api/version")[1]["version"]

    doctor = appliance.cli("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "grpc: gateway -> daemon" in doctor.stdout and "daemon: ping tool" in doctor.stdout

    shown = appliance.cli("status", "--json")
    assert shown.returncode == 0, shown.stderr
    state = json.loads(shown.stdout)
    assert {r["role"] for r in state["roles"]} == {"api", "worker", "gateway"}
    assert [d["online"] for d in state["daemons"]] == [True]
    assert {s["name"] for s in state["services"] if s["ok"]} == {"postgres", "nats", "temporal"}
    assert state["ports"]["api"] == appliance.port

    runs_before = appliance.get("/api/doctor/runs")[1]
    assert len(runs_before) == 1 and runs_before[0]["ok"] is True
    ports = json.loads((appliance.data_dir / "ports.json").read_text())

    assert appliance.stop() == 0
    assert not (appliance.data_dir / "run.json").exists()
    assert appliance.leftovers() == []

    appliance.start()
    assert appliance.get("/ready")[0] == 200
    assert appliance.get("/api/doctor/runs")[1] == runs_before
    assert json.loads((appliance.data_dir / "ports.json").read_text()) == ports


def test_the_data_dir_of_a_running_up_is_private_and_nats_has_no_monitor(appliance: Appliance) -> None:
    appliance.start()
    assert appliance.cli("doctor").returncode == 0  # every service and role has written what it writes
    assert stat.S_IMODE(appliance.data_dir.stat().st_mode) == 0o700
    loose = []
    for path in appliance.data_dir.rglob("*"):
        mode = path.lstat().st_mode
        if stat.S_ISSOCK(mode) or stat.S_ISLNK(mode):
            continue  # postgres's unix socket: reachable only through the private dirs above it
        if stat.S_IMODE(mode) & 0o077:
            loose.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(appliance.data_dir)}")
    assert not loose, "\n".join(loose)
    for name in ("reliant.lock", "ports.json", "run.json", "daemon_id", "temporal.db", "logs/reliant.log"):
        assert (appliance.data_dir / name).is_file(), name
    # The NATS monitor (no auth, lists clients and subjects) is not served unless asked for.
    ports = json.loads((appliance.data_dir / "ports.json").read_text())
    assert "nats_monitor" not in ports
    nats_pid = json.loads((appliance.data_dir / "run.json").read_text())["service_pids"]["nats"]
    assert listening_ports(nats_pid) == {ports["nats"]}


def test_a_data_dir_made_before_is_tightened_on_start(appliance: Appliance) -> None:
    data = appliance.data_dir
    (data / "logs").mkdir(parents=True)
    data.chmod(0o755)
    (data / "logs").chmod(0o755)
    (data / "ports.json").write_text("{}\n")
    (data / "ports.json").chmod(0o644)
    (data / "logs" / "reliant.log").write_text("old lines\n")
    (data / "logs" / "reliant.log").chmod(0o644)
    appliance.start()
    for path in (data, data / "logs"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in (data / "ports.json", data / "logs" / "reliant.log"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_second_up_on_the_same_data_dir_fails_naming_the_pid(appliance: Appliance) -> None:
    appliance.start()
    second = run_cli("up", "--data-dir", str(appliance.data_dir), "--port", "0", env=clean_env(), timeout=60)
    assert second.returncode == 1
    assert f"already running here (pid {appliance.proc.pid})" in second.stderr  # type: ignore[union-attr]
    assert appliance.get("/ready")[0] == 200, "the running instance is untouched"


def test_after_kill_9_the_next_up_recovers_the_lock_and_leaves_no_orphans(appliance: Appliance) -> None:
    appliance.start()
    run = json.loads((appliance.data_dir / "run.json").read_text())
    pids = run["service_pids"]
    appliance.kill()
    wait_gone([pids["nats"], pids["temporal"]], timeout=15)
    assert pid_alive(pids["postgres"]), "pg_ctl daemonizes postgres; the next up must deal with it"

    appliance.start()
    assert "reused a postgres left running" in appliance.proc.output()  # type: ignore[union-attr]
    assert appliance.get("/ready")[0] == 200
    assert appliance.cli("doctor").returncode == 0
    assert appliance.stop() == 0
    assert appliance.leftovers() == []


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_lost_postgres_password_is_made_anew_and_the_data_is_kept(appliance: Appliance, how: str) -> None:
    """secrets/ deleted (to rotate the tokens, say) or not restored with a backup: the database is
    still reliant's own, opened with a new password, never locked away by it."""
    appliance.start()
    assert appliance.cli("doctor").returncode == 0
    runs_before = appliance.get("/api/doctor/runs")[1]
    if how == "stop":
        assert appliance.stop() == 0
    else:
        appliance.kill()  # its postmaster goes on, with the old password
    secret = appliance.data_dir / "secrets" / "postgres_password"
    old = secret.read_text()
    secret.unlink()

    appliance.start()
    assert appliance.get("/ready")[0] == 200
    assert appliance.get("/api/doctor/runs")[1] == runs_before
    assert secret.read_text().strip() and secret.read_text() != old
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert old.strip() not in (appliance.data_dir / "logs" / "postgres.log").read_text()
    assert secret.read_text().strip() not in (appliance.data_dir / "logs" / "postgres.log").read_text()
    assert appliance.stop() == 0
    assert appliance.leftovers() == []


def test_ctrl_c_in_the_terminal_while_the_first_start_makes_the_database_stops_cleanly(appliance: Appliance) -> None:
    """A terminal's Ctrl-C reaches its whole foreground process group: the programs that make and
    start the database are no part of it, so they finish, and reliant stops in order instead of
    reporting them killed as a failed start."""
    data = appliance.data_dir
    log = data.parent / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            reliant_cmd("up", "--data-dir", str(data), "--port", str(appliance.port)),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
            start_new_session=True,  # its own group, as a shell gives a foreground job
        )
    try:

        def bootstrapping() -> bool:  # initdb's own child, which builds the catalogs
            for pid, _ in processes_mentioning(str(data / "postgres.init")):
                with contextlib.suppress(psutil.Error):
                    if any("--boot" in child.cmdline() for child in psutil.Process(pid).children(recursive=True)):
                        return True
            return False

        wait_until(bootstrapping, timeout=30, interval=0.005)
        os.killpg(up.pid, signal.SIGINT)
        assert up.wait(30) == 0, log.read_text()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    said = log.read_text()
    assert "error" not in said.lower() and said.strip().splitlines()[-1] == "reliant stopped", said
    assert "did not stop" not in said, "roles were started only to be cancelled"
    assert appliance.leftovers() == []
    appliance.start()
    assert appliance.get("/ready")[0] == 200


def test_a_taken_port_is_a_clear_error_and_starts_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_cli("up", "--data-dir", str(data), "--port", str(port), env=clean_env(), timeout=60)
    assert done.returncode == 1
    assert f"api: port {port} on 127.0.0.1 is already in use" in done.stderr
    wait_until(lambda: not _processes_of(data), timeout=10)


@pytest.mark.parametrize(
    ("host", "reason"),
    [("192.0.2.1", "Cannot assign requested address"), ("no-such-host.invalid", "Name or service not known")],
)
def test_an_address_not_of_this_machine_is_named_as_such_not_as_a_taken_port(
    tmp_path: Path, host: str, reason: str
) -> None:
    """192.0.2.1 is TEST-NET-1, never an address of this machine; the port is free all along."""
    data = tmp_path / "data"
    done = run_cli("up", "--data-dir", str(data), "--host", host, env=clean_env(), timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: api: cannot listen on {host}:"), done.stderr
    assert reason in lines[0] and "in use" not in lines[0], lines[0]
    wait_until(lambda: not _processes_of(data), timeout=10)


def test_up_on_the_ipv6_loopback_serves_and_its_daemon_reaches_its_gateway(tmp_path: Path) -> None:
    up = Appliance(tmp_path / "data", extra=("--host", "::1"), env=clean_env())
    try:
        up.start()
        assert f"Open http://[::1]:{up.port}/?token=" in up.proc.output()  # type: ignore[union-attr]
        doctor = up.cli("doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    finally:
        if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            assert up.stop() == 0
    assert up.leftovers() == []


def test_a_corrupt_config_names_the_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "reliant.toml").write_text("[api]\nport = 80 80\n")
    done = run_cli("up", "--data-dir", str(data), env=clean_env(), timeout=60)
    assert done.returncode == 1
    assert f"{data / 'reliant.toml'}:2: invalid TOML" in done.stderr
    assert not _processes_of(data)


def test_an_unwritable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run_cli("up", "--data-dir", str(blocker / "data"), env=clean_env(), timeout=60)
    assert done.returncode == 1 and "not writable" in done.stderr and "--data-dir" in done.stderr


def test_cli_commands_without_a_running_instance_say_how_to_start_one(tmp_path: Path) -> None:
    for command in ("status", "doctor"):
        done = run_cli(command, "--data-dir", str(tmp_path), env=clean_env(), timeout=60)
        assert done.returncode == 1 and "start it with `reliant up`" in done.stderr


def _processes_of(data: Path) -> list[tuple[int, str]]:
    from tests.support import processes_mentioning

    return processes_mentioning(str(data))


def test_temporal_ui_is_served_on_loopback_when_asked(tmp_path: Path) -> None:
    up = Appliance(tmp_path / "data", env=clean_env(), extra=("--temporal-ui",))
    try:
        up.start()
        state = json.loads(up.cli("status", "--json").stdout)
        ui = state["temporal_ui_url"]
        assert ui.startswith("http://127.0.0.1:"), ui
        import urllib.request

        with urllib.request.urlopen(ui, timeout=10) as response:
            assert response.status == 200
        # Payloads are sealed: the status says the Temporal UI cannot decode them.
        assert up.proc is not None
        assert "temporal-ui" in up.proc.output() and "the Temporal UI cannot decode them" in up.proc.output()
        assert "the Temporal UI cannot decode them" in up.cli("status").stdout
        assert up.stop() == 0
    finally:
        if up.proc is not None and up.proc.process is not None and up.proc.process.poll() is None:
            up.kill()


def test_up_with_its_key_file_lost_refuses_naming_it_and_keeps_the_data(appliance: Appliance, tmp_path: Path) -> None:
    appliance.start()
    (tmp_path / "project").mkdir()
    project = Rest(appliance.url, appliance.token).project(tmp_path / "project")
    assert appliance.stop() == 0
    key_file = appliance.data_dir / "secrets" / "codec_key"
    kept = key_file.read_text()
    key_file.unlink()

    up = ("up", "--data-dir", str(appliance.data_dir), "--port", str(appliance.port))
    refused = run_cli(*up, env=appliance.env, timeout=60)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"codec key file {key_file} is missing" in refused.stderr, refused.stderr
    assert "--replace-codec-key" in refused.stderr, "it says how to start over knowingly"
    assert not key_file.exists(), "no new key was made in its place"
    assert not appliance.leftovers(), "the services it started are stopped again"

    key_file.write_text(kept)
    key_file.chmod(0o600)
    appliance.start()
    projects = Rest(appliance.url, appliance.token).call("GET", "/api/projects")
    assert project["id"] in str(projects), "the data is all there with the key restored"
