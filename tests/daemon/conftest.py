"""A ToolHost over a fresh workspace, and a short way to call its tools."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.domain.tools import ToolCall, ToolResult

Run = Callable[..., Awaitable[ToolResult]]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the workspace, which no tool may reach."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.txt").write_text("top secret\n")
    return path.resolve()


@pytest.fixture
async def host(workspace: Path) -> AsyncIterator[ToolHost]:
    host = ToolHost("d-test", BUILTIN_TOOLS, [workspace])
    yield host
    await host.shutdown()


@pytest.fixture
def run(host: ToolHost) -> Run:
    """run(tool, chat_id="chat-1", **input): one call with a fresh tool_call_id."""
    ids = itertools.count(1)

    async def call(tool: str, chat_id: str = "chat-1", **args: Any) -> ToolResult:
        return await host.execute(ToolCall(f"call-{next(ids)}", tool, args, chat_id=chat_id))

    return call


def read_pids(folder: Path, *names: str) -> list[int]:
    """The pids a shell command wrote to these files; AssertionError until all are written
    (a probe for `eventually`)."""
    texts = [(folder / n).read_text() if (folder / n).exists() else "" for n in names]
    assert all(t.endswith("\n") for t in texts), f"not written yet: {names}"
    return [int(t) for t in texts]


def processes_in_groups(pgids: list[int]) -> list[int]:
    """Live (non-zombie) processes whose process group is one of `pgids`."""
    wanted = {str(g) for g in pgids}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] in wanted and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found
