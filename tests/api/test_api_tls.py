"""The api's own TLS settings are checked before it opens anything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from embedded.ports import free_port, port_is_free
from reliant.api.role import ApiRole
from reliant.config import Settings
from reliant.errors import ConfigError
from tests.certificates import CertificateAuthority


async def test_half_a_pair_or_a_missing_file_stops_the_api_before_it_binds(tmp_path: Path) -> None:
    pair = CertificateAuthority(tmp_path / "pki").server("api")
    port = free_port()
    for settings, problem in (
        (Settings(api_port=port, api_tls_cert=str(pair.cert)), "api_tls_cert and api_tls_key"),
        (Settings(api_port=port, api_tls_cert=str(pair.cert), api_tls_key="/nonexistent/k"), "api_tls_key: cannot"),
    ):
        with pytest.raises(ConfigError, match=problem):
            await asyncio.wait_for(ApiRole(settings).run(asyncio.Event()), 10)
        assert port_is_free(port, "127.0.0.1")
    role = ApiRole(Settings(api_port=port, api_tls_cert=str(pair.cert), api_tls_key=str(pair.key)))
    assert role.url == f"https://127.0.0.1:{port}"
