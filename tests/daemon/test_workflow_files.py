"""ctl.workflows.read: a project's workflow files and presets reach the engine only while the user
trusts exactly those files; otherwise the answer is empty and says why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon.role import DaemonRouter
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.trust import TrustStore, snapshot
from reliant.daemon.workflow_files import WorkflowFiles


class Daemon:
    def __init__(self, data: Path) -> None:
        self.store = TrustStore(data)
        self.host = ToolHost("d-flows", BUILTIN_TOOLS, workspace_file=data / "workspaces.json")
        self.router = DaemonRouter(self.host)
        self.router.register(WorkflowFiles(self.store).controls(self.host.workspace_for))

    async def ask(self, subject: str, **body: Any) -> Any:
        return json.loads(await self.router.handle(f"ctl.{subject}", json.dumps(body).encode()))


@pytest.fixture
async def daemon(tmp_path: Path, workspace: Path) -> AsyncIterator[Daemon]:
    d = Daemon(tmp_path / "data")
    assert (await d.ask("workspace.add", path=str(workspace)))["ok"]
    yield d
    await d.host.shutdown()


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


async def test_an_untrusted_projects_files_are_not_handed_out_and_the_answer_says_why(
    daemon: Daemon, workspace: Path
) -> None:
    write(workspace, ".reliant/workflows/agent.yaml", "name: agent\n")
    write(workspace, ".reliant/presets/fast.yaml", "model: scripted:demo\n")
    read = await daemon.ask("workflows.read", workspace=str(workspace))
    assert read["ok"] and not read["trusted"] and read["trust"] == "untrusted"
    assert read["workflows"] == [] and read["presets"] == []
    assert "not trusted" in read["note"] and "reliant trust" in read["note"]


async def test_a_trusted_projects_workflows_and_presets_are_read_as_trusted(daemon: Daemon, workspace: Path) -> None:
    flow = write(workspace, ".reliant/workflows/agent.yaml", "name: agent\nentry: a\n")
    write(workspace, ".reliant/workflows/notes.txt", "not a workflow")
    write(workspace, ".reliant/workflows/nested/deep.yaml", "name: deep\n")
    preset = write(workspace, ".reliant/presets/fast.yaml", "model: scripted:demo\n")
    broken = write(workspace, ".reliant/presets/broken.yaml", b"\xff\xfe not utf-8")
    daemon.store.grant(workspace.resolve(), snapshot(workspace.resolve()).fingerprint)
    read = await daemon.ask("workflows.read", workspace=str(workspace))
    assert read["trusted"] and read["trust"] == "trusted" and read["note"] == ""
    assert read["workflows"] == [{"name": "agent", "source": str(flow.resolve()), "text": "name: agent\nentry: a\n"}]
    assert read["presets"] == [{"name": "fast", "source": str(preset.resolve()), "text": "model: scripted:demo\n"}]
    assert read["problems"] == {str(broken.resolve()): "not UTF-8 text"}

    # Presets are part of what is trusted: a changed preset needs trusting again.
    preset.write_text("model: anthropic:claude-opus-4-1\n")
    again = await daemon.ask("workflows.read", workspace=str(workspace))
    assert again["trust"] == "changed" and again["presets"] == [] and "changed since they were trusted" in again["note"]


async def test_a_project_without_files_of_its_own_has_nothing_to_trust(daemon: Daemon, workspace: Path) -> None:
    read = await daemon.ask("workflows.read", workspace=str(workspace))
    assert read["trusted"] and read["trust"] == "none" and read["workflows"] == [] and read["presets"] == []


async def test_an_unknown_workspace_is_refused(daemon: Daemon, tmp_path: Path) -> None:
    read = await daemon.ask("workflows.read", workspace=str(tmp_path / "elsewhere"))
    assert read["ok"] is False and "not registered" in read["error"]
