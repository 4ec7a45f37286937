"""Connecting a role to NATS with the settings' servers and credentials (token, user and
password, .creds file, NKEY seed) and TLS (a CA, a client certificate)."""

from __future__ import annotations

from reliant.bus import Bus, NatsAuth
from reliant.config import Settings


def nats_auth(settings: Settings) -> NatsAuth:
    s = settings
    return NatsAuth(
        token=s.nats_token,
        user=s.nats_user,
        password=s.nats_password,
        creds_file=s.nats_creds_file,
        nkey_file=s.nats_nkey_file,
        tls_ca=s.nats_tls_ca,
        tls_cert=s.nats_tls_cert,
        tls_key=s.nats_tls_key,
    )


async def connect_bus(settings: Settings, name: str) -> Bus:
    """The role's NATS connection; `settings.nats_url` may list several servers, comma-separated."""
    return await Bus.connect(settings.nats_url, name=name, auth=nats_auth(settings))
