"""Split roles with TLS on their wires, certificates made here: Temporal behind a TLS-terminating
proxy that requires a client certificate (the dev server has no TLS of its own), the gateway serving
mTLS to a daemon, and the api serving https. A chat with a tool call completes and the CLI reads it
over https; a role with the wrong certificates ends at once with one line naming Temporal and where."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

import embedded
from embedded.ports import server_port
from tests.bus.nats_servers import NatsProcess
from tests.certificates import CertificateAuthority
from tests.conftest import service_configs
from tests.e2e.harness import Proc, Rest, clean_env, run_cli, shared_secrets
from tests.support import processes_mentioning
from tests.tls_proxy import TlsProxy
from tests.web.browser import PageErrors, chromium, new_page

pytestmark = pytest.mark.e2e


@pytest.fixture
async def services(tmp_path: Path) -> Iterator[tuple[embedded.Services, str]]:
    pg, nats, temporal = service_configs(tmp_path / "infra")
    running = await embedded.start_services(pg, nats, temporal)
    try:
        yield running, nats.token
    finally:
        await running.stop()


def _refused(*args: str, env: dict[str, str]) -> tuple[str, float]:
    began = time.monotonic()
    done = run_cli(*args, env=env, timeout=90)
    took = time.monotonic() - began
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr  # the role's log lines above it, then one line that says why
    return errors[0], took


@pytest.mark.timeout(300)
async def test_split_roles_with_tls_on_every_wire_complete_a_chat(
    tmp_path: Path, services: tuple[embedded.Services, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    infra, nats_token = services
    ca = CertificateAuthority(tmp_path / "pki")
    stranger = CertificateAuthority(tmp_path / "pki-other", "another CA")
    proxy_pair, gateway_pair, api_pair = ca.server("temporal-proxy"), ca.server("gateway"), ca.server("api")
    role_pair, daemon_pair = ca.client("roles"), ca.client("daemon")
    temporal_address = f"127.0.0.1:{server_port()}"
    roles_dir = tmp_path / "roles"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    script = workspace / ".script.yaml"
    script.write_text(
        yaml.safe_dump(
            {"turns": [{"tools": [{"name": "shell", "input": {"command": "echo ran > effect.txt"}}]}, {"text": "done"}]}
        )
    )
    env = clean_env(**shared_secrets(tmp_path / "shared"))
    common = ["--nats-url", infra.nats.url, "--nats-token", nats_token, "--data-dir", str(roles_dir)]
    temporal = ["--temporal-address", temporal_address, "--temporal-namespace", "reliant"]
    mtls = ["--temporal-tls-ca", str(ca.cert), "--temporal-tls-cert", str(role_pair.cert)]
    mtls += ["--temporal-tls-key", str(role_pair.key)]
    db = ["--db-url", infra.postgres.url]
    api_port, gateway_port = server_port(), server_port()
    procs: list[Proc] = []
    proxy = TlsProxy(temporal_address, infra.temporal.address, proxy_pair.cert, proxy_pair.key, client_ca=ca.cert)
    try:
        proxy.start()
        # Without a client certificate, or trusting another CA: one line naming Temporal and where, at once.
        line, took = _refused("server", "worker", *db, *common, *temporal, "--temporal-tls-ca", str(ca.cert), env=env)
        assert f"Temporal at {temporal_address}" in line, line
        assert "client certificate" in line and took < 30, (line, took)
        wrong = ["--temporal-tls-ca", str(stranger.cert), *mtls[2:]]
        line, took = _refused("server", "api", "--port", str(api_port), *db, *common, *temporal, *wrong, env=env)
        assert f"Temporal at {temporal_address}" in line and "UnknownIssuer" in line, line
        assert took < 30, took

        gateway_tls = ["--tls-cert", str(gateway_pair.cert), "--tls-key", str(gateway_pair.key)]
        api_tls = ["--tls-cert", str(api_pair.cert), "--tls-key", str(api_pair.key)]
        for name, args, ready in (
            ("worker", ["server", "worker", *db, *common, *temporal, *mtls], "reliant worker ready"),
            (
                "gateway",
                [
                    "server",
                    "gateway",
                    "--port",
                    str(gateway_port),
                    *common,
                    *gateway_tls,
                    "--tls-client-ca",
                    str(ca.cert),
                ],
                "reliant gateway ready",
            ),
            (
                "api",
                ["server", "api", "--port", str(api_port), *db, *common, *temporal, *mtls, *api_tls],
                f"reliant api ready: https://127.0.0.1:{api_port}",
            ),
        ):
            proc = Proc(args, tmp_path / f"{name}.log", env=env).start()
            procs.append(proc)
            proc.wait_for_output(ready)
        daemon = Proc(
            [
                "daemon",
                "start",
                "--gateway",
                f"localhost:{gateway_port}",
                "--token-file",
                str(tmp_path / "shared" / "daemon_token"),
                "--workspace",
                str(workspace),
                "--data-dir",
                str(tmp_path / "daemon"),
                "--tls-ca",
                str(ca.cert),
                "--tls-cert",
                str(daemon_pair.cert),
                "--tls-key",
                str(daemon_pair.key),
            ],
            tmp_path / "daemon.log",
            env=env,
        ).start()
        procs.append(daemon)
        daemon.wait_for_output("connected to")

        api, token = f"https://127.0.0.1:{api_port}", (tmp_path / "shared" / "api_token").read_text().strip()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))  # this test's own https client trusts the CA
        rest = Rest(api, token)
        chat = rest.chat(rest.project(workspace)["id"], f"scripted:{script}")
        rest.send(chat["id"], "run the script")
        rest.wait_idle(chat["id"], timeout=90)
        assert rest.messages(chat["id"])[-1]["blocks"][-1]["text"] == "done"
        assert (workspace / "effect.txt").read_text() == "ran\n"

        # The CLI over https: trusting the api's CA it reads the transcript; without, one line says why.
        trusting = {**env, "RELIANT_API_CA": str(ca.cert)}
        trusting.pop("SSL_CERT_FILE", None)
        shown = run_cli("show", chat["id"], "--api-url", api, "--token", token, env=trusting, timeout=60)
        assert shown.returncode == 0 and "done" in shown.stdout, shown.stdout + shown.stderr
        untrusting = {k: v for k, v in trusting.items() if k != "RELIANT_API_CA"}
        refused = run_cli("show", chat["id"], "--api-url", api, "--token", token, env=untrusting, timeout=60)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert f"cannot verify the api at {api}" in refused.stderr and "RELIANT_API_CA" in refused.stderr

        # The web UI over https: signed in with the token, the chat's transcript streams in live.
        await asyncio.to_thread(_ui_shows_the_chat, api, token, chat["id"])
    finally:
        for proc in reversed(procs):
            if proc.process is not None and proc.process.poll() is None:
                proc.stop()
        proxy.stop()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


def _ui_shows_the_chat(api: str, token: str, chat_id: str) -> None:
    with chromium() as browser:
        page = new_page(browser, ignore_https_errors=True)  # the browser's trust store is not the point
        errors = PageErrors(page)
        page.goto(f"{api}/?token={token}")
        expect(page).to_have_url(api + "/")
        page.goto(f"{api}/chats/{chat_id}")
        expect(page.locator("section.chat")).to_have_attribute("data-feed", "live")
        expect(page.locator(".rows > article.msg").last).to_contain_text("done")
        errors.check()


@pytest.mark.timeout(240)
async def test_split_api_and_gateway_on_a_network_address_warn_of_plaintext_until_they_serve_tls(
    tmp_path: Path, services: tuple[embedded.Services, str]
) -> None:
    infra, nats_token = services
    env = clean_env(**shared_secrets(tmp_path / "shared"))
    common = ["--host", "0.0.0.0", "--nats-url", infra.nats.url, "--nats-token", nats_token]
    common += ["--data-dir", str(tmp_path / "roles")]
    api_args = ["server", "api", "--port", str(server_port()), "--db-url", infra.postgres.url, *common]
    api_args += ["--temporal-address", infra.temporal.address, "--temporal-namespace", "reliant"]
    gateway_args = ["server", "gateway", "--port", str(server_port()), *common]
    pki = CertificateAuthority(tmp_path / "pki")
    api_pair, gateway_pair = pki.server("api"), pki.server("gateway")

    def started(tls: dict[str, list[str]], log: str) -> dict[str, str]:
        """What each role said up to its ready line (its log on stderr, then the line)."""
        said, procs = {}, []
        try:
            for role, args in (("api", api_args), ("gateway", gateway_args)):
                procs.append((role, Proc([*args, *tls.get(role, [])], tmp_path / f"{role}-{log}.log", env=env).start()))
            for role, proc in procs:
                proc.wait_for_output(f"reliant {role} ready")
                said[role] = proc.output()
        finally:
            for _, proc in procs:
                assert proc.stop() == 0, proc.output()
        return said

    plain = await asyncio.to_thread(started, {}, "plain")
    for role, what in (("api", "the api"), ("gateway", "the daemon gateway")):
        warning = f"WARNING reliant.appliance.supervisor: {what} listens on 0.0.0.0 without TLS"
        assert warning in plain[role], plain[role]
        assert f"{role}_tls_cert + {role}_tls_key" in plain[role], plain[role]
        assert plain[role].index(warning) < plain[role].index(f"reliant {role} ready")  # at start

    tls = {
        "api": ["--tls-cert", str(api_pair.cert), "--tls-key", str(api_pair.key)],
        "gateway": ["--tls-cert", str(gateway_pair.cert), "--tls-key", str(gateway_pair.key)],
    }
    served = await asyncio.to_thread(started, tls, "tls")
    assert "reliant api ready: https://0.0.0.0:" in served["api"], served["api"]
    for role in ("api", "gateway"):
        assert "without TLS" not in served[role], served[role]


@pytest.mark.timeout(180)
def test_a_role_reaches_nats_with_a_user_and_a_client_certificate_from_its_flags(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki")
    server_pair, client_pair = ca.server("nats"), ca.client("gateway")
    tls = {
        "cert_file": str(server_pair.cert),
        "key_file": str(server_pair.key),
        "ca_file": str(ca.cert),
        "verify": True,
    }
    nats = NatsProcess(
        tmp_path / "nats",
        {
            "server_name": "tls-nats",
            "jetstream": {"store_dir": str(tmp_path / "nats" / "js")},
            "tls": tls,
            "authorization": {"users": [{"user": "gateway", "password": "gw-pass-1"}]},
        },
        scheme="tls",
    ).start()
    gateway_port = server_port()
    args = ["server", "gateway", "--port", str(gateway_port), "--data-dir", str(tmp_path / "roles")]
    args += ["--nats-url", nats.url, "--nats-user", "gateway", "--nats-tls-ca", str(ca.cert)]
    args += ["--nats-tls-cert", str(client_pair.cert), "--nats-tls-key", str(client_pair.key)]
    try:
        secrets = shared_secrets(tmp_path / "shared")
        gateway = Proc(args, tmp_path / "gateway.log", env=clean_env(RELIANT_NATS_PASSWORD="gw-pass-1", **secrets))
        gateway.start()
        gateway.wait_for_output("reliant gateway ready")
        assert gateway.stop() == 0, gateway.output()

        began = time.monotonic()
        wrong = run_cli(*args, env=clean_env(RELIANT_NATS_PASSWORD="wrong", **secrets), timeout=60)
        errors = [line for line in wrong.stderr.splitlines() if line.startswith("error:")]
        assert wrong.returncode == 1 and len(errors) == 1 and "Traceback" not in wrong.stderr, wrong.stderr
        assert f"NATS at {nats.url}" in errors[0] and "Authorization" in errors[0], errors[0]
        assert time.monotonic() - began < 30
    finally:
        nats.stop()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)


def test_up_with_an_api_certificate_gives_its_https_address_and_the_cli_reaches_it(tmp_path: Path) -> None:
    pki = CertificateAuthority(tmp_path / "pki")
    pair = pki.server("api")
    data, port = tmp_path / "data", server_port()
    env = clean_env(RELIANT_API_TLS_CERT=str(pair.cert), RELIANT_API_TLS_KEY=str(pair.key))
    up = Proc(["up", "--data-dir", str(data), "--port", str(port)], tmp_path / "up.log", env=env).start()
    try:
        up.wait_for_output("Press Ctrl-C to stop.")
        assert f"Open https://127.0.0.1:{port}/?token=" in up.output()
        status = run_cli("status", "--data-dir", str(data), env={**env, "RELIANT_API_CA": str(pki.cert)}, timeout=60)
        assert status.returncode == 0, status.stderr
        assert f"at https://127.0.0.1:{port}" in status.stdout
    finally:
        assert up.stop() == 0, up.output()


def test_up_on_a_network_address_warns_of_plaintext_until_the_api_and_gateway_serve_tls(tmp_path: Path) -> None:
    data, port = tmp_path / "data", server_port()
    up_args = ["up", "--data-dir", str(data), "--port", str(port), "--host", "0.0.0.0"]
    up = Proc(up_args, tmp_path / "plain.log", env=clean_env()).start()
    try:
        up.wait_for_output("Press Ctrl-C to stop.")
        said = up.output()
    finally:
        assert up.stop() == 0, up.output()
    warning = "the api and the daemon gateway listen on 0.0.0.0 without TLS"
    assert f"WARNING reliant.appliance.supervisor: {warning}" in said, said  # the log
    assert f"WARNING: {warning}" in said, said  # the banner, beside the addresses
    assert "api_tls_cert + api_tls_key" in said and "gateway_tls_cert + gateway_tls_key" in said

    pki = CertificateAuthority(tmp_path / "pki")
    api, gateway = pki.server("api"), pki.server("gateway")
    env = clean_env(
        RELIANT_API_TLS_CERT=str(api.cert),
        RELIANT_API_TLS_KEY=str(api.key),
        RELIANT_GATEWAY_TLS_CERT=str(gateway.cert),
        RELIANT_GATEWAY_TLS_KEY=str(gateway.key),
        RELIANT_DAEMON_TLS_CA=str(pki.cert),  # the appliance's own daemon dials its gateway over TLS
        RELIANT_DAEMON_TLS_SERVER_NAME="localhost",
    )
    up = Proc(up_args, tmp_path / "tls.log", env=env).start()
    try:
        up.wait_for_output("Press Ctrl-C to stop.")
        assert f"Open https://0.0.0.0:{port}/" in up.output()
        assert "without TLS" not in up.output(), up.output()
    finally:
        assert up.stop() == 0, up.output()
