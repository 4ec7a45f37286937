"""Node states for clients (`node_state` updates). The workflow collects them as a run changes and
hands them to the next activity it starts, which sends them first: a node costs no activity of its
own for being shown."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from reliant.clients.update_log import Change, UpdateLog
from reliant.domain import update_kinds as kinds
from reliant.worker.interpreter.cursor import NodeNote


async def emit_notes(log: UpdateLog, chat_id: str, notes: Sequence[NodeNote]) -> None:
    if notes:
        await log.emit_many(chat_id, [(kinds.NODE_STATE, dataclasses.asdict(n)) for n in notes])


def add_notes(change: Change, notes: Sequence[NodeNote]) -> None:
    """The notes as part of `change`: committed with it, in one transaction."""
    for note in notes:
        change.emit(kinds.NODE_STATE, dataclasses.asdict(note))
