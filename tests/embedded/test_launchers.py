"""The embedded launchers against the real binaries: readiness, persistence and every failure mode."""

from __future__ import annotations

import functools
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

import embedded
from embedded import postgres as pg_module
from embedded._process import http_status
from embedded.nats import client_ready
from embedded.ports import free_port
from tests.conftest import service_configs
from tests.support import eventually, listening_ports, pid_alive, processes_mentioning


async def query(url: str, sql: str) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(sql)
        return await cur.fetchall() if cur.description else []


async def test_postgres_persists_across_restart_and_needs_the_password(tmp_path: Path) -> None:
    cfg, _, _ = service_configs(tmp_path)
    async with await embedded.start_postgres(cfg) as server:
        await query(server.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
        wrong = server.url.replace(cfg.password, "wrong-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            await query(wrong, "SELECT 1")
        assert (cfg.cluster_dir / f".s.PGSQL.{cfg.port}").exists(), "postgres listens on a unix socket too"
    assert not pid_alive(server.pid)
    async with await embedded.start_postgres(cfg) as again:
        assert not again.reused
        assert await query(again.url, "SELECT v FROM kept") == [("hello",)]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops privileges for postgres")
async def test_as_root_postgres_runs_unprivileged_and_outside_perms_are_untouched(tmp_path: Path) -> None:
    outer = tmp_path / "home"
    outer.mkdir(mode=0o700)
    outer.chmod(0o700)
    cfg, _, _ = service_configs(outer / "data")
    async with await embedded.start_postgres(cfg) as server:
        owner = Path(f"/proc/{server.pid}").stat().st_uid
        assert owner != 0
        assert owner == (cfg.cluster_dir / "PG_VERSION").stat().st_uid
        assert await query(server.url, "SELECT current_user") == [("reliant",)]
    assert stat.S_IMODE(outer.stat().st_mode) == 0o700, "a directory outside the data dir was loosened"
    assert "unprivileged user" in cfg.log_path.read_text()


async def test_postgres_whose_password_was_lost_is_given_the_new_one_and_keeps_its_data(tmp_path: Path) -> None:
    cfg, _, _ = service_configs(tmp_path, password="the-lost-one")
    async with await embedded.start_postgres(cfg) as server:
        await query(server.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
    anew = replace(cfg, password="the-new-one", new_password=True)
    async with await embedded.start_postgres(anew) as server:
        assert await query(server.url, "SELECT v FROM kept") == [("hello",)]
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            await query(server.url.replace("the-new-one", "the-lost-one"), "SELECT 1")
    # A statement that fails in single-user mode still exits 0: the failure is seen, and the
    # password is in no log line.
    with pytest.raises(embedded.EmbeddedError, match='could not set the new password: role "nobody" does not exist'):
        await embedded.start_postgres(replace(anew, user="nobody", password="yet-another"))
    assert "yet-another" not in cfg.log_path.read_text()


async def test_postgres_left_running_by_a_killed_parent_is_reused(tmp_path: Path) -> None:
    cfg, _, _ = service_configs(tmp_path)
    script = textwrap.dedent(f"""
        import asyncio, os, signal, sys
        from pathlib import Path
        from embedded import PostgresConfig, start_postgres
        cfg = PostgresConfig(cluster_dir=Path({str(cfg.cluster_dir)!r}), log_path=Path({str(cfg.log_path)!r}),
                             port={cfg.port}, password={cfg.password!r})
        async def main():
            server = await start_postgres(cfg)
            print(server.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    orphan = int(done.stdout.strip())
    assert pid_alive(orphan), "pg_ctl daemonizes: the postmaster outlives its parent"
    async with await embedded.start_postgres(cfg) as server:
        assert server.reused and server.pid == orphan
        assert await query(server.url, "SELECT 1") == [(1,)]
    await eventually(lambda: not pid_alive(orphan))


async def test_postgres_left_running_on_another_port_is_stopped_and_restarted(tmp_path: Path) -> None:
    cfg, _, _ = service_configs(tmp_path)
    first = await embedded.start_postgres(cfg)
    moved = pg_module.PostgresConfig(
        cluster_dir=cfg.cluster_dir, log_path=cfg.log_path, port=free_port(), password=cfg.password
    )
    async with await embedded.start_postgres(moved) as server:
        assert not server.reused
        assert not pid_alive(first.pid)
        assert await query(server.url, "SELECT 1") == [(1,)]


async def test_nats_serves_its_unauthenticated_monitor_only_when_asked(tmp_path: Path) -> None:
    _, cfg, _ = service_configs(tmp_path)
    async with await embedded.start_nats(cfg) as server:
        assert listening_ports(server.pid) == {cfg.port}
        assert "http" not in cfg.config_path.read_text()
    monitor = free_port()
    async with await embedded.start_nats(replace(cfg, monitor_port=monitor)) as server:
        assert listening_ports(server.pid) == {cfg.port, monitor}
        assert await http_status(cfg.host, monitor, "/healthz") == 200


async def test_nats_readiness_needs_the_token_to_be_accepted(tmp_path: Path) -> None:
    _, cfg, _ = service_configs(tmp_path)
    async with await embedded.start_nats(cfg):
        assert await client_ready(cfg.host, cfg.port, cfg.token)
        assert not await client_ready(cfg.host, cfg.port, "not-the-token")


@pytest.mark.parametrize("service", ["postgres", "nats", "temporal"])
async def test_port_in_use_is_a_clear_error(tmp_path: Path, service: str) -> None:
    pg, nats, temporal = service_configs(tmp_path)
    port = {"postgres": pg.port, "nats": nats.port, "temporal": temporal.port}[service]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        start = {
            "postgres": lambda: embedded.start_postgres(pg),
            "nats": lambda: embedded.start_nats(nats),
            "temporal": lambda: embedded.start_temporal(temporal),
        }[service]
        with pytest.raises(embedded.PortInUseError) as info:
            await start()
    assert info.value.port == port
    assert f"port {port}" in str(info.value) and service in str(info.value)
    assert not processes_mentioning(str(tmp_path))


async def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    _, nats, temporal = service_configs(tmp_path)
    missing = tmp_path / "no-such-binary"
    with pytest.raises(embedded.BinaryNotFoundError, match="executable not found"):
        await embedded.start_nats(_with(nats, binary=missing))
    with pytest.raises(embedded.BinaryNotFoundError, match=str(missing)):
        await embedded.start_temporal(_with(temporal, binary=missing))


async def test_a_service_that_never_gets_ready_times_out_with_its_log(tmp_path: Path) -> None:
    _, nats, _ = service_configs(tmp_path)
    fake = tmp_path / "fake-nats"
    fake.write_text("#!/bin/sh\necho 'fake server: stuck forever'\nexec sleep 60\n")
    fake.chmod(0o755)
    with pytest.raises(embedded.StartTimeoutError) as info:
        await embedded.start_nats(_with(nats, binary=fake, start_timeout=0.5))
    assert "stuck forever" in str(info.value)
    assert not processes_mentioning(str(fake))


async def test_a_service_that_exits_reports_its_log(tmp_path: Path) -> None:
    _, nats, _ = service_configs(tmp_path)
    fake = tmp_path / "broken-nats"
    fake.write_text("#!/bin/sh\necho 'fatal: bad configuration'\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(embedded.ServiceExitedError, match="bad configuration") as info:
        await embedded.start_nats(_with(nats, binary=fake))
    assert "code 3" in str(info.value)


async def test_temporal_that_loses_one_of_its_own_ports_while_starting_is_started_again(tmp_path: Path) -> None:
    """The dev server picks its internal ports itself, and another process may take one before it
    binds it: that start exits, and a new one (new ports) serves."""
    _, _, temporal = service_configs(tmp_path)
    real = embedded.temporal.default_binary()
    lost = tmp_path / "lost-once"
    fake = tmp_path / "racy-temporal"
    fake.write_text(
        textwrap.dedent(f"""\
            #!/bin/sh
            if [ ! -f {lost} ]; then
                touch {lost}
                echo 'error="listen tcp 127.0.0.1:43447: bind: address already in use"'
                exit 2
            fi
            exec {real} "$@"
            """)
    )
    fake.chmod(0o755)
    server = await embedded.start_temporal(replace(temporal, binary=fake))
    try:
        assert lost.exists(), "the first start lost its port"
        assert await http_status(temporal.host, temporal.http_port, f"/api/v1/namespaces/{temporal.namespace}") == 200
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("said", "starts_expected"),
    [
        ("bind: address already in use", embedded.temporal.START_ATTEMPTS),  # every attempt, then its log
        ("fatal: bad configuration", 1),  # no lost port: not started again
    ],
)
async def test_temporal_that_exits_while_starting_is_started_again_only_after_losing_a_port(
    tmp_path: Path, said: str, starts_expected: int
) -> None:
    _, _, temporal = service_configs(tmp_path)
    starts = tmp_path / "starts"
    fake = tmp_path / "failing-temporal"
    fake.write_text(f"#!/bin/sh\necho start >> {starts}\necho '{said}'\nexit 2\n")
    fake.chmod(0o755)
    with pytest.raises(embedded.ServiceExitedError, match=said):
        await embedded.start_temporal(replace(temporal, binary=fake))
    assert starts.read_text().count("start") == starts_expected


async def test_a_start_is_judged_and_reported_by_its_own_log_lines_not_an_earlier_runs(tmp_path: Path) -> None:
    """The service logs of the data dir grow from run to run: a port an earlier run lost is no
    reason to start this one again, nor part of the reason this one failed."""
    _, _, temporal = service_configs(tmp_path)
    temporal.log_path.parent.mkdir(parents=True, exist_ok=True)
    temporal.log_path.write_text(
        "--- 2026-01-01 10:00:00 starting temporal\nerror: listen tcp 127.0.0.1:43447: bind: address already in use\n"
    )
    starts = tmp_path / "starts"
    fake = tmp_path / "failing-temporal"
    fake.write_text(f"#!/bin/sh\necho start >> {starts}\necho 'fatal: database is corrupt'\nexit 2\n")
    fake.chmod(0o755)
    with pytest.raises(embedded.ServiceExitedError, match="database is corrupt") as info:
        await embedded.start_temporal(replace(temporal, binary=fake))
    assert starts.read_text().count("start") == 1
    assert "address already in use" not in str(info.value)


async def test_a_failed_start_stops_the_services_that_did_start(tmp_path: Path) -> None:
    pg, nats, temporal = service_configs(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", temporal.http_port))
        holder.listen()
        with pytest.raises(embedded.PortInUseError):
            await embedded.start_services(pg, nats, temporal)
    await eventually(lambda: not processes_mentioning(str(tmp_path)))
    assert not (pg.cluster_dir / "postmaster.pid").exists()


async def test_nats_requires_its_token(tmp_path: Path) -> None:
    import nats as nats_client
    import nats.errors

    _, cfg, _ = service_configs(tmp_path)
    async with await embedded.start_nats(cfg) as server:
        with pytest.raises((nats.errors.Error, OSError)):
            await nats_client.connect(
                server.url, token="wrong", max_reconnect_attempts=0, allow_reconnect=False, connect_timeout=2
            )
        nc = await nats_client.connect(server.url, token=cfg.token)
        await nc.close()
    assert stat.S_IMODE(cfg.config_path.stat().st_mode) == 0o600
    assert cfg.token not in " ".join(cmd for _, cmd in processes_mentioning("nats-server"))


async def test_listeners_bind_loopback_only(infra: object) -> None:
    from tests.conftest import Infra

    assert isinstance(infra, Infra)
    pids = {infra.services.nats.pid, infra.services.temporal.pid, infra.services.postgres.pid}
    inodes = _listening_inodes()
    for pid in pids:
        for address in _sockets_of(pid, inodes):
            assert address.startswith("127.0.0.1:"), f"pid {pid} listens on {address}"


def _listening_inodes() -> dict[str, str]:
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A":  # LISTEN
            host, port = parts[1].split(":")
            ip = ".".join(str(int(host[i : i + 2], 16)) for i in (6, 4, 2, 0))
            found[parts[9]] = f"{ip}:{int(port, 16)}"
    for line in Path("/proc/net/tcp6").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A":
            found[parts[9]] = f"[v6]:{int(parts[1].split(':')[1], 16)}"
    return found


def _sockets_of(pid: int, inodes: dict[str, str]) -> list[str]:
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inode = target[8:-1]
            if inode in inodes:
                out.append(inodes[inode])
    return out


async def test_nats_and_temporal_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    pg, nats, temporal = service_configs(tmp_path)
    script = textwrap.dedent(f"""
        import asyncio, os, signal
        from pathlib import Path
        from embedded import NatsConfig, TemporalConfig, start_nats, start_temporal
        async def main():
            n = await start_nats(NatsConfig(store_dir=Path({str(nats.store_dir)!r}),
                config_path=Path({str(nats.config_path)!r}), log_path=Path({str(nats.log_path)!r}),
                port={nats.port}, monitor_port={nats.monitor_port}, token="t"))
            t = await start_temporal(TemporalConfig(db_path=Path({str(temporal.db_path)!r}),
                log_path=Path({str(temporal.log_path)!r}), port={temporal.port},
                http_port={temporal.http_port}, metrics_port={temporal.metrics_port}))
            print(n.pid, t.pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(p) for p in done.stdout.split()]
    await eventually(lambda: not any(pid_alive(p) for p in pids), timeout=15)


def _with(cfg: object, **changes: object) -> object:
    import dataclasses

    return dataclasses.replace(cfg, **changes)  # type: ignore[type-var]


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> object:
    yield
    for pid, _ in processes_mentioning(str(tmp_path)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def test_services_start_concurrently_and_stop_in_order(tmp_path: Path) -> None:
    pg, nats, temporal = service_configs(tmp_path)
    services = await embedded.start_services(pg, nats, temporal)
    pids = [services.postgres.pid, services.nats.pid, services.temporal.pid]
    assert all(pid_alive(p) for p in pids)
    await services.stop()
    await eventually(lambda: not any(pid_alive(p) for p in pids))


async def test_a_sigkilled_postmaster_is_replaced_at_once_even_before_it_is_reaped(tmp_path: Path) -> None:
    """A power cut: the postmaster dies by SIGKILL and, until the system reaps it, lingers as a
    zombie that Postgres takes for a live postmaster. The next start must not wait for that."""
    cfg, _, _ = service_configs(tmp_path)
    for _ in range(3):
        server = await embedded.start_postgres(cfg)
        await query(server.url, "CREATE TABLE IF NOT EXISTS kept (v int); INSERT INTO kept VALUES (1)")
        os.kill(server.pid, signal.SIGKILL)
        await eventually(functools.partial(_dead, server.pid))  # likely still a zombie
        async with await embedded.start_postgres(cfg) as again:
            assert not again.reused and again.pid != server.pid
            assert await query(again.url, "SELECT count(*) > 0 FROM kept") == [(True,)]


async def test_a_pid_file_left_by_a_postmaster_already_reaped_does_not_fail_the_start(tmp_path: Path) -> None:
    """A power cut whose dead postmaster the system has already reaped: its pid file still says
    "ready" under a pid that no longer exists. Until the new postmaster rewrites the file, the
    start must not read that pid as the new server's and report it "exited while starting"."""
    cfg, _, _ = service_configs(tmp_path)
    async with await embedded.start_postgres(cfg):
        pidfile = (cfg.cluster_dir / "postmaster.pid").read_text().splitlines()
    for _ in range(3):
        reaped = subprocess.Popen(["true"])
        reaped.wait()  # its pid exists no more
        (cfg.cluster_dir / "postmaster.pid").write_text("\n".join([str(reaped.pid), *pidfile[1:]]) + "\n")
        async with await embedded.start_postgres(cfg) as server:
            assert not server.reused and server.pid != reaped.pid
            assert await query(server.url, "SELECT 1") == [(1,)]


async def test_a_pid_file_naming_an_unrelated_live_process_never_signals_it(tmp_path: Path) -> None:
    cfg, _, _ = service_configs(tmp_path)
    async with await embedded.start_postgres(cfg):
        pidfile = (cfg.cluster_dir / "postmaster.pid").read_text().splitlines()
    # The postmaster is gone; its pid now names an unrelated program (here: a sleep of ours).
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (cfg.cluster_dir / "postmaster.pid").write_text("\n".join([str(bystander.pid), *pidfile[1:]]) + "\n")
        async with await embedded.start_postgres(cfg) as server:
            assert not server.reused and server.pid != bystander.pid
            assert await query(server.url, "SELECT 1") == [(1,)]
        assert bystander.poll() is None, "an unrelated process named by a stale pid file was signalled"
    finally:
        bystander.kill()
        bystander.wait()


async def test_a_pid_file_naming_a_postgres_of_another_cluster_never_signals_it(tmp_path: Path) -> None:
    ours, _, _ = service_configs(tmp_path / "ours")
    theirs, _, _ = service_configs(tmp_path / "theirs")
    async with await embedded.start_postgres(ours):
        pidfile = (ours.cluster_dir / "postmaster.pid").read_text().splitlines()
    async with await embedded.start_postgres(theirs) as other:
        (ours.cluster_dir / "postmaster.pid").write_text("\n".join([str(other.pid), *pidfile[1:]]) + "\n")
        async with await embedded.start_postgres(ours) as server:
            assert server.pid != other.pid
        assert pid_alive(other.pid)
        assert await query(other.url, "SELECT 1") == [(1,)]


def test_no_child_process_is_started_through_a_preexec_hook() -> None:
    """preexec_fn runs Python between fork and exec, which can deadlock in a process with threads.

    Read with the tokenizer (a keyword argument is the name followed by `=`): CPython 3.11.7's
    ast.parse can fail with "AST constructor recursion depth mismatch" late in a long test run."""
    import io
    import itertools
    import tokenize

    root = Path(__file__).parents[2]
    offenders = []
    for package in ("reliant", "embedded"):
        for source in (root / package).rglob("*.py"):
            tokens = [t for t in tokenize.generate_tokens(io.StringIO(source.read_text()).readline) if t.string.strip()]
            for token, following in itertools.pairwise(tokens):
                if token.type == tokenize.NAME and token.string == "preexec_fn" and following.string == "=":
                    offenders.append(f"{source.relative_to(root)}:{token.start[0]}")
    assert offenders == []


async def test_a_service_is_our_direct_child_behind_no_wrapper_process(tmp_path: Path) -> None:
    _, nats, _ = service_configs(tmp_path)
    async with await embedded.start_nats(nats) as server:
        assert Path(f"/proc/{server.pid}/exe").resolve().name == "nats-server"
        parent = int(Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert parent == os.getpid()


def _dead(pid: int) -> bool:
    return not pid_alive(pid)
