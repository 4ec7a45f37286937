"""What a split role's settings must hold before it starts, checked without serving or connecting:
`reliant server api|worker|gateway` and `reliant daemon start` run it first, and with
`--check-config` only it (exit 0 when valid, 1 with every problem)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from reliant import config
from reliant.errors import ReliantError

# (secret, its file setting, its env variable) every replica of a role must be given: one replica
# cannot know whether another one, or a client, needs the same secret, so none is invented.
SHARED_SECRETS = {
    "api": (("api_token", "api_token_file", "RELIANT_API_TOKEN"), ("codec_key", "codec_key_file", "RELIANT_CODEC_KEY")),
    "worker": (("codec_key", "codec_key_file", "RELIANT_CODEC_KEY"),),
    "gateway": (("daemon_token", "daemon_token_file", "RELIANT_DAEMON_TOKEN"),),
    "daemon": (("daemon_token", "daemon_token_file", "RELIANT_DAEMON_TOKEN"),),
}
SERVICES = {"api": ("database", "nats", "temporal"), "worker": ("database", "nats", "temporal"), "gateway": ("nats",)}
_NATS_FILES = ("nats_creds_file", "nats_nkey_file", "nats_tls_ca", "nats_tls_cert", "nats_tls_key")
_TEMPORAL_FILES = ("temporal_tls_ca", "temporal_tls_cert", "temporal_tls_key")
TLS_FILES = {
    "api": ("api_tls_cert", "api_tls_key", *_NATS_FILES, *_TEMPORAL_FILES),
    "worker": (*_NATS_FILES, *_TEMPORAL_FILES),
    "gateway": ("gateway_tls_cert", "gateway_tls_key", "gateway_tls_client_ca", *_NATS_FILES),
    "daemon": ("daemon_tls_ca", "daemon_tls_cert", "daemon_tls_key"),
}
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def problems(settings: config.Settings, role: str) -> list[str]:
    """Every problem with `settings` for `role`, each naming the setting (empty: valid)."""
    found: list[str] = []
    for secret, setting, variable in SHARED_SECRETS.get(role, ()):
        if getattr(settings, secret) or (secret == "codec_key" and settings.codec_key_file):
            continue
        what = secret.replace("_", " ")
        found.append(
            f"needs the {what} its replicas share: set {setting} (env {variable}_FILE, or {variable})"
            if role != "daemon"
            else "needs the gateway's daemon token: pass --token-file (or set RELIANT_DAEMON_TOKEN_FILE)"
        )
    if role in ("api", "worker"):
        found += _codec_key(settings)
    needs = SERVICES.get(role, ())
    if "database" in needs:
        found += _database_url(settings.database_url)
    if "nats" in needs:
        found += _nats_url(settings.nats_url)
    if "temporal" in needs:
        found += _host_port(settings.temporal_address, "temporal_address", "--temporal-address")
        if not re.match(r"^[A-Za-z0-9._-]{1,255}$", settings.temporal_namespace):
            found.append(f"temporal_namespace {settings.temporal_namespace!r} is not a namespace name")
    if role == "gateway" and not settings.gateway_port:
        found.append("the gateway needs a port: pass --port (gateway_port)")
    if role == "daemon":
        for address in settings.gateway_address.split(",") if settings.gateway_address else [""]:
            found += _host_port(address.strip(), "gateway_address", "--gateway")
        found += [f"--workspace {p} is not a directory" for p in settings.daemon_workspace_roots if not p.is_dir()]
    for setting in TLS_FILES.get(role, ()):
        path = getattr(settings, setting)
        if path and not os.access(Path(path).expanduser(), os.R_OK):
            found.append(f"{setting}: {path} is not a readable file")
    return found


def _codec_key(settings: config.Settings) -> list[str]:
    from reliant.clients.codec import load_key

    try:
        if not settings.codec_key and settings.codec_key_file:
            config.read_secret_file(settings.codec_key_file, "codec_key_file")
        if settings.codec_key or settings.codec_key_file:
            load_key(key=settings.codec_key, key_file=settings.codec_key_file)
    except ReliantError as exc:
        return [str(exc)]
    return []


def _database_url(url: str) -> list[str]:
    if not url:
        return ["needs database_url: pass --db-url (or RELIANT_DATABASE_URL)"]
    if "://" not in url:
        return [] if "=" in url else ["database_url is neither a postgresql:// URL nor key=value settings"]
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        return [f"database_url: scheme {parts.scheme!r} is not postgresql://"]
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return ["database_url: the port is not a number"]
    return [] if parts.hostname or "host=" in parts.query else ["database_url names no host"]


def _nats_url(value: str) -> list[str]:
    if not value:
        return ["needs nats_url: pass --nats-url (or RELIANT_NATS_URL)"]
    found = []
    for url in value.split(","):
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("nats", "tls", "ws", "wss") or not parts.hostname:
            found.append(f"nats_url {url.strip()!r} is not nats://host:port (or tls://)")
        elif port is None and parts.scheme in ("nats", "tls") and ":" in parts.netloc.rsplit("@", 1)[-1]:
            found.append(f"nats_url {url.strip()!r}: the port is not a number")
    return found


def _host_port(value: str, setting: str, flag: str) -> list[str]:
    if not value:
        return [f"needs {setting}: pass {flag}"]
    match = _HOST_PORT.match(value)
    if not match or not 0 < int(match.group(2)) <= 65535:
        return [f"{setting} {value!r} is not host:port"]
    return []
