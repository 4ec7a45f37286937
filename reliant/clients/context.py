"""Asking a daemon what the agent should know: instruction files, the environment, and the files a
user message attaches (the daemon's `ctl.context.*`, reliant/daemon/context.py)."""

from __future__ import annotations

from typing import Any

from reliant.bus import Bus
from reliant.clients.daemons import control
from reliant.domain.context import (
    Attachment,
    Environment,
    InstructionFile,
    environment_from_json,
    instruction_from_json,
)
from reliant.errors import ReliantError

TIMEOUT = 15.0


class ContextRefusedError(ReliantError):
    """The daemon answered, but would not do it (workspace not registered, malformed request)."""

    def __init__(self, daemon_id: str, request: str, reason: str) -> None:
        self.daemon_id = daemon_id
        self.request = request
        self.reason = reason
        super().__init__(f"daemon {daemon_id} refused {request}: {reason}")


async def _ask(bus: Bus, daemon_id: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Raises DaemonUnavailableError (no answer) or ContextRefusedError."""
    reply = await control(bus, daemon_id, name, body, timeout=TIMEOUT)
    if not isinstance(reply, dict) or not reply.get("ok"):
        reason = reply.get("error", "no reason given") if isinstance(reply, dict) else repr(reply)
        raise ContextRefusedError(daemon_id, f"ctl.{name}", str(reason))
    return reply


async def project_instructions(bus: Bus, daemon_id: str, workspace: str) -> tuple[InstructionFile, ...]:
    """The instruction files of the project root and the directories above it."""
    reply = await _ask(bus, daemon_id, "context.instructions", {"workspace": workspace})
    return tuple(instruction_from_json(f) for f in reply.get("files") or ())


async def directory_instructions(
    bus: Bus, daemon_id: str, workspace: str, paths: list[str]
) -> tuple[tuple[InstructionFile, ...], tuple[str, ...]]:
    """The instruction files of the directories down to each of `paths`, and the directories checked."""
    reply = await _ask(bus, daemon_id, "context.instructions", {"workspace": workspace, "paths": paths})
    files = tuple(instruction_from_json(f) for f in reply.get("files") or ())
    return files, tuple(str(d) for d in reply.get("checked") or ())


async def environment(bus: Bus, daemon_id: str, workspace: str) -> Environment:
    reply = await _ask(bus, daemon_id, "context.environment", {"workspace": workspace})
    return environment_from_json(dict(reply.get("environment") or {}))


async def attach(bus: Bus, daemon_id: str, workspace: str, paths: list[str]) -> list[Attachment]:
    reply = await _ask(bus, daemon_id, "context.attach", {"workspace": workspace, "paths": paths})
    return [
        Attachment(
            path=str(a.get("path", "")),
            kind=str(a.get("kind", "error")),
            content=str(a.get("content", "")),
            media_type=str(a.get("media_type", "")),
            truncated=bool(a.get("truncated", False)),
            size=int(a.get("size", 0)),
        )
        for a in reply.get("attachments") or ()
    ]
