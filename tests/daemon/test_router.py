"""DaemonRouter's control subjects, called directly."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from reliant.daemon.role import DaemonRouter
from reliant.daemon.tools import ToolHost
from reliant.domain.tools import ToolCall, ToolStatus
from reliant.wire.tools import decode_result, encode_call
from tests.support import eventually


async def _ctl(router: DaemonRouter, name: str, body: Any = None, raw: bytes | None = None) -> Any:
    payload = raw if raw is not None else json.dumps(body or {}).encode()
    return json.loads(await router.handle(f"ctl.{name}", payload))


async def test_control_subjects(host: ToolHost, tmp_path: Path, workspace: Path) -> None:
    announced: list[list[Path]] = []

    async def announce() -> None:
        announced.append(host.workspaces)

    router = DaemonRouter(host, announce)
    listed = await _ctl(router, "tools.list")
    tools = listed["tools"]
    assert [t["name"] for t in tools] == [
        "view",
        "write",
        "edit",
        "glob",
        "grep",
        "shell",
        "shell_output",
        "shell_wait",
        "shell_kill",
        "shell_list",
    ]
    assert set(tools[0]) == {"name", "description", "input_schema", "read_only"}
    assert listed["ok"] and listed["complete"]

    extra = tmp_path / "extra"
    extra.mkdir()
    assert await _ctl(router, "workspace.add", {"path": str(extra)}) == {"ok": True, "path": str(extra.resolve())}
    assert announced == [[workspace, extra.resolve()]]
    missing = await _ctl(router, "workspace.add", {"path": str(tmp_path / "missing")})
    assert missing["ok"] is False and "no such directory" in missing["error"]
    assert (await _ctl(router, "workspace.add", {}))["ok"] is False
    assert await _ctl(router, "workspace.list") == {"workspaces": [str(workspace), str(extra.resolve())]}
    assert len(announced) == 1

    unknown = await _ctl(router, "frobnicate")
    assert unknown == {"ok": False, "error": "unknown control subject ctl.frobnicate"}
    malformed = await _ctl(router, "tool.cancel", raw=b"{nope")
    assert malformed["ok"] is False and "malformed" in malformed["error"]
    assert (await _ctl(router, "tool.cancel", {"chat_id": "c"}))["ok"] is False

    big = await router.handle("ctl.workspace.list", b" " * (5 * 1024 * 1024))
    assert json.loads(big)["error"].startswith("request of 5,242,880 bytes refused")


async def test_cancel_through_the_router(host: ToolHost, workspace: Path) -> None:
    router = DaemonRouter(host)
    call = ToolCall("long", "shell", {"command": "touch started; sleep 300"}, chat_id="c1")
    pending = asyncio.create_task(router.handle("tools", encode_call(call)))
    await eventually((workspace / "started").exists)
    reply = await _ctl(router, "tool.cancel", {"chat_id": "c1", "tool_call_id": "long"})
    assert reply == {"ok": True, "cancelled": True}
    result = decode_result(await pending)
    assert result.status is ToolStatus.INTERRUPTED and result.error == "cancelled by the user"
    again = await _ctl(router, "tool.cancel", {"chat_id": "c1", "tool_call_id": "long"})
    assert again == {"ok": True, "cancelled": False}
