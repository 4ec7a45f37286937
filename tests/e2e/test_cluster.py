"""A deployment as a team runs it, on this machine: real processes with TLS on every wire and
certificates made here. A Debian PostgreSQL server (`sslmode=verify-full`), a 3-node NATS cluster
(TLS for clients and on the routes between the nodes, a user and password, JetStream with 3
replicas), the Temporal dev server behind a TLS proxy that requires a
client certificate (the namespace made by a worker), 2 apis (https), 2 workers, 2 gateways (TLS,
mTLS) and 2 daemons, each daemon given both gateways. A scripted chat with a tool call per message runs on
each daemon, its messages sent through alternating apis, while a StreamUpdates client on the other
api follows it; mid-chat one api, one worker, one gateway and the NATS node leading the daemons'
presence bucket are killed. Every chat
completes, every tool call's effect happens once, and the follower saw every update of the log."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf.json_format import MessageToDict

import embedded
from embedded.ports import server_port
from tests.bus.nats_servers import NatsProcess, cluster, routes_speak_tls
from tests.certificates import CertificateAuthority
from tests.e2e.harness import Proc, Rest, clean_env, http_json, shared_secrets
from tests.postgres_server import DebianPostgres, debian_binaries
from tests.support import processes_mentioning, wait_until
from tests.tls_proxy import TlsProxy

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        debian_binaries() is None, reason="needs Debian's postgresql package (scripts/test installs it)"
    ),
]

MESSAGES = 3  # per chat; the failover happens while the second one is being answered
KILL_AT = 1


def _script(path: Path, effects: Path) -> None:
    """Per message: a tool call that appends one line to `effects`, then a slowly streamed answer."""
    turns: list[dict[str, Any]] = []
    for n in range(MESSAGES):
        command = f"echo effect-{n} >> {effects}"
        turns.append({"tools": [{"name": "shell", "input": {"command": command}}]})
        turns.append({"text": f"answer-{n} " + "word " * 60, "delay_ms": 40})
    path.write_text(yaml.safe_dump({"turns": turns}))


def _clients(monitor: str) -> int:
    """How many clients a NATS node serves (its monitoring port's /connz)."""
    status, doc = http_json("GET", f"http://{monitor}/connz")
    assert status == 200, doc
    return int(doc["num_connections"])


def _leader(monitors: dict[str, str], stream: str) -> str:
    """The server leading `stream`, which every server must hold (a replica on each)."""
    holders, leader = set(), ""
    for name, monitor in monitors.items():
        _, doc = http_json("GET", f"http://{monitor}/jsz?accounts=true&streams=true")
        for account in doc.get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail["name"] == stream:
                    holders.add(name)
                    leader = detail.get("cluster", {}).get("leader", leader)
    assert holders == set(monitors), f"{stream} is held by {holders} only"
    return leader


class StreamFollower:
    """A ConnectRPC StreamUpdates client on one api, reading on a thread until closed."""

    def __init__(self, url: str, token: str, chat_id: str, ca_cert: bytes) -> None:
        from pyqwest import SyncClient, SyncHTTPTransport

        from reliant.wire.v1 import chat_pb2 as pb
        from reliant.wire.v1.chat_connect import ChatServiceClientSync

        self.updates: list[tuple[int, str, dict[str, Any]]] = []
        self.error: BaseException | None = None
        # Its own transport trusting the test's CA: the shared default one read SSL_CERT_FILE when the
        # first test of the process made it, before this test set it.
        http = SyncClient(SyncHTTPTransport(tls_ca_cert=ca_cert))
        self._client = ChatServiceClientSync(url, proto_json=True, http_client=http)
        request = pb.StreamUpdatesRequest(chat_id=chat_id, since_seq=0)
        headers = {"Authorization": f"Bearer {token}"}
        self._stream = self._client.stream_updates(request, headers=headers)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for update in self._stream:
                self.updates.append((update.seq, update.kind, MessageToDict(update.payload)))
        except BaseException as exc:  # noqa: BLE001 - kept for the assertion that reads it
            self.error = exc

    def seqs(self) -> set[int]:
        return {seq for seq, _, _ in list(self.updates) if seq}

    def close(self) -> None:
        self._client.close()
        self._thread.join(5)


@pytest.fixture
def pki(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "pki")


@pytest.fixture
def postgres(pki: CertificateAuthority) -> Iterator[DebianPostgres]:
    pair = pki.server("postgres")
    server = DebianPostgres(pair.cert, pair.key)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.mark.timeout(420)
async def test_two_of_each_role_on_tls_survive_losing_one_of_each_mid_chat(
    tmp_path: Path, pki: CertificateAuthority, postgres: DebianPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    began = time.monotonic()
    timings: dict[str, float] = {}
    procs: dict[str, Proc] = {}
    nodes: list[NatsProcess] = []
    temporal: embedded.TemporalServer | None = None
    proxy: TlsProxy | None = None
    followers: list[StreamFollower] = []
    try:
        # NATS: three nodes joined by routes, TLS with the private CA (clients, and the routes with
        # certificates that serve and dial), one user, JetStream on each.
        nats_pair, routes_pair = pki.server("nats"), pki.peer("nats-routes")
        nats_password = os.urandom(8).hex()
        nodes = cluster(
            tmp_path / "nats",
            tls={"cert_file": str(nats_pair.cert), "key_file": str(nats_pair.key), "timeout": 5},
            authorization={"users": [{"user": "reliant", "password": nats_password}]},
        )
        monitors = {}
        for node in nodes:
            node.scheme = "tls"
            node.config["cluster"]["tls"] = {
                "cert_file": str(routes_pair.cert),
                "key_file": str(routes_pair.key),
                "ca_file": str(pki.cert),
                "timeout": 5,
            }
            node.config["jetstream"] = {"store_dir": str(node.directory / "js")}
            monitors[node.config["server_name"]] = node.config["http"] = f"127.0.0.1:{server_port()}"
            node.start()
        assert all(routes_speak_tls(node) for node in nodes), "the routes between the servers are plaintext"
        # Temporal without the namespace the roles use; only the proxy's mTLS port is given to them.
        temporal = await embedded.start_temporal(
            embedded.TemporalConfig(
                db_path=tmp_path / "temporal.db",
                log_path=tmp_path / "temporal.log",
                port=server_port(),
                http_port=server_port(),
                metrics_port=server_port(),
                namespace="default",
            )
        )
        temporal_address = f"127.0.0.1:{server_port()}"
        proxy_pair = pki.server("temporal-proxy")
        proxy = TlsProxy(temporal_address, temporal.address, proxy_pair.cert, proxy_pair.key, client_ca=pki.cert)
        proxy.start()
        timings["services"] = time.monotonic() - began

        secrets = tmp_path / "shared"
        (secrets / "nats_password").parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, value in (("nats_password", nats_password), ("database_password", postgres.password)):
            (secrets / name).write_text(value + "\n")
            (secrets / name).chmod(0o600)
        roles_pair = pki.client("roles")
        env = clean_env(
            **shared_secrets(secrets),
            RELIANT_DATABASE_URL=postgres.url(pki.cert),
            RELIANT_DATABASE_PASSWORD_FILE=str(secrets / "database_password"),
            RELIANT_NATS_URL=",".join(node.url for node in nodes),
            RELIANT_NATS_USER="reliant",
            RELIANT_NATS_PASSWORD_FILE=str(secrets / "nats_password"),
            RELIANT_NATS_TLS_CA=str(pki.cert),
            RELIANT_TEMPORAL_ADDRESS=temporal_address,
            RELIANT_TEMPORAL_NAMESPACE="reliant-cluster",
            RELIANT_TEMPORAL_TLS_CA=str(pki.cert),
            RELIANT_TEMPORAL_TLS_CERT=str(roles_pair.cert),
            RELIANT_TEMPORAL_TLS_KEY=str(roles_pair.key),
            RELIANT_DEPLOYMENT="cluster",
            RELIANT_NATS_REPLICAS="3",
        )

        def start(name: str, args: list[str]) -> Proc:
            proc = Proc([*args, "--data-dir", str(tmp_path / name)], tmp_path / f"{name}.log", env=env).start()
            procs[name] = proc
            return proc

        worker_probes = [server_port(), server_port()]
        for n in (1, 2):
            start(f"worker-{n}", ["server", "worker", "--create-namespace", "--probe-port", str(worker_probes[n - 1])])
        gateway_pair = pki.server("gateway")
        gateway_ports = [server_port(), server_port()]
        for n in (1, 2):
            tls = ["--tls-cert", str(gateway_pair.cert), "--tls-key", str(gateway_pair.key)]
            tls += ["--tls-client-ca", str(pki.cert)]  # mTLS: daemons need a certificate the CA signed
            start(f"gateway-{n}", ["server", "gateway", "--port", str(gateway_ports[n - 1]), *tls])
        for name, proc in procs.items():
            proc.wait_for_output(f"reliant {name.split('-')[0]} ready", timeout=120)
        # The apis after a worker made the namespace (an api without it exits 1, naming it).
        api_ports, api_pair = [server_port(), server_port()], pki.server("api")
        for n in (1, 2):
            tls = ["--tls-cert", str(api_pair.cert), "--tls-key", str(api_pair.key)]
            start(f"api-{n}", ["server", "api", "--port", str(api_ports[n - 1]), *tls])
        for n in (1, 2):
            procs[f"api-{n}"].wait_for_output("reliant api ready", timeout=120)
        for port in worker_probes:
            assert http_json("GET", f"http://127.0.0.1:{port}/ready") == (200, {"ready": True})

        workspaces = [tmp_path / "ws-1", tmp_path / "ws-2"]
        daemon_pair = pki.client("daemon")
        for n, workspace in enumerate(workspaces, 1):
            workspace.mkdir()
            order = gateway_ports if n == 1 else gateway_ports[::-1]  # each gateway holds one daemon
            start(
                f"daemon-{n}",
                [
                    "daemon",
                    "start",
                    "--gateway",
                    ",".join(f"localhost:{p}" for p in order),
                    "--token-file",
                    str(secrets / "daemon_token"),
                    "--workspace",
                    str(workspace),
                    "--tls-ca",
                    str(pki.cert),
                    "--tls-cert",
                    str(daemon_pair.cert),
                    "--tls-key",
                    str(daemon_pair.key),
                ],
            )
        for n in (1, 2):
            procs[f"daemon-{n}"].wait_for_output("connected to", timeout=60)
        timings["startup"] = time.monotonic() - began

        token = (secrets / "api_token").read_text().strip()
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.cert))  # this test's https clients trust the CA
        apis = [Rest(f"https://127.0.0.1:{port}", token) for port in api_ports]
        chats = []
        for n, workspace in enumerate(workspaces, 1):
            script, effects = workspace / ".script.yaml", tmp_path / f"effects-{n}.txt"
            _script(script, effects)
            project = apis[0].project(workspace)
            chat = apis[0].chat(project["id"], f"scripted:{script}")
            chats.append((chat["id"], effects))
            followers.append(
                StreamFollower(apis[1].url, token, chat["id"], pki.cert.read_bytes())
            )  # api-2: the one that stays

        killed: list[str] = []
        chat_began = time.monotonic()
        for m in range(MESSAGES):
            round_began = time.monotonic()
            seen = [len(f.updates) for f in followers]
            for n, (chat_id, _) in enumerate(chats):
                api = apis[(m + n) % 2] if "api-1" not in killed else apis[1]  # alternate while both live
                api.send(chat_id, f"message {m}")
            if m == KILL_AT:
                # Mid-turn: the tool call of this message has run (its effect is written) or the answer
                # streams. Either sign will do: a stream that lags may be sent fewer live deltas.
                def under_way(seen: list[int] = seen) -> bool:
                    streaming = any(
                        k == "block_delta" for f, i in zip(followers, seen, strict=True) for _, k, _ in f.updates[i:]
                    )
                    effects = [e.read_text().split() if e.exists() else [] for _, e in chats]
                    return streaming or any(f"effect-{KILL_AT}" in lines for lines in effects)

                wait_until(under_way, timeout=90)
                # The NATS node that leads the daemons' presence bucket (replicated on all three).
                names = {node.config["server_name"]: node for node in nodes}
                leader = wait_until(lambda: _leader(monitors, "KV_cluster_reliant_presence"), timeout=30)
                doomed_nats = names[leader]
                lost_clients = _clients(monitors[leader])
                for name in ("api-1", "worker-1", "gateway-1"):
                    procs[name].kill()
                    killed.append(name)
                doomed_nats.kill()
                killed.append(f"nats {doomed_nats.config['server_name']}")
                kill_time = time.monotonic()
            for chat_id, _ in chats:
                apis[1].wait_idle(chat_id, timeout=150)
            if m == KILL_AT:
                timings["failover recovery (kill to both chats idle)"] = time.monotonic() - kill_time
            timings[f"message {m} (both chats)"] = time.monotonic() - round_began
        timings["chat"] = time.monotonic() - chat_began

        for n, (chat_id, effects) in enumerate(chats, 1):
            answers = [m for m in apis[1].messages(chat_id) if m["role"] == "assistant" and m["blocks"][-1].get("text")]
            texts = [m["blocks"][-1]["text"].split()[0] for m in answers]
            assert texts == [f"answer-{i}" for i in range(MESSAGES)], (n, texts)
            assert effects.read_text().split() == [f"effect-{i}" for i in range(MESSAGES)], "each effect once"
        for follower, (chat_id, _) in zip(followers, chats, strict=True):
            log = {int(u["seq"]) for u in apis[1].updates(chat_id)}
            try:
                wait_until(lambda f=follower, log=log: log <= f.seqs(), timeout=30)
            except AssertionError:
                missed = sorted(log - follower.seqs())
                kinds = {int(u["seq"]): u["kind"] for u in apis[1].updates(chat_id)}
                raise AssertionError(
                    f"the follower missed {[(q, kinds[q]) for q in missed]} of {len(log)}; error {follower.error!r}"
                ) from None
            assert follower.error is None, follower.error
        for name in ("worker-2", "gateway-2", "api-2", "daemon-1", "daemon-2"):
            assert procs[name].process is not None and procs[name].process.poll() is None, procs[name].output()
        print(f"\ncluster e2e (killed {', '.join(killed)}; {lost_clients} NATS clients moved):")
        for what, seconds in timings.items():
            print(f"  {what}: {seconds:.1f}s")
    finally:
        for follower in followers:
            follower.close()
        for proc in reversed(list(procs.values())):
            if proc.process is not None and proc.process.poll() is None:
                proc.process.send_signal(signal.SIGINT)
        for proc in procs.values():
            if proc.process is not None:
                try:
                    proc.process.wait(30)
                except Exception:  # noqa: BLE001
                    proc.kill()
        if proxy is not None:
            proxy.stop()
        if temporal is not None:
            await temporal.stop()
        for node in nodes:
            node.stop()
        for pid, _ in processes_mentioning(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
