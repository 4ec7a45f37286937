"""TLS on the daemon stream: the gateway's server credentials, a daemon's channel credentials, and
whether a gateway address is on this machine (the one place a daemon token may travel unencrypted)."""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from reliant.errors import ConfigError


def read_pem(path: str, setting: str) -> bytes:
    """A PEM file named by a setting; a missing, unreadable or non-PEM file names the setting."""
    try:
        data = Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(f"{setting}: {path} is not a PEM file")
    return data


def check_key_pair(cert: str, key: str, cert_setting: str, key_setting: str) -> None:
    """Refuse a certificate and a key that do not belong together (or that OpenSSL cannot load: an
    encrypted key), naming both settings: grpc takes them without a word and then fails to listen
    or to hand-shake, saying neither why nor which file."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(Path(cert).expanduser(), Path(key).expanduser(), password=lambda: b"")
    except ssl.SSLError as exc:
        raise ConfigError(
            f"{cert_setting} {cert} and {key_setting} {key} are not a certificate and its key: {exc.reason or exc}"
        ) from None


@dataclass(frozen=True, slots=True)
class ServerTls:
    """The gateway's certificate and key; with a client CA, daemons must present a certificate it signed."""

    cert: str
    key: str
    client_ca: str = ""

    def credentials(self) -> grpc.ServerCredentials:
        pair = (read_pem(self.key, "gateway_tls_key"), read_pem(self.cert, "gateway_tls_cert"))
        check_key_pair(self.cert, self.key, "gateway_tls_cert", "gateway_tls_key")
        client_ca = read_pem(self.client_ca, "gateway_tls_client_ca") if self.client_ca else None
        return grpc.ssl_server_credentials([pair], root_certificates=client_ca, require_client_auth=bool(client_ca))


def server_tls(cert: str, key: str, client_ca: str) -> ServerTls | None:
    """The gateway's TLS from its settings; None for plaintext. Half a pair is a configuration error."""
    if not cert and not key:
        if client_ca:
            raise ConfigError("gateway_tls_client_ca needs gateway_tls_cert and gateway_tls_key (TLS) too")
        return None
    if not cert or not key:
        raise ConfigError("gateway TLS needs both gateway_tls_cert and gateway_tls_key")
    return ServerTls(cert, key, client_ca)


@dataclass(frozen=True, slots=True)
class ChannelTls:
    """How a daemon verifies the gateway (a CA file, or the system's CAs when empty) and, for mTLS,
    the client certificate it presents."""

    ca: str = ""
    cert: str = ""
    key: str = ""
    server_name: str = ""  # the name the gateway's certificate must carry, when not the dialled host

    @property
    def client_certificate(self) -> bool:
        return bool(self.cert)

    def credentials(self) -> grpc.ChannelCredentials:
        if self.cert:
            read_pem(self.cert, "daemon_tls_cert")
            read_pem(self.key, "daemon_tls_key")
            check_key_pair(self.cert, self.key, "daemon_tls_cert", "daemon_tls_key")
        return grpc.ssl_channel_credentials(
            root_certificates=read_pem(self.ca, "daemon_tls_ca") if self.ca else None,
            private_key=read_pem(self.key, "daemon_tls_key") if self.key else None,
            certificate_chain=read_pem(self.cert, "daemon_tls_cert") if self.cert else None,
        )

    def options(self) -> list[tuple[str, str]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def channel_tls(enabled: bool, ca: str, cert: str, key: str, server_name: str) -> ChannelTls | None:
    """A daemon's TLS from its settings: on when asked for or when any TLS file is given."""
    if bool(cert) != bool(key):
        raise ConfigError("a daemon client certificate needs both daemon_tls_cert and daemon_tls_key")
    if not (enabled or ca or cert or server_name):
        return None
    return ChannelTls(ca, cert, key, server_name)


def is_loopback(address: str) -> bool:
    """Whether a gRPC target (`host:port`, `[v6]:port`, `unix:path`) stays on this machine. Names
    are not resolved: only `localhost` (and `*.localhost`) count, any other name may go anywhere."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    host = address.removeprefix("dns:").removeprefix("ipv4:").removeprefix("ipv6:").lstrip("/")
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
