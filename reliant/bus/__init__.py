"""NATS: the only package that imports nats. Subjects live in `subjects`."""

from reliant.bus.client import (
    Beacon,
    Bus,
    BusError,
    Incoming,
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
    "NoRespondersError",
    "Presence",
    "Reply",
    "RequestTimeoutError",
    "role_beacon",
]
