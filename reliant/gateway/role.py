"""The gateway role: a grpcio server that daemons dial into, over TLS (and mTLS) when configured."""

from __future__ import annotations

import asyncio
import logging

import grpc

from embedded.ports import bind_error
from reliant.bus import Bus, role_beacon
from reliant.clients.bus_connection import connect_bus
from reliant.config import Settings, host_port
from reliant.errors import PortInUseError, listen_error
from reliant.gateway.servicer import GatewayServicer, default_gateway_id
from reliant.wire.grpc_options import OPTIONS
from reliant.wire.grpc_tls import ServerTls, server_tls
from reliant.wire.v1 import daemon_pb2_grpc

logger = logging.getLogger(__name__)


class GatewayRole:
    name = "gateway"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.servicer: GatewayServicer | None = None
        self._bus: Bus | None = None  # once serving: what `probe` asks

    async def probe(self) -> bool:
        """Readiness (the probe listener's /ready): serving, and connected to NATS."""
        return self._bus is not None and self._bus.connected

    async def run(self, ready: asyncio.Event) -> None:
        s = self.settings
        tls = server_tls(s.gateway_tls_cert, s.gateway_tls_key, s.gateway_tls_client_ca)
        credentials = tls.credentials() if tls else None  # a bad file is a ConfigError before anything starts
        bus = await connect_bus(s, "reliant-gateway")
        server = grpc.aio.server(options=OPTIONS)
        self.servicer = GatewayServicer(
            bus,
            daemon_token=s.daemon_token,
            gateway_id=default_gateway_id(s.gateway_port),
            heartbeat_interval=s.heartbeat_interval,
            heartbeat_timeout=s.heartbeat_timeout,
        )
        daemon_pb2_grpc.add_DaemonGatewayServicer_to_server(self.servicer, server)  # type: ignore[no-untyped-call]
        address = host_port(s.host, s.gateway_port)
        try:
            bound = server.add_secure_port(address, credentials) if credentials else server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if bound == 0:
            await bus.close()
            # grpc says only that it failed: a bind of our own says why (a taken port, or an address
            # that is not this machine's).
            reason = bind_error(s.gateway_port, s.host)
            if reason is None:
                raise PortInUseError("gateway", s.host, s.gateway_port)
            raise listen_error("gateway", s.host, s.gateway_port, reason)
        beacon = role_beacon(bus, self.name, {"address": address}, s.heartbeat_interval)
        try:
            await server.start()
            await beacon.start()
            logger.info("gateway listening on %s (%s)", address, _security(tls))
            self._bus = bus
            ready.set()
            await asyncio.Event().wait()  # until cancelled (grpc's wait_for_termination mishandles cancel)
        finally:
            self._bus = None
            await self.servicer.close_all()
            await server.stop(grace=1.0)
            await beacon.shutdown()
            await bus.close()


def _security(tls: ServerTls | None) -> str:
    if tls is None:
        return "plaintext"
    return "mTLS" if tls.client_ca else "TLS"
