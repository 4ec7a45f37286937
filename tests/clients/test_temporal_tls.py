"""TLS and the API key on the way to Temporal: what the settings make of them, and that the key
reaches the server, over TLS, as the bearer token Temporal Cloud expects."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import grpc
import pytest
from temporalio.api.workflowservice.v1 import request_response_pb2 as rr
from temporalio.api.workflowservice.v1 import service_pb2_grpc
from temporalio.service import TLSConfig

from reliant.clients import temporal
from reliant.config import Settings
from reliant.errors import ConfigError
from tests.certificates import CertificateAuthority
from tests.conftest import TEST_CODEC_KEY


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("pki"))


BASE = Settings(temporal_address="127.0.0.1:1", codec_key=TEST_CODEC_KEY)


def test_tls_settings_make_the_sdk_tls_config(ca: CertificateAuthority) -> None:
    client = ca.client("worker")
    assert temporal.tls_config(BASE) is False  # the dev server of `reliant up`: plaintext
    assert temporal.tls_config(dataclasses.replace(BASE, temporal_tls=True)) is True
    assert temporal.tls_config(dataclasses.replace(BASE, temporal_api_key="k")) is True  # Cloud: TLS
    full = temporal.tls_config(
        dataclasses.replace(
            BASE,
            temporal_tls_ca=str(ca.cert),
            temporal_tls_cert=str(client.cert),
            temporal_tls_key=str(client.key),
            temporal_tls_server_name="temporal.internal",
        )
    )
    assert isinstance(full, TLSConfig)
    assert full.server_root_ca_cert == ca.cert.read_bytes() and full.domain == "temporal.internal"
    assert full.client_cert == client.cert.read_bytes() and full.client_private_key == client.key.read_bytes()
    with pytest.raises(ConfigError, match="temporal_tls_cert and temporal_tls_key"):
        temporal.tls_config(dataclasses.replace(BASE, temporal_tls_cert=str(client.cert)))
    with pytest.raises(ConfigError, match=r"temporal_tls_ca: cannot read /nonexistent/ca\.pem"):
        temporal.tls_config(dataclasses.replace(BASE, temporal_tls_ca="/nonexistent/ca.pem"))


class _Frontend(service_pb2_grpc.WorkflowServiceServicer):
    """Temporal's frontend as far as connecting goes: it answers GetSystemInfo and notes who asked."""

    def __init__(self) -> None:
        self.authorization: list[str] = []

    async def GetSystemInfo(
        self, request: rr.GetSystemInfoRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> rr.GetSystemInfoResponse:
        metadata = dict(context.invocation_metadata() or ())
        self.authorization.append(str(metadata.get("authorization", "")))
        return rr.GetSystemInfoResponse(server_version="test")


async def test_the_api_key_is_sent_over_tls_as_a_bearer_token(ca: CertificateAuthority, tmp_path: Path) -> None:
    pair = ca.server("frontend", hosts=("temporal.internal",), loopback=False)
    frontend = _Frontend()
    server = grpc.aio.server()
    service_pb2_grpc.add_WorkflowServiceServicer_to_server(frontend, server)  # type: ignore[no-untyped-call]
    port = server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials([(pair.key.read_bytes(), pair.cert.read_bytes())])
    )
    await server.start()
    try:
        settings = dataclasses.replace(
            BASE,
            temporal_address=f"127.0.0.1:{port}",
            temporal_tls_ca=str(ca.cert),
            temporal_tls_server_name="temporal.internal",  # the name on its certificate
            temporal_api_key="cloud-key-1",
        )
        await temporal.connect(settings)
        assert frontend.authorization == ["Bearer cloud-key-1"]
        with pytest.raises(temporal.TemporalUnavailableError, match="NotValidForName"):
            await temporal.connect(dataclasses.replace(settings, temporal_tls_server_name=""))
        # A plaintext client cannot talk to a TLS endpoint: the error names Temporal and where.
        with pytest.raises(temporal.TemporalUnavailableError, match=f"Temporal at 127.0.0.1:{port}"):
            await temporal.connect(dataclasses.replace(settings, temporal_tls_ca="", temporal_api_key=""))
    finally:
        await server.stop(None)
