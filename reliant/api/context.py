"""What the api's handlers share: settings and the clients the role opened."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from reliant.api.streaming import StreamHub
from reliant.bus import Bus
from reliant.config import Settings
from reliant.db import Database


@dataclass(slots=True)
class LastPresence:
    """The last presence read that succeeded (monotonic time, records): what a read that fails on a
    busy machine falls back to for a while. Each record's own last_seen still says if it is fresh."""

    at: float = 0.0
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    db: Database
    bus: Bus
    temporal: Client
    api_url: str
    streams: StreamHub = field(default_factory=StreamHub)
    last_presence: LastPresence = field(default_factory=LastPresence)
    # In one process with the other roles (`reliant up`): set once every role is ready. Until then
    # /ready says no: a chat sent meanwhile would wait for a worker that does not poll yet.
    peers_ready: asyncio.Event | None = None
