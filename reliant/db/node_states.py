"""The latest state of every node of some runs, read from the chat's update log (`node_state`
updates; update_kinds.py): what a client that opens a chat mid-run shows before its stream goes on."""

from __future__ import annotations

from typing import Any

from reliant.db.database import Database


async def latest(db: Database, chat_id: str, run_ids: list[str]) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """By run id, the newest state of each node path (highest version, then highest seq), in the
    order the paths first appeared; and the seq of the newest update read (0 if none)."""
    if not run_ids:
        return {}, 0
    rows = await db.fetch(
        "SELECT seq, payload FROM chat_updates WHERE chat_id = %s AND kind = 'node_state'"
        " AND payload->>'run_id' = ANY(%s) ORDER BY seq",
        (chat_id, run_ids),
    )
    newest: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {}
    last = 0
    for row in rows:
        payload = row["payload"] or {}
        last = int(row["seq"])
        run_id, path = str(payload.get("run_id", "")), str(payload.get("path", ""))
        version = int(payload.get("version") or 0)
        seen = newest.setdefault(run_id, {})
        if path not in seen or version >= seen[path][0]:
            seen[path] = (version, payload)
    return {run_id: [payload for _, payload in paths.values()] for run_id, paths in newest.items()}, last
