"""Projects over real HTTP -> api -> NATS -> gateway -> daemon: a project's own MCP servers wait for
TrustProject (a marker file their command writes proves they did not run), trust follows the files'
fingerprint, and DeleteProject forgets a project (never its files) unless one of its chats runs."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.db import Database
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import workspace_pb2 as wpb
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from reliant.wire.v1.workspace_connect import McpServiceClient
from tests.api.conftest import ApiEnv
from tests.api.test_api import rest
from tests.support import eventually

TEST_SERVER = str(Path(__file__).resolve().parents[1] / "daemon" / "servers" / "reliant_test_mcp.py")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "ran.txt"


@pytest.fixture
async def project(api_env: ApiEnv, marker: Path) -> AsyncIterator[pb.Project]:
    """A project whose .reliant/mcp.json runs our test server (which appends to `marker` as it starts)."""
    config = api_env.workspace / ".reliant" / "mcp.json"
    config.parent.mkdir()
    server = {"command": sys.executable, "args": [TEST_SERVER, "--marker", str(marker)], "env": {"TOKEN": "t"}}
    config.write_text(json.dumps({"mcpServers": {"repo": server}}))
    async with ProjectServiceClient(api_env.url) as projects:
        request = pb.CreateProjectRequest(path=str(api_env.workspace), daemon_id=api_env.settings.daemon_id)
        yield await eventually(lambda: projects.create_project(request, headers=api_env.headers), timeout=20)


async def test_a_projects_mcp_servers_run_only_once_it_is_trusted(
    api_env: ApiEnv, project: pb.Project, marker: Path
) -> None:
    headers = api_env.headers
    command = f"{sys.executable} {TEST_SERVER} --marker {marker}"
    async with ProjectServiceClient(api_env.url) as projects, McpServiceClient(api_env.url) as mcp:
        listed = await mcp.list_mcp_servers(wpb.ListMcpServersRequest(project_id=project.id), headers=headers)
        assert not listed.servers and listed.trust == "untrusted"
        assert listed.trust_note == f"not trusted: 1 server would run: {command}"
        assert [(s.name, s.status, s.target) for s in listed.untrusted] == [("repo", "untrusted", command)]
        assert not marker.exists()

        trust = await projects.get_project_trust(pb.GetProjectTrustRequest(project_id=project.id), headers=headers)
        assert trust.state == "untrusted" and list(trust.files) == [".reliant/mcp.json"]
        (item,) = trust.items
        assert (item.kind, item.name, item.transport, item.command_line) == ("mcp_server", "repo", "stdio", command)
        assert list(item.env_names) == ["TOKEN"] and item.cwd == project.path

        with pytest.raises(ConnectError) as stale:
            await projects.trust_project(
                pb.TrustProjectRequest(project_id=project.id, fingerprint="sha256:" + "1" * 64), headers=headers
            )
        assert stale.value.code == Code.FAILED_PRECONDITION and "changed since they were shown" in stale.value.message
        with pytest.raises(ConnectError) as missing:
            await projects.trust_project(pb.TrustProjectRequest(project_id=project.id), headers=headers)
        assert missing.value.code == Code.INVALID_ARGUMENT and "fingerprint is required" in missing.value.message

        trusted = await projects.trust_project(
            pb.TrustProjectRequest(project_id=project.id, fingerprint=trust.fingerprint), headers=headers
        )
        assert trusted.state == "trusted" and trusted.fingerprint == trust.fingerprint and trusted.note == ""

        async def healthy() -> wpb.ListMcpServersResponse | None:
            now = await mcp.list_mcp_servers(wpb.ListMcpServersRequest(project_id=project.id), headers=headers)
            return now if [s.status for s in now.servers] == ["healthy"] else None

        assert (await eventually(healthy, timeout=30)).trust == "trusted"
        assert marker.exists()

        untrusted = await projects.untrust_project(pb.UntrustProjectRequest(project_id=project.id), headers=headers)
        assert untrusted.state == "untrusted"
        after = await mcp.list_mcp_servers(wpb.ListMcpServersRequest(project_id=project.id), headers=headers)
        assert not after.servers and [s.name for s in after.untrusted] == ["repo"]


async def test_trust_over_rest(api_env: ApiEnv, project: pb.Project, marker: Path) -> None:
    status, trust = await rest(api_env, "GET", f"/api/projects/{project.id}/trust")
    assert status == 200 and trust["state"] == "untrusted" and trust["items"][0]["name"] == "repo"
    status, body = await rest(api_env, "POST", f"/api/projects/{project.id}/trust", {"fingerprint": "sha256:0"})
    assert status == 409 and "changed since they were shown" in body["detail"]
    status, body = await rest(api_env, "POST", f"/api/projects/{project.id}/trust", {})
    assert status == 400
    status, trusted = await rest(
        api_env, "POST", f"/api/projects/{project.id}/trust", {"fingerprint": trust["fingerprint"]}
    )
    assert status == 200 and trusted["state"] == "trusted", trusted
    await eventually(marker.exists, timeout=30)
    status, revoked = await rest(api_env, "DELETE", f"/api/projects/{project.id}/trust")
    assert status == 200 and revoked["state"] == "untrusted"
    status, body = await rest(api_env, "GET", "/api/projects/not-a-uuid/trust")
    assert status == 400 and "must be a UUID" in body["detail"]


async def test_delete_project_forgets_it_and_its_chats_but_never_its_files(
    api_env: ApiEnv, project: pb.Project, migrated_db: Database
) -> None:
    headers = api_env.headers
    async with ProjectServiceClient(api_env.url) as projects, ChatServiceClient(api_env.url) as chats:
        trust = await projects.get_project_trust(pb.GetProjectTrustRequest(project_id=project.id), headers=headers)
        await projects.trust_project(
            pb.TrustProjectRequest(project_id=project.id, fingerprint=trust.fingerprint), headers=headers
        )
        busy = await chats.create_chat(pb.CreateChatRequest(project_id=project.id), headers=headers)
        idle = await chats.create_chat(pb.CreateChatRequest(project_id=project.id), headers=headers)
        await migrated_db.execute("UPDATE chats SET status = 'running' WHERE id = %s", (busy.id,))
        with pytest.raises(ConnectError) as refused:
            await projects.delete_project(pb.DeleteProjectRequest(id=project.id), headers=headers)
        assert refused.value.code == Code.FAILED_PRECONDITION
        assert busy.id in refused.value.message and "stop them first" in refused.value.message
        listed = await chats.list_chats(pb.ListChatsRequest(project_id=project.id), headers=headers)
        assert {c.id for c in listed.chats} == {busy.id, idle.id}

        await migrated_db.execute("UPDATE chats SET status = 'idle' WHERE id = %s", (busy.id,))
        removed = await projects.delete_project(pb.DeleteProjectRequest(id=project.id), headers=headers)
        assert removed.chats_deleted == 2 and removed.daemon_released
        with pytest.raises(ConnectError) as gone:
            await projects.get_project(pb.GetProjectRequest(id=project.id), headers=headers)
        assert gone.value.code == Code.NOT_FOUND
        with pytest.raises(ConnectError) as chat_gone:
            await chats.get_chat(pb.GetChatRequest(id=idle.id), headers=headers)
        assert chat_gone.value.code == Code.NOT_FOUND
        with pytest.raises(ConnectError) as again:
            await projects.delete_project(pb.DeleteProjectRequest(id=project.id), headers=headers)
        assert again.value.code == Code.NOT_FOUND
        with pytest.raises(ConnectError) as bad:
            await projects.delete_project(pb.DeleteProjectRequest(id="x"), headers=headers)
        assert bad.value.code == Code.INVALID_ARGUMENT

    assert (api_env.workspace / ".reliant" / "mcp.json").is_file()  # nothing on disk was touched
    daemon_file = json.loads((api_env.settings.data_path / "daemon-workspaces.json").read_text())
    assert str(api_env.workspace.resolve()) not in daemon_file["workspaces"]
    # Registered again, it starts from scratch: its trust went with it.
    status, again_added = await rest(
        api_env, "POST", "/api/projects", {"path": str(api_env.workspace), "daemon_id": api_env.settings.daemon_id}
    )
    assert status == 201
    status, trust = await rest(api_env, "GET", f"/api/projects/{again_added['id']}/trust")
    assert trust["state"] == "untrusted"
    status, _ = await rest(api_env, "DELETE", f"/api/projects/{again_added['id']}")
    assert status == 200


async def test_delete_project_over_rest_reports_not_found(api_env: ApiEnv) -> None:
    status, body = await rest(api_env, "DELETE", "/api/projects/00000000-0000-0000-0000-000000000000")
    assert status == 404 and "not found" in body["detail"]


async def test_a_refused_removal_names_exactly_the_chats_that_block_it(
    api_env: ApiEnv, project: pb.Project, migrated_db: Database
) -> None:
    """Only a chat running a turn keeps its project; the refusal named the chats waiting for an
    answer too (a waiting chat is removed with its project), so it counted chats the user need not
    stop."""
    ids = []
    for _ in range(3):
        status, chat = await rest(api_env, "POST", "/api/chats", {"project_id": project.id})
        assert status == 201, chat
        ids.append(chat["id"])
    running, waiting, idle = ids
    await migrated_db.execute("UPDATE chats SET status = 'running' WHERE id = %s", (running,))
    await migrated_db.execute("UPDATE chats SET status = 'waiting' WHERE id = %s", (waiting,))

    status, refused = await rest(api_env, "DELETE", f"/api/projects/{project.id}")
    assert status == 409, (status, refused)
    assert f"has 1 chat(s) running a turn ({running}): stop them first" in refused["detail"], refused
    assert waiting not in refused["detail"] and idle not in refused["detail"]

    await migrated_db.execute("UPDATE chats SET status = 'idle' WHERE id = %s", (running,))
    status, removed = await rest(api_env, "DELETE", f"/api/projects/{project.id}")
    assert status == 200 and removed["chats_deleted"] == 3, removed
