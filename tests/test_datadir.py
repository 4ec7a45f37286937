"""The data dir: lock, secrets, ports."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from embedded.ports import ephemeral_range, port_is_free, server_port
from reliant.appliance.datadir import DataDir
from reliant.errors import AlreadyRunningError, DataDirError


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from reliant.appliance.datadir import DataDir
        DataDir(Path({str(path)!r})).lock().acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    proc.stdout.close()
    assert line == "locked"
    return proc


def test_second_lock_fails_naming_the_running_pid(tmp_path: Path) -> None:
    holder = _hold_lock(tmp_path)
    try:
        with pytest.raises(AlreadyRunningError) as info:
            DataDir(tmp_path).lock().acquire()
        assert info.value.pid == holder.pid
        assert f"pid {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_kill_9_is_recovered(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = _hold_lock(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / "reliant.lock").read_text().strip() == str(holder.pid)
    caplog.set_level("INFO")
    with DataDir(tmp_path).lock():
        assert (tmp_path / "reliant.lock").read_text().strip() == str(os.getpid())
    assert f"pid {holder.pid}" in caplog.text


def test_secrets_are_generated_once_with_mode_0600(tmp_path: Path) -> None:
    d = DataDir(tmp_path)
    d.ensure()
    first = d.ensure_secrets()
    assert d.ensure_secrets() == first
    assert len(set(first.values())) == len(first)
    assert stat.S_IMODE(d.secrets_dir.stat().st_mode) == 0o700
    for name in first:
        assert stat.S_IMODE((d.secrets_dir / name).stat().st_mode) == 0o600


def test_ports_are_persisted_and_a_taken_internal_port_is_replaced(tmp_path: Path) -> None:
    d = DataDir(tmp_path)
    d.ensure()
    first = d.allocate_ports(["a", "b"], host="127.0.0.1")
    assert d.allocate_ports(["a", "b"], host="127.0.0.1") == first
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", first["a"]))
        holder.listen()
        kept = d.allocate_ports(["a"], host="127.0.0.1", keep_if_taken=frozenset({"a"}))
        assert kept["a"] == first["a"]
        moved = d.allocate_ports(["a", "b"], host="127.0.0.1")
    assert moved["a"] != first["a"] and moved["b"] == first["b"]
    assert d.ports()["a"] == moved["a"]


def test_persisted_ports_are_ones_no_outgoing_connection_is_ever_given(tmp_path: Path) -> None:
    """A server port chosen from the ephemeral range can be taken between two runs by any
    outgoing connection (a Postgres pool, Temporal's own services), and a restarted `reliant up`
    then fails to bind it: persisted ports come from outside that range."""
    low, high = ephemeral_range()
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client.connect(server.getsockname())
        taken = client.getsockname()[1]  # what an outgoing connection is given...
        assert low <= taken <= high
        assert not port_is_free(taken)  # ...blocks a server's bind to it, SO_REUSEADDR or not
    d = DataDir(tmp_path)
    d.ensure()
    names = [f"service{i}" for i in range(20)]
    ports = d.allocate_ports(names, host="127.0.0.1")
    assert len(set(ports.values())) == len(names)
    assert not [p for p in ports.values() if low <= p <= high], (ports, (low, high))
    # A data dir from an older reliant: its internal ports move out of the range, kept ones stay.
    d.save_ports({"gateway": low, "postgres": low + 1})
    moved = d.allocate_ports(["gateway", "postgres"], host="127.0.0.1", keep_if_taken=frozenset({"gateway"}))
    assert moved["gateway"] == low and not low <= moved["postgres"] <= high
    assert d.ports()["postgres"] == moved["postgres"]


def test_a_data_dir_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DataDirError, match="not writable"):
        DataDir(blocker / "data").ensure()


def test_a_data_dir_that_is_a_file_is_named_as_such_not_as_unwritable(tmp_path: Path) -> None:
    a_file = tmp_path / "reliant.toml"
    a_file.write_text("")
    with pytest.raises(DataDirError) as info:
        DataDir(a_file).ensure()
    assert str(info.value) == f"data dir {a_file}: is a file, not a directory; pass --data-dir with a directory"


def test_the_data_dir_is_made_private_and_an_older_one_tightened(tmp_path: Path) -> None:
    fresh = DataDir(tmp_path / "fresh")
    fresh.ensure()
    assert stat.S_IMODE(fresh.path.stat().st_mode) == 0o700
    old = tmp_path / "old"
    (old / "logs").mkdir(parents=True, mode=0o755)
    old.chmod(0o755)
    (old / "ports.json").write_text("{}\n")
    (old / "ports.json").chmod(0o644)
    (old / "daemon_id").write_text("d-1\n")
    (old / "daemon_id").chmod(0o644)
    DataDir(old).ensure()
    assert [
        oct(stat.S_IMODE(p.stat().st_mode)) for p in (old, old / "logs", old / "ports.json", old / "daemon_id")
    ] == [
        "0o700",
        "0o700",
        "0o600",
        "0o600",
    ]
    d = DataDir(tmp_path / "files")
    d.ensure()
    d.save_ports({"api": 1})
    d.identity("daemon_id", "d-")
    with d.lock():
        pass
    for name in ("ports.json", "daemon_id", "reliant.lock"):
        assert stat.S_IMODE((d.path / name).stat().st_mode) == 0o600, name


def test_processes_racing_to_make_a_secret_all_get_the_first_one(tmp_path: Path) -> None:
    d = DataDir(tmp_path)
    d.ensure()
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda i: d.secret_file("codec_key", lambda: f"made by {i}\n"), range(8)))
    assert len(set(paths)) == 1
    assert paths[0].read_text().startswith("made by ")
    assert [p.name for p in d.secrets_dir.iterdir()] == ["codec_key"], "no temporary file is left"
    assert stat.S_IMODE(paths[0].stat().st_mode) == 0o600


def test_the_nats_monitor_gets_a_port_only_when_asked_and_the_codec_key_is_the_data_dirs(tmp_path: Path) -> None:
    from reliant.appliance.supervisor import resolve_embedded
    from reliant.config import Settings

    d = DataDir(tmp_path)
    d.ensure()
    settings, _, nats, _ = resolve_embedded(Settings(data_dir=tmp_path), d)
    assert nats.monitor_port is None and "nats_monitor" not in d.ports()
    assert settings.codec_key_file == str(d.secrets_dir / "codec_key")
    # Made only once Postgres says no key was recorded (tests/appliance/test_codec_key.py).
    assert not d.has_secret("codec_key")
    again, _, nats, _ = resolve_embedded(Settings(data_dir=tmp_path, nats_monitor=True), d)
    assert nats.monitor_port == d.ports()["nats_monitor"]
    assert again.codec_key_file == settings.codec_key_file
    given, _, _, _ = resolve_embedded(Settings(data_dir=tmp_path, codec_key="x" * 43), d)
    assert (given.codec_key, given.codec_key_file) == ("x" * 43, "")


def test_server_ports_are_never_handed_out_twice_in_one_process() -> None:
    """They are bound only later: a test that picks five before starting anything gets five."""
    low, high = ephemeral_range()
    ports = [server_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
    assert not [p for p in ports if low <= p <= high]


def test_no_service_is_given_the_port_the_user_gave_the_api_or_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`reliant up --port P` binds P only after the services started: a service must not be handed P
    in between (the api then failed with "port P is already in use"), nor keep it from an earlier run."""
    import embedded.ports
    from reliant.appliance.supervisor import SERVICE_PORTS, resolve_embedded
    from reliant.config import Settings

    low, _ = ephemeral_range()
    # Chosen as another process would (this one's server_port remembers what it handed out).
    api, gateway = [p for p in range(low - 200, low) if port_is_free(p)][:2]
    picks = iter([api, gateway])
    real = embedded.ports.random.randint
    monkeypatch.setattr(embedded.ports.random, "randint", lambda a, b: next(picks, None) or real(a, b))
    d = DataDir(tmp_path)
    d.ensure()
    resolve_embedded(Settings(data_dir=tmp_path, api_port=api, gateway_port=gateway), d)
    services = {name: d.ports()[name] for name in SERVICE_PORTS}
    assert not {api, gateway} & set(services.values()), services

    d.save_ports({**d.ports(), "postgres": api})  # an earlier run's, now the one given for the api
    resolve_embedded(Settings(data_dir=tmp_path, api_port=api, gateway_port=gateway), d)
    assert d.ports()["postgres"] not in (api, gateway)
