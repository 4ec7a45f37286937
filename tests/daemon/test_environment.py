"""No process the daemon starts sees reliant's secrets: shell, background processes, terminals and
MCP servers run with reliant's own variables removed from the environment."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from reliant.daemon.environment import child_environment
from reliant.daemon.mcp.manager import McpManager
from reliant.daemon.terminals import Terminals
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.trust import TrustStore, snapshot
from reliant.domain.tools import ToolCall, ToolStatus
from tests.daemon.conftest import Run
from tests.support import eventually

TEST_SERVER = str(Path(__file__).parent / "servers" / "reliant_test_mcp.py")

SECRETS = {
    "RELIANT_OPENAI_API_KEY": "sk-reliant-openai-4f1c",
    "RELIANT_ANTHROPIC_API_KEY": "sk-ant-reliant-9d2e",
    "RELIANT_API_TOKEN": "api-token-77ab",
    "RELIANT_DAEMON_TOKEN": "daemon-token-31cd",
    "RELIANT_NATS_TOKEN": "nats-token-5e6f",
    "RELIANT_DATABASE_URL": "postgresql://reliant:db-password-8a9b@127.0.0.1/reliant",
    "ANTHROPIC_API_KEY": "sk-ant-standard-0c1d",
    "OPENAI_API_KEY": "sk-standard-openai-2e3f",
}


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon's process holds reliant's secrets, as in `reliant up`."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MY_PROJECT_SETTING", "kept-value-6a7b")


def assert_no_secrets(text: str) -> None:
    leaked = [name for name, value in SECRETS.items() if value in text or f"{name}=" in text]
    assert not leaked, f"leaked: {leaked}"
    assert "MY_PROJECT_SETTING=kept-value-6a7b" in text  # the user's own environment stays


def test_the_child_environment_drops_reliants_variables_and_adds_extras() -> None:
    env = child_environment({"TERM": "dumb"})
    assert not set(SECRETS) & set(env)
    assert env["TERM"] == "dumb" and env["MY_PROJECT_SETTING"] == "kept-value-6a7b"
    # A process given a key explicitly keeps it.
    assert child_environment({"OPENAI_API_KEY": "from-config"})["OPENAI_API_KEY"] == "from-config"


async def test_shell_sees_no_secrets(run: Run) -> None:
    result = await run("shell", command="env")
    assert result.status is ToolStatus.OK and result.data["exit_code"] == 0
    assert_no_secrets(result.output)


async def test_a_background_process_sees_no_secrets(run: Run) -> None:
    started = await run("shell", command="env; sleep 0.2", run_in_background=True)
    assert started.status is ToolStatus.OK, started.error
    process_id = started.data["process_id"]
    waited = await run("shell_wait", process_id=process_id, timeout=30)
    assert waited.data["state"] == "exited", waited.output
    output = await run("shell_output", process_id=process_id, offset=0)
    assert_no_secrets(output.output)


async def test_a_terminal_sees_no_secrets(workspace: Path) -> None:
    terminals = Terminals()
    session = await terminals.open(workspace, 200, 50, ["env"])
    await asyncio.wait_for(session.exited.wait(), 30)
    _, data = session.output.read(0, 1 << 20)
    await terminals.shutdown()
    assert_no_secrets(data.decode("utf-8", "replace").replace("\r\n", "\n"))


async def test_an_mcp_server_sees_no_secrets_unless_its_config_gives_one(tmp_path: Path, workspace: Path) -> None:
    config = workspace / ".reliant" / "mcp.json"
    config.parent.mkdir()
    server = {"command": sys.executable, "args": [TEST_SERVER], "env": {"OPENAI_API_KEY": "given-by-config"}}
    config.write_text(json.dumps({"mcpServers": {"test": server}}))
    TrustStore(tmp_path / "data").grant(workspace, snapshot(workspace).fingerprint)  # as the user would
    host = ToolHost("d-env", BUILTIN_TOOLS, [workspace], provider=McpManager(tmp_path / "data"))
    try:

        async def listed() -> bool:
            tools, complete = await host.offered(str(workspace))
            return complete and any(t.name == "mcp__test__env" for t in tools)

        await eventually(listed, timeout=30)
        seen = {}
        for number, name in enumerate([*SECRETS, "MY_PROJECT_SETTING"]):
            call = ToolCall(f"env-{number}", "mcp__test__env", {"name": name}, chat_id="c", workspace=str(workspace))
            result = await host.execute(call)
            assert result.status is ToolStatus.OK, result.error
            seen[name] = result.output
    finally:
        await host.shutdown()
    expected = dict.fromkeys(SECRETS, "") | {"OPENAI_API_KEY": "given-by-config"}
    assert seen == {**expected, "MY_PROJECT_SETTING": "kept-value-6a7b"}


async def test_a_projects_mcp_config_cannot_hand_reliants_secrets_to_its_servers(
    tmp_path: Path, workspace: Path
) -> None:
    """`${VAR}` in a project's own files names no variable of reliant's: a repository would give its
    server (or the URL it sends to) reliant's tokens, under a name the trust view shows, not its
    value. Such a server is an error, shown before the user trusts the project."""
    config = workspace / ".reliant" / "mcp.json"
    config.parent.mkdir()
    stdio = {"command": sys.executable, "args": [TEST_SERVER], "env": {"GIVEN": "${RELIANT_DAEMON_TOKEN}"}}
    http = {"url": "http://127.0.0.1:9/${ANTHROPIC_API_KEY:-none}", "headers": {"X": "${OPENAI_API_KEY}"}}
    http["disabled"] = True
    config.write_text(json.dumps({"mcpServers": {"test": stdio, "remote": http}}))
    manager = McpManager(tmp_path / "data")
    host = ToolHost("d-env", BUILTIN_TOOLS, [workspace], provider=manager)
    try:
        shown = (await manager.trust_view(workspace)).doc()
        manager.trust.grant(workspace, shown["fingerprint"])  # as the user would, having looked
        await manager.refresh(workspace)

        async def settled() -> bool:
            return (await host.offered(str(workspace)))[1]

        await eventually(settled, timeout=30)
        tools, _ = await host.offered(str(workspace))
        seen = ""
        if any(t.name == "mcp__test__env" for t in tools):
            call = ToolCall("env-given", "mcp__test__env", {"name": "GIVEN"}, chat_id="c", workspace=str(workspace))
            seen = (await host.execute(call)).output
    finally:
        await host.shutdown()
    assert SECRETS["RELIANT_DAEMON_TOKEN"] not in seen
    items = {item["name"]: item for item in shown["items"]}
    assert "RELIANT_DAEMON_TOKEN" in items["test"]["error"]
    assert "ANTHROPIC_API_KEY" in items["remote"]["error"]
    assert not any(value in json.dumps(shown) for value in SECRETS.values())
