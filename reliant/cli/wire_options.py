"""The options of `reliant server …` and `reliant daemon start` that secure the wires between roles:
TLS to Temporal and NATS, NATS credentials, TLS on the api and the gateway. Each is also a setting
(`reliant.toml`, `RELIANT_*`); passwords and API keys are settings only, never flags (a flag shows in
`ps`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

Text = str | None


def _opt(flag: str, help: str) -> Any:
    return typer.Option(flag, help=help)


TemporalTlsOpt = Annotated[bool, _opt("--temporal-tls", "TLS to Temporal with the system's CAs (Temporal Cloud)")]
TemporalTlsCaOpt = Annotated[Text, _opt("--temporal-tls-ca", "TLS to Temporal, trusting this CA (PEM)")]
TemporalTlsCertOpt = Annotated[Text, _opt("--temporal-tls-cert", "Client certificate (PEM) for Temporal (mTLS)")]
TemporalTlsKeyOpt = Annotated[Text, _opt("--temporal-tls-key", "The private key (PEM) of --temporal-tls-cert")]
TemporalTlsNameOpt = Annotated[
    Text, _opt("--temporal-tls-server-name", "The name on Temporal's certificate, if not the address's host")
]
NatsUserOpt = Annotated[Text, _opt("--nats-user", "NATS user (the password: RELIANT_NATS_PASSWORD)")]
NatsCredsOpt = Annotated[Text, _opt("--nats-creds", "NATS credentials file (.creds: user JWT and NKEY seed)")]
NatsNkeyOpt = Annotated[Text, _opt("--nats-nkey", "File holding a NATS NKEY seed")]
NatsTlsCaOpt = Annotated[Text, _opt("--nats-tls-ca", "TLS to NATS, trusting this CA (PEM)")]
NatsTlsCertOpt = Annotated[Text, _opt("--nats-tls-cert", "Client certificate (PEM) for NATS (mTLS)")]
NatsTlsKeyOpt = Annotated[Text, _opt("--nats-tls-key", "The private key (PEM) of --nats-tls-cert")]
TlsCertOpt = Annotated[Text, _opt("--tls-cert", "Serve TLS with this certificate (PEM)")]
TlsKeyOpt = Annotated[Text, _opt("--tls-key", "The private key (PEM) of --tls-cert")]
