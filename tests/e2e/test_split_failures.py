"""A split role that cannot reach a service, or finds no Temporal namespace, exits 1 within the
bound with one line naming what and where; `--create-namespace` makes it; `--check-config` validates
without serving or connecting."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from embedded.ports import free_port
from tests.certificates import CertificateAuthority
from tests.conftest import Infra
from tests.e2e.harness import Proc, clean_env, run_cli

pytestmark = pytest.mark.e2e

KEY = "cmVsaWFudC10ZXN0cy1jb2RlYy1rZXktMzItYnl0ZXM"


def _role_env(infra: Infra | None = None, **extra: str) -> dict[str, str]:
    dead = free_port()  # nothing listens here
    return clean_env(
        RELIANT_DATABASE_URL=infra.database_url if infra else f"postgresql://reliant:x@127.0.0.1:{dead}/reliant",
        RELIANT_NATS_URL=infra.nats_url if infra else f"nats://127.0.0.1:{dead}",
        RELIANT_NATS_TOKEN=infra.nats_token if infra else "t",
        RELIANT_TEMPORAL_ADDRESS=infra.temporal_address if infra else f"127.0.0.1:{dead}",
        RELIANT_CODEC_KEY=KEY,
        RELIANT_API_TOKEN="api-token",
        RELIANT_DAEMON_TOKEN="daemon-token",
        RELIANT_CONNECT_TIMEOUT="3",
        **extra,
    )


@pytest.mark.parametrize("role", ["worker", "api", "gateway"])
def test_a_role_that_reaches_no_service_exits_within_the_bound_with_one_line(tmp_path: Path, role: str) -> None:
    env = _role_env()
    port = ["--port", str(free_port())] if role != "worker" else []
    began = time.monotonic()
    done = run_cli("server", role, *port, "--data-dir", str(tmp_path / role), env=env, timeout=60)
    took = time.monotonic() - began
    assert done.returncode == 1, done.stdout + done.stderr
    assert took < 3 + 15, f"took {took:.1f}s with a 3s bound"  # the bound, plus start-up and the report
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    dead = env["RELIANT_NATS_URL"]
    assert f"NATS at {dead}" in lines[0] and "Connect call failed" in lines[0], lines[0]
    if role != "gateway":
        assert f"Postgres at 127.0.0.1:{dead.rsplit(':', 1)[1]}" in lines[0]
        assert f"Temporal at {env['RELIANT_TEMPORAL_ADDRESS']}" in lines[0]
    else:
        assert "Postgres" not in lines[0] and "Temporal" not in lines[0], "the gateway needs only NATS"


@pytest.mark.parametrize("role", ["api", "gateway"])
def test_a_role_given_an_address_not_of_this_machine_says_so_not_that_its_port_is_taken(
    infra: Infra, tmp_path: Path, role: str
) -> None:
    port = str(free_port())
    env = _role_env(infra)
    done = run_cli("server", role, "--host", "192.0.2.1", "--port", port, "--data-dir", str(tmp_path), env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]  # grpc's own core logs a line of its own before it
    assert last == f"error: {role}: cannot listen on 192.0.2.1:{port}: Cannot assign requested address", done.stderr
    assert "in use" not in done.stderr


@pytest.mark.parametrize("userinfo", ["nuser:nats-password-{secret}", "nats-token-{secret}"])
def test_a_password_or_token_in_the_nats_url_is_masked_in_the_error(tmp_path: Path, userinfo: str) -> None:
    """`nats://user:password@host` and `nats://token@host` carry a secret, as a database URL does."""
    secret = uuid.uuid4().hex
    credentials = userinfo.format(secret=secret)
    nats = f"nats://{credentials}@127.0.0.1:{free_port()}"
    env = {**_role_env(), "RELIANT_NATS_URL": nats}
    env.pop("RELIANT_NATS_TOKEN")
    done = run_cli("server", "gateway", "--port", str(free_port()), "--data-dir", str(tmp_path), env=env, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to NATS at nats://"), done.stderr
    assert secret not in done.stderr and "****" in lines[0], lines[0]


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ("password", 'password authentication failed for user "reliant"'),
        ("database", 'database "nowhere" does not exist'),
    ],
)
def test_a_postgres_that_refuses_the_role_ends_its_start_at_once_with_what_it_said(
    infra: Infra, tmp_path: Path, wrong: str, said: str
) -> None:
    url = infra.database_url
    if wrong == "password":
        url = url.replace(f":{infra.services.postgres.config.password}@", ":not-the-password@")
    else:
        url = url.rsplit("/", 1)[0] + "/nowhere"
    env = {**_role_env(infra), "RELIANT_DATABASE_URL": url, "RELIANT_CONNECT_TIMEOUT": "30"}
    began = time.monotonic()
    done = run_cli("server", "worker", "--data-dir", str(tmp_path / "w"), env=env, timeout=60)
    took = time.monotonic() - began
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to Postgres at "), done.stderr
    assert said in lines[0] and "not-the-password" not in lines[0]
    assert took < 15, f"took {took:.1f}s: a refusal was waited out as if Postgres were away"


def test_a_missing_namespace_is_named_and_made_with_create_namespace(infra: Infra, tmp_path: Path) -> None:
    namespace = f"ns-{uuid.uuid4().hex[:8]}"
    env = _role_env(infra, RELIANT_TEMPORAL_NAMESPACE=namespace)
    refused = run_cli("server", "worker", "--data-dir", str(tmp_path / "w1"), env=env, timeout=60)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"error: Temporal at {infra.temporal_address} has no namespace {namespace!r}: create it "
        f"(`temporal operator namespace create {namespace}`, or in Temporal Cloud's console) "
        "or start a worker with --create-namespace"
    )
    worker = Proc(
        ["server", "worker", "--create-namespace", "--data-dir", str(tmp_path / "w2")], tmp_path / "w2.log", env=env
    ).start()
    try:
        worker.wait_for_output("reliant worker ready")
        assert f"created the Temporal namespace '{namespace}'" in worker.output()
    finally:
        assert worker.stop() == 0, worker.output()
    # Made once, it is there for every worker after.
    again = Proc(["server", "worker", "--data-dir", str(tmp_path / "w3")], tmp_path / "w3.log", env=env).start()
    try:
        again.wait_for_output("reliant worker ready")
    finally:
        assert again.stop() == 0, again.output()


def test_check_config_validates_without_serving_or_connecting(tmp_path: Path) -> None:
    env = _role_env()  # every service address is dead: a check that connected would fail
    workspace = tmp_path / "ws"
    workspace.mkdir()
    commands = {
        "api": ["server", "api", "--port", str(free_port())],
        "worker": ["server", "worker"],
        "gateway": ["server", "gateway", "--port", str(free_port())],
        "daemon": ["daemon", "start", "--gateway", "127.0.0.1:7421", "--workspace", str(workspace)],
    }
    for role, args in commands.items():
        data = tmp_path / f"{role}-data"
        began = time.monotonic()
        done = run_cli(*args, "--check-config", "--data-dir", str(data), env=env, timeout=60)
        assert done.returncode == 0, (role, done.stdout + done.stderr)
        assert "the configuration is valid" in done.stdout
        assert time.monotonic() - began < 15 and not data.exists(), "nothing served, connected or written"

    broken = clean_env(
        RELIANT_DATABASE_URL="mysql://db/x",
        RELIANT_NATS_URL="127.0.0.1:4222",
        RELIANT_TEMPORAL_ADDRESS="temporal",
        RELIANT_CODEC_KEY_FILE=str(tmp_path / "no-key"),
    )
    done = run_cli("server", "api", "--check-config", "--data-dir", str(tmp_path / "x"), env=broken, timeout=60)
    assert done.returncode == 1
    for problem in (
        "needs the api token its replicas share: set api_token_file",
        "codec_key_file: cannot read",
        "database_url: scheme 'mysql' is not postgresql://",
        "nats_url '127.0.0.1:4222' is not nats://host:port",
        "temporal_address 'temporal' is not host:port",
    ):
        assert problem in done.stderr, (problem, done.stderr)
    daemon = run_cli(
        "daemon",
        "start",
        "--gateway",
        "nowhere",
        "--check-config",
        "--data-dir",
        str(tmp_path / "d"),
        env=clean_env(),
        timeout=60,
    )
    assert daemon.returncode == 1
    assert "needs the gateway's daemon token" in daemon.stderr and "gateway_address 'nowhere'" in daemon.stderr


@pytest.mark.parametrize("service", ["nats", "temporal"])
@pytest.mark.parametrize("role", ["worker", "api"])
async def test_a_role_whose_service_accepts_tcp_but_never_answers_exits_within_the_bound_with_one_line(
    infra: Infra, tmp_path: Path, role: str, service: str
) -> None:
    held: list[asyncio.StreamWriter] = []

    async def stay_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepted, kept open, never a byte back

    server = await asyncio.start_server(stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    what, variable, where = {
        "nats": ("NATS", "RELIANT_NATS_URL", f"nats://127.0.0.1:{port}"),
        "temporal": ("Temporal", "RELIANT_TEMPORAL_ADDRESS", f"127.0.0.1:{port}"),
    }[service]
    env = _role_env(infra) | {variable: where, "RELIANT_CONNECT_TIMEOUT": "2"}
    args = ["server", role, *(["--port", str(free_port())] if role == "api" else [])]
    try:
        began = time.monotonic()
        done = await asyncio.to_thread(run_cli, *args, "--data-dir", str(tmp_path / role), env=env, timeout=30)
        took = time.monotonic() - began
    finally:
        for writer in held:
            writer.close()
        server.close()
    assert done.returncode == 1, done.stdout + done.stderr
    assert took < 2 + 15, f"took {took:.1f}s with a 2s bound"
    # One line: the SDK's connect to Temporal left running at exit once hung the role or printed a panic.
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert f"{what} at {where}" in lines[0], lines[0]
    assert "did not complete the handshake" in lines[0], lines[0]


def test_a_certificate_and_a_key_that_are_not_a_pair_are_named_by_the_gateway_and_the_daemon(
    infra: Infra, tmp_path: Path
) -> None:
    """The gateway said its (free) port was in use, and the daemon retried a handshake that could
    never be made, for ever."""
    ca = CertificateAuthority(tmp_path / "pki")
    server, client = ca.server(), ca.client()
    port = str(free_port())
    gateway = run_cli(
        *("server", "gateway", "--port", port, "--tls-cert", str(server.cert), "--tls-key", str(client.key)),
        *("--data-dir", str(tmp_path / "gateway")),
        env=_role_env(infra),
        timeout=60,
    )
    assert gateway.returncode == 1, gateway.stdout + gateway.stderr
    said = f"error: gateway_tls_cert {server.cert} and gateway_tls_key {client.key} are not a certificate and its key"
    assert gateway.stderr.strip().splitlines()[-1].startswith(said), gateway.stderr
    assert "in use" not in gateway.stderr

    token = tmp_path / "daemon_token"
    token.write_text("daemon-token\n")
    token.chmod(0o600)
    began = time.monotonic()
    daemon = run_cli(
        *("daemon", "start", "--gateway", f"127.0.0.1:{port}", "--token-file", str(token)),
        *("--tls-ca", str(ca.cert), "--tls-cert", str(client.cert), "--tls-key", str(server.key)),
        *("--data-dir", str(tmp_path / "daemon")),
        env=clean_env(),
        timeout=60,
    )
    assert daemon.returncode == 1, daemon.stdout + daemon.stderr
    said = f"error: daemon_tls_cert {client.cert} and daemon_tls_key {server.key} are not a certificate and its key"
    assert daemon.stderr.strip().splitlines() == [daemon.stderr.strip().splitlines()[-1]], daemon.stderr
    assert daemon.stderr.strip().startswith(said), daemon.stderr
    assert time.monotonic() - began < 15
