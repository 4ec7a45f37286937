"""Real `nats-server` processes with the configurations a deployment uses: TLS (and client
verification), users, NKEYs, and a cluster joined by routes."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing
import nkeys

from embedded.nats import default_binary
from embedded.ports import free_port


@dataclass
class NatsProcess:
    """One nats-server on 127.0.0.1 with `config` (the client `listen` is added)."""

    directory: Path
    config: dict[str, Any]
    port: int = field(default_factory=free_port)
    scheme: str = "nats"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "nats.log"

    def start(self, timeout: float = 15) -> NatsProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "nats.conf"
        conf.write_text(json.dumps({"listen": f"127.0.0.1:{self.port}", **self.config}, indent=2))
        self.log.write_text("")
        argv = [str(default_binary()), "-c", str(conf), "-l", str(self.log)]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while "Server is ready" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nats-server did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def routes_speak_tls(node: NatsProcess) -> bool:
    """Whether the server's route port, where the other servers of its cluster dial it, answers a
    TLS handshake (a plaintext one greets with its INFO line instead)."""
    host, port = node.config["cluster"]["listen"].rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # whether it speaks TLS, not whom it trusts
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        try:
            context.wrap_socket(conn).close()
        except ssl.SSLError:
            return False
    return True


def cluster(root: Path, size: int = 3, **config: Any) -> list[NatsProcess]:
    """`size` servers of one cluster, each routing to all the others (not started)."""
    route_ports = [free_port() for _ in range(size)]
    return [
        NatsProcess(
            root / f"n{i}",
            {
                "server_name": f"n{i}",
                "cluster": {
                    "name": "reliant-test",
                    "listen": f"127.0.0.1:{route_ports[i]}",
                    "routes": [f"nats-route://127.0.0.1:{p}" for j, p in enumerate(route_ports) if j != i],
                },
                **config,
            },
        )
        for i in range(size)
    ]


def user_nkey(path: Path) -> str:
    """A new user NKEY: its seed written to `path` (0600), its public key returned."""
    raw = bytes(nacl.signing.SigningKey.generate())
    seed = nkeys.encode_seed(raw, nkeys.PREFIX_BYTE_USER)
    path.write_bytes(seed + b"\n")
    path.chmod(0o600)
    return str(nkeys.from_seed(bytearray(seed)).public_key.decode())


def _nkey(prefix: int) -> nkeys.KeyPair:
    seed = nkeys.encode_seed(bytes(nacl.signing.SigningKey.generate()), prefix)
    return nkeys.from_seed(bytearray(seed))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(issuer: nkeys.KeyPair, subject: str, name: str, nats_claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode())
    claims = {
        "jti": uuid.uuid4().hex.upper(),
        "iat": int(time.time()),
        "iss": issuer.public_key.decode(),
        "name": name,
        "sub": subject,
        "nats": {**nats_claims, "version": 2},
    }
    body = _b64(json.dumps(claims).encode())
    return f"{header}.{body}.{_b64(issuer.sign(f'{header}.{body}'.encode()))}"


@dataclass(frozen=True)
class Operator:
    """Decentralized auth as a NATS operator runs it: an operator signs an account, the account
    signs a user, and the user's .creds file holds its JWT and NKEY seed."""

    config: dict[str, Any]
    creds: Path


def operator_with_user(directory: Path) -> Operator:
    directory.mkdir(parents=True, exist_ok=True)
    operator, account, user = (
        _nkey(nkeys.PREFIX_BYTE_OPERATOR),
        _nkey(nkeys.PREFIX_BYTE_ACCOUNT),
        _nkey(nkeys.PREFIX_BYTE_USER),
    )
    unlimited = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "conn": -1, "leaf": -1}
    operator_jwt = _jwt(operator, operator.public_key.decode(), "op", {"type": "operator"})
    account_pub = account.public_key.decode()
    account_jwt = _jwt(operator, account_pub, "acct", {"type": "account", "limits": {**unlimited, "wildcards": True}})
    user_jwt = _jwt(
        account, user.public_key.decode(), "worker", {"type": "user", "subs": -1, "data": -1, "payload": -1}
    )
    creds = directory / "worker.creds"
    creds.write_text(
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{user.seed.decode()}\n------END USER NKEY SEED------\n"
    )
    creds.chmod(0o600)
    config = {"operator": operator_jwt, "resolver": "MEMORY", "resolver_preload": {account_pub: account_jwt}}
    return Operator(config, creds)
