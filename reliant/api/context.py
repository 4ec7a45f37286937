"""What the api's handlers share: settings and the clients the role opened."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client

from reliant.api.streaming import StreamHub
from reliant.bus import Bus
from reliant.config import Settings
from reliant.db import Database


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    db: Database
    bus: Bus
    temporal: Client
    api_url: str
    streams: StreamHub = field(default_factory=StreamHub)
