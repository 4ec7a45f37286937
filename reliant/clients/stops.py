"""Stopping on a daemon what a cancel or a deleted chat leaves running there, now or, unreachable,
once it is back.

A cancel never waits on a daemon it cannot reach: the tool call it was running there and the
background processes the cancelled run started would then run on, for good (a foreground dev server,
`sleep 300`, a build). What could not be stopped is recorded as owed (`owed_stops`) and stopped when
the daemon comes back online (the worker's `DaemonWatcher`), or when a worker starts and finds it
reachable. A deleted chat is owed the same way: the tool calls it or its agents still ran and every
background process they started.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from reliant.bus import Bus
from reliant.clients.daemons import control
from reliant.db import Database
from reliant.db import owed_stops as owed_stops_db
from reliant.db import processes as processes_db
from reliant.db.owed_stops import BACKGROUND, TOOL
from reliant.errors import DaemonUnavailableError

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0  # seconds for the daemon to cancel a call, list or kill a background process


async def cancel_tool(bus: Bus, db: Database, daemon_id: str, chat_id: str, call_key: str) -> None:
    """Cancel a running tool call on its daemon (owed if the daemon cannot be asked)."""
    try:
        await _cancel(bus, daemon_id, chat_id, call_key)
    except DaemonUnavailableError as exc:
        await owed_stops_db.owe(db, daemon_id, chat_id, TOOL, [call_key])
        logger.warning(
            "could not cancel tool call %s on daemon %s (%s): it is cancelled once the daemon is back",
            call_key,
            daemon_id,
            exc,
        )


async def stop_background(bus: Bus, db: Database, daemon_id: str, chat_id: str, keys: Collection[str]) -> None:
    """Kill the chat's running background processes that the calls `keys` started (owed if the
    daemon cannot be asked)."""
    if not keys:
        return
    try:
        await _kill(bus, daemon_id, {(chat_id, key) for key in keys})
    except DaemonUnavailableError as exc:
        await owed_stops_db.owe(db, daemon_id, chat_id, BACKGROUND, keys)
        logger.warning(
            "chat %s: its background processes on daemon %s could not be stopped (%s): they are once it is back",
            chat_id,
            daemon_id,
            exc,
        )


async def stop_chat_background(bus: Bus, db: Database, daemon_id: str, chat_id: str) -> None:
    """Kill every running background process of the chat, its agents' too (they run under the
    chat's id), whichever turn started it: a deleted chat leaves nothing to show or stop them from.
    Unreachable, the daemon is owed those it was last heard to run."""
    try:
        listed = await _listed(bus, daemon_id)
        await _kill(
            bus,
            daemon_id,
            {(chat_id, str(p.get("tool_call_id"))) for p in listed if p.get("chat_id") == chat_id},
            listed,
        )
    except DaemonUnavailableError as exc:
        recorded = await processes_db.list_for(db, daemon_id, chat_id=chat_id, limit=10_000)
        await owed_stops_db.owe(
            db, daemon_id, chat_id, BACKGROUND, {p.tool_call_id for p in recorded if p.state == "running"}
        )
        logger.warning(
            "chat %s: its background processes on daemon %s could not be stopped (%s): they are once it is back",
            chat_id,
            daemon_id,
            exc,
        )


async def pay(bus: Bus, db: Database, daemon_id: str) -> int:
    """Stop what is owed on `daemon_id`; the number of stops settled (0 if it is unreachable)."""
    owed = await owed_stops_db.of_daemon(db, daemon_id)
    if not owed:
        return 0
    try:
        for stop in owed:
            if stop.kind == TOOL:
                await _cancel(bus, daemon_id, stop.chat_id, stop.call_key)
        await _kill(bus, daemon_id, {(s.chat_id, s.call_key) for s in owed if s.kind == BACKGROUND})
    except DaemonUnavailableError:
        return 0  # away again: its next online event tries once more
    await owed_stops_db.paid(db, daemon_id, owed)
    logger.info("daemon %s is back: stopped what %d cancelled call(s) left running there", daemon_id, len(owed))
    return len(owed)


async def _cancel(bus: Bus, daemon_id: str, chat_id: str, call_key: str) -> None:
    body = {"chat_id": chat_id, "tool_call_id": call_key}
    await control(bus, daemon_id, "tool.cancel", body, timeout=STOP_TIMEOUT)


async def _listed(bus: Bus, daemon_id: str) -> list[dict[str, Any]]:
    """The background processes the daemon knows of (see daemon/processes.py `record`)."""
    listed = await control(bus, daemon_id, "proc.list", {}, timeout=STOP_TIMEOUT)
    processes = listed.get("processes") if isinstance(listed, dict) else None
    return [p for p in processes or [] if isinstance(p, dict)]


async def _kill(
    bus: Bus, daemon_id: str, calls: set[tuple[str, str]], listed: list[dict[str, Any]] | None = None
) -> None:
    """Kill the running background processes started by `calls` (chat id, call key), of those
    `listed` if the daemon was just asked."""
    if not calls:
        return
    for process in await _listed(bus, daemon_id) if listed is None else listed:
        if process.get("state") == "running" and (process.get("chat_id"), process.get("tool_call_id")) in calls:
            await control(bus, daemon_id, "proc.kill", {"id": process["id"]}, timeout=STOP_TIMEOUT)
