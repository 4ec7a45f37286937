"""The settings that secure the wires between roles are layered like every other setting, and
their secrets are masked."""

from __future__ import annotations

from pathlib import Path

from reliant import config


def test_wire_settings_come_from_the_file_the_env_and_flags(tmp_path: Path) -> None:
    (tmp_path / "reliant.toml").write_text(
        "[temporal]\ntls_ca = 'ca.pem'\ntls_server_name = 'temporal.internal'\n"
        "[nats]\nuser = 'worker'\ncreds_file = 'w.creds'\n"
        "[gateway]\ntls_cert = 'gw.pem'\ntls_client_ca = 'ca.pem'\n"
        "[daemon]\ninsecure_plaintext_token = true\ntls = true\n"
        "[api]\ntls_key = 'api.key'\n"
    )
    env = {"RELIANT_TEMPORAL_API_KEY": "cloud-key-12345", "RELIANT_NATS_PASSWORD": "nats-pass-12345"}
    s = config.load(tmp_path, env=env, nats_url="tls://a:4222,tls://b:4222", temporal_tls_cert="w.pem")
    assert (s.temporal_tls_ca, s.temporal_tls_server_name, s.temporal_tls_cert) == (
        "ca.pem",
        "temporal.internal",
        "w.pem",
    )
    assert (s.nats_user, s.nats_password, s.nats_creds_file) == ("worker", "nats-pass-12345", "w.creds")
    assert (s.gateway_tls_cert, s.gateway_tls_client_ca, s.api_tls_key) == ("gw.pem", "ca.pem", "api.key")
    assert s.daemon_insecure_plaintext_token and s.daemon_tls
    shown = config.redacted(s)
    assert "cloud-key-12345" not in repr(s) and "nats-pass-12345" not in repr(s)
    assert shown["temporal_api_key"] != "cloud-key-12345" and shown["nats_password"] != "nats-pass-12345"
    assert {"cloud-key-12345", "nats-pass-12345"} <= set(config.secret_values(s))
