"""runs: one row per run of a workflow definition (a message x the chat's workflow, or a child
workflow), with the definition it pinned, its inputs, status and outputs."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from reliant.db.database import Queries, Row
from reliant.domain.runs import PinnedText, RunOutcome, RunRecord

_COLUMNS = (
    "id, chat_id, parent_id, node, message_id, workflow, source, definition, inputs, thread_id, status, outputs,"
    " error, created_at, finished_at"
)


def _text(doc: Any) -> PinnedText:
    return PinnedText(name=str(doc.get("name", "")), source=str(doc.get("source", "")), text=str(doc.get("text", "")))


def _record(row: Row) -> RunRecord:
    definition = row["definition"] or {}
    return RunRecord(
        id=str(row["id"]),
        chat_id=str(row["chat_id"]),
        workflow=row["workflow"],
        source=row["source"],
        workflow_text=_text(definition.get("workflow") or {}),
        presets=tuple(_text(p) for p in definition.get("presets") or ()),
        inputs=dict(row["inputs"] or {}),
        parent_id=str(row["parent_id"]) if row["parent_id"] is not None else None,
        node=row["node"],
        message_id=str(row["message_id"]) if row["message_id"] is not None else None,
        thread_id=str(row["thread_id"]) if row["thread_id"] is not None else None,
        status=RunOutcome(row["status"]),
        outputs=dict(row["outputs"] or {}),
        error=row["error"],
        created_at=row["created_at"].timestamp(),
        finished_at=row["finished_at"].timestamp() if row["finished_at"] is not None else None,
    )


def _doc(text: PinnedText) -> dict[str, str]:
    return {"name": text.name, "source": text.source, "text": text.text}


async def create(db: Queries, record: RunRecord) -> bool:
    """Record a run as it starts (idempotent by id); True if this call recorded it."""
    definition = {"workflow": _doc(record.workflow_text), "presets": [_doc(p) for p in record.presets]}
    row = await db.fetchrow(
        "INSERT INTO runs (id, chat_id, parent_id, node, message_id, workflow, source, definition, inputs,"
        " thread_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id",
        (
            record.id,
            record.chat_id,
            record.parent_id,
            record.node,
            record.message_id,
            record.workflow,
            record.source,
            Jsonb(definition),
            Jsonb(record.inputs),
            record.thread_id,
        ),
    )
    return row is not None


async def get(db: Queries, run_id: str) -> RunRecord | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM runs WHERE id = %s", (run_id,))
    return _record(row) if row else None


async def for_chat(db: Queries, chat_id: str) -> list[RunRecord]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM runs WHERE chat_id = %s ORDER BY created_at", (chat_id,))
    return [_record(r) for r in rows]


async def finish(
    db: Queries, run_id: str, status: RunOutcome, *, outputs: dict[str, Any] | None = None, error: str = ""
) -> bool:
    """Record how a running run ended; False if it had ended already."""
    changed = await db.execute(
        "UPDATE runs SET status = %s, outputs = %s, error = %s, finished_at = now()"
        " WHERE id = %s AND status = 'running'",
        (status.value, Jsonb(outputs or {}), error, run_id),
    )
    return changed == 1
