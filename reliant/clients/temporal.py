"""Connecting to Temporal, and the ids reliant gives its workflows.

Every client (and so every worker built on one) seals its payloads with the codec key
(reliant/clients/codec.py) and speaks TLS (with a client certificate for mTLS, or an API key for
Temporal Cloud) when the settings ask: the api, the worker and tests' helpers all connect through here.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from reliant.clients.codec import CodecKey, RunStartedBefore, data_converter, load_key
from reliant.config import Settings
from reliant.errors import ConfigError, ReliantError
from reliant.wire.grpc_tls import read_pem


class TemporalUnavailableError(ReliantError):
    def __init__(self, address: str, detail: str) -> None:
        self.address = address
        self.detail = detail
        super().__init__(f"cannot reach Temporal at {address}: {detail}")


# How long connecting may take before the role gives up: a TLS endpoint that takes the handshake but
# never answers must not hold a role's start for ever.
CONNECT_TIMEOUT = 15.0


def codec_key(settings: Settings) -> CodecKey:
    return load_key(key=settings.codec_key, key_file=settings.codec_key_file)


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS to Temporal from the settings: False (plaintext, the dev server), True (the system's CAs),
    or a TLSConfig with a CA, a client certificate and key (mTLS) and a server name."""
    s = settings
    if bool(s.temporal_tls_cert) != bool(s.temporal_tls_key):
        raise ConfigError("a Temporal client certificate needs both temporal_tls_cert and temporal_tls_key")
    if not (s.temporal_tls_ca or s.temporal_tls_cert or s.temporal_tls_server_name):
        return bool(s.temporal_tls or s.temporal_api_key)
    return TLSConfig(
        server_root_ca_cert=read_pem(s.temporal_tls_ca, "temporal_tls_ca") if s.temporal_tls_ca else None,
        domain=s.temporal_tls_server_name or None,
        client_cert=read_pem(s.temporal_tls_cert, "temporal_tls_cert") if s.temporal_tls_cert else None,
        client_private_key=read_pem(s.temporal_tls_key, "temporal_tls_key") if s.temporal_tls_key else None,
    )


def _one_line(exc: BaseException) -> str:
    """The gist of a connection error: the SDK's can run over many lines of nested causes."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _hint(settings: Settings, error: str) -> str:
    """What a connection closed by the server right after connecting most likely means."""
    if "after connection" not in error:
        return ""
    if tls_config(settings) is False:
        return " (if it serves TLS, pass --temporal-tls-ca or --temporal-tls)"
    if not settings.temporal_tls_cert and not settings.temporal_api_key:
        return " (if it requires a client certificate, pass --temporal-tls-cert and --temporal-tls-key)"
    return ""


# The opening of an HTTP/2 connection: the client preface and an empty SETTINGS frame.
_HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


async def _heard_from(address: str) -> None:
    """Return once whatever listens at `address` says anything to an HTTP/2 greeting: a gRPC server
    its SETTINGS, a TLS one an alert or a close. The SDK's own connect cannot be called off once it
    has begun (a silent peer holds it for 30s, and one still pending at exit hangs or panics the
    interpreter's shutdown), so it is only started once the peer is known to talk. Nothing
    listening is left to the SDK to report in its words."""
    host, _, port = address.rpartition(":")
    try:
        reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
    except (OSError, ValueError):
        return
    try:
        writer.write(_HTTP2_GREETING)
        await writer.drain()
        await reader.read(1)
    except OSError:
        pass
    finally:
        writer.close()


async def _connect_sdk(settings: Settings, tls: TLSConfig | bool) -> Client:
    await _heard_from(settings.temporal_address)
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key or None,
    )


async def connect(settings: Settings) -> Client:
    """A client whose payloads are sealed with the settings' codec key."""
    key = codec_key(settings)
    address, namespace = settings.temporal_address, settings.temporal_namespace
    tls = tls_config(settings)
    try:
        plain = await asyncio.wait_for(_connect_sdk(settings, tls), CONNECT_TIMEOUT)
    except TimeoutError as exc:
        raise TemporalUnavailableError(address, f"no answer within {CONNECT_TIMEOUT:.0f}s") from exc
    except (RPCError, RuntimeError, OSError) as exc:
        raise TemporalUnavailableError(address, _one_line(exc) + _hint(settings, str(exc))) from exc
    legacy = None
    if key.legacy_before is not None:

        async def started_at(workflow_id: str) -> datetime | None:
            request = DescribeWorkflowExecutionRequest(
                namespace=namespace, execution=WorkflowExecution(workflow_id=workflow_id)
            )
            try:
                found = await plain.workflow_service.describe_workflow_execution(request)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None
                raise
            return found.workflow_execution_info.start_time.ToDatetime(tzinfo=UTC)

        legacy = RunStartedBefore(key.legacy_before, started_at)
    return Client(plain.service_client, namespace=namespace, data_converter=data_converter(key, legacy))


def doctor_workflow_id() -> str:
    return f"doctor-{uuid.uuid4().hex[:12]}"
