"""NATS: the only package that imports nats. Subjects live in `subjects`."""

from reliant.bus.client import (
    Beacon,
    Bus,
    BusError,
    Incoming,
    NatsAuth,
    NoRespondersError,
    Presence,
    Reply,
    RequestTimeoutError,
    role_beacon,
)
from reliant.bus.live import LiveFollower, LiveTail

__all__ = [
    "Beacon",
    "Bus",
    "BusError",
    "Incoming",
    "LiveFollower",
    "LiveTail",
    "NatsAuth",
    "NoRespondersError",
    "Presence",
    "Reply",
    "RequestTimeoutError",
    "role_beacon",
]
