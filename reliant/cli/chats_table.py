"""`reliant chats`: every chat, most recently active first, as a table (short ids, project, status,
last activity, cost) or as JSON."""

from __future__ import annotations

import io
import json
import os
import time
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from reliant.cli import ids
from reliant.cli.api import Api
from reliant.cli.shown import printable
from reliant.wire.v1 import chat_pb2 as pb

STATUS_STYLES = {"running": "green", "waiting": "bold yellow", "paused": "yellow", "failed": "red", "idle": ""}


def rows(api: Api) -> list[dict[str, Any]]:
    with api.chats() as chats:
        listed = list(chats.list_chats(pb.ListChatsRequest(), headers=api.headers).chats)
    with api.projects() as projects:
        known = {p.id: p for p in projects.list_projects(pb.ListProjectsRequest(), headers=api.headers).projects}
    shorts = ids.short_ids([c.id for c in listed])
    listed.sort(key=lambda c: c.updated_unix, reverse=True)
    out = []
    for c in listed:
        project = known.get(c.project_id)
        out.append(
            {
                "id": c.id,
                "short_id": shorts[c.id],
                "title": c.title,
                "project_id": c.project_id,
                "project": project.name if project else "",
                "project_path": project.path if project else "",
                "status": c.status,
                "status_reason": c.status_reason,
                "mode": c.mode,
                "model": c.model,
                "pending_gates": c.pending_gates,
                "queued": c.queued,
                "created_unix": c.created_unix,
                "updated_unix": c.updated_unix,
                "cost_usd": round(c.usage.cost_usd, 6),
                "input_tokens": c.usage.input_tokens,
                "output_tokens": c.usage.output_tokens,
            }
        )
    return out


def print_json(listed: list[dict[str, Any]], out: TextIO) -> None:
    out.write(json.dumps(listed, indent=2) + "\n")


def print_table(listed: list[dict[str, Any]], out: TextIO, *, styled: bool, now: float | None = None) -> None:
    if not listed:
        out.write("no chats yet: start one with `reliant chat MESSAGE`\n")
        return
    now = time.time() if now is None else now
    table = Table(box=None, pad_edge=False, header_style="bold" if styled else "", show_edge=False)
    for name in ("ID", "PROJECT", "STATUS", "ACTIVE", "COST", "TITLE"):
        table.add_column(
            name,
            no_wrap=True,
            justify="right" if name == "COST" else "left",
            overflow="ellipsis",
            ratio=1 if name == "TITLE" else None,  # on a narrow terminal the title gives way first
        )
    for c in listed:
        status = c["status"] + (" (asks)" if c["pending_gates"] else "")
        table.add_row(
            Text(c["short_id"], style="yellow"),
            Text(printable(c["project"])),  # Text: a name or title is never read as console markup
            Text(status, style=STATUS_STYLES.get(c["status"], "")),
            ago(now - c["updated_unix"]),
            f"${c['cost_usd']:.4f}",
            Text(printable(c["title"]) or "(untitled)"),
        )
    if styled:
        console = Console(file=out, force_terminal=True, no_color=True if os.environ.get("NO_COLOR") else None)
        console.print(table)
        return
    # A pipe: no escape codes, no line cut to a terminal's width, no padding after the last column.
    console = Console(file=io.StringIO(), force_terminal=False, width=10_000)
    with console.capture() as captured:
        console.print(table)
    out.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d ago"
    return time.strftime("%Y-%m-%d", time.localtime(time.time() - seconds))
