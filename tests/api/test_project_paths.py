"""Projects that would hand the tools the machine or reliant's secrets are refused: at the filesystem
root, at the data dir or around it, in system directories; and a project row or a daemon workspace
kept from before cannot be used to read the data dir's secrets through any route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.bus import Bus
from reliant.clients.daemons import call_tool
from reliant.daemon.workspaces import WORKSPACES_FILE
from reliant.db import Database
from reliant.db import projects as projects_db
from reliant.domain.tools import ToolCall
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1 import workspace_pb2 as pb
from reliant.wire.v1.chat_connect import ProjectServiceClient
from reliant.wire.v1.workspace_connect import FileSystemServiceClient
from tests.api.conftest import ApiEnv
from tests.api.test_api import rest
from tests.conftest import Infra

SECRET = "api-token-that-must-not-leak"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The api's data dir (tmp_path / "data", as in api_env), with a secret in it and a daemon
    workspace list left by an earlier version that accepted it, the root and /etc."""
    data = (tmp_path / "data").resolve()
    (data / "secrets").mkdir(parents=True)
    (data / "secrets" / "api_token").write_text(SECRET + "\n")
    (data / WORKSPACES_FILE).write_text(json.dumps({"workspaces": [str(data), "/", "/etc"]}))
    return data


async def test_dangerous_project_paths_are_refused_with_the_reason(data_dir: Path, api_env: ApiEnv) -> None:
    (api_env.workspace.parent / "etc-link").symlink_to("/etc")
    cases = {
        "/": "the filesystem root",
        "/etc": "/etc is a system directory",
        "/usr/lib/": "inside the system directory /usr",
        "/var/../etc": "/etc is a system directory",
        str(data_dir): "reliant's data dir",
        str(data_dir / "secrets"): "inside reliant's data dir",
        str(data_dir.parent): "contains reliant's data dir",
        str(api_env.workspace.parent / "etc-link"): "/etc is a system directory",  # found by the daemon
    }
    daemon_id = api_env.settings.daemon_id
    for path, reason in cases.items():
        status, body = await rest(api_env, "POST", "/api/projects", {"path": path, "daemon_id": daemon_id})
        assert status == 400 and reason in body["detail"] and path in body["detail"], (path, body)
    async with ProjectServiceClient(api_env.url) as projects:
        for path, reason in cases.items():
            with pytest.raises(ConnectError) as refused:
                await projects.create_project(
                    chat_pb2.CreateProjectRequest(path=path, daemon_id=daemon_id), headers=api_env.headers
                )
            assert refused.value.code is Code.INVALID_ARGUMENT and reason in refused.value.message
        listed = await projects.list_projects(chat_pb2.ListProjectsRequest(), headers=api_env.headers)
    assert not {p.path for p in listed.projects} & {*cases, str(data_dir.parent / "etc-link")}


async def test_no_route_reads_the_data_dirs_secrets_through_a_project_from_before(
    data_dir: Path, api_env: ApiEnv, migrated_db: Database, infra: Infra
) -> None:
    daemon_id = api_env.settings.daemon_id
    at_data = await projects_db.create(migrated_db, name="data", daemon_id=daemon_id, path=str(data_dir))
    at_root = await projects_db.create(migrated_db, name="root", daemon_id=daemon_id, path="/")
    try:
        await _no_route_reads_secrets(data_dir, api_env, infra, at_data.id, at_root.id)
    finally:  # rows no api would make: other tests must not see them
        for project in (at_data, at_root):
            await projects_db.delete_unless_running(migrated_db, project.id)


async def _no_route_reads_secrets(data_dir: Path, api_env: ApiEnv, infra: Infra, data_id: str, root_id: str) -> None:
    daemon_id = api_env.settings.daemon_id
    secret_file = str(data_dir / "secrets" / "api_token")
    async with FileSystemServiceClient(api_env.url) as fs:
        attempts = [
            fs.read_file(pb.ReadFileRequest(project_id=data_id, path="secrets/api_token"), headers=api_env.headers),
            fs.read_file(pb.ReadFileRequest(project_id=root_id, path=secret_file), headers=api_env.headers),
            fs.list_directory(pb.ListDirectoryRequest(project_id=data_id, path="secrets"), headers=api_env.headers),
            fs.search_files(
                pb.SearchFilesRequest(project_id=data_id, query=SECRET, content=True), headers=api_env.headers
            ),
        ]
        for attempt in attempts:
            with pytest.raises(ConnectError) as refused:
                await attempt
            assert refused.value.code is Code.INVALID_ARGUMENT and "not registered" in refused.value.message
            assert SECRET not in refused.value.message
    bus = await Bus.connect(infra.nats_url, infra.nats_token)
    try:
        for workspace, tool, args in [
            (str(data_dir), "view", {"path": "secrets/api_token"}),
            ("/", "view", {"path": secret_file}),
            ("/", "grep", {"pattern": SECRET, "path": str(data_dir)}),
            (str(data_dir), "shell", {"command": "cat secrets/api_token"}),
        ]:
            call = ToolCall(f"call-{tool}-{len(workspace)}", tool, args, chat_id="c-secrets", workspace=workspace)
            reply = await call_tool(bus, daemon_id, call, timeout=30)
            assert reply.result.status.value == "error" and "not registered" in reply.result.error
            assert SECRET not in reply.result.output + reply.result.error
    finally:
        await bus.close()


async def test_a_project_name_or_path_longer_than_any_can_be_is_refused_naming_the_field(api_env: ApiEnv) -> None:
    """Refused before any daemon is asked: the answer does not depend on who is online."""
    status, body = await rest(
        api_env, "POST", "/api/projects", {"path": str(api_env.workspace), "name": "n" * 201, "daemon_id": "nobody"}
    )
    assert status == 400 and "name" in body["detail"] and "200 characters" in body["detail"], body
    status, body = await rest(api_env, "POST", "/api/projects", {"path": "/a" * 2049, "daemon_id": "nobody"})
    assert status == 400 and "path" in body["detail"] and "4096 bytes" in body["detail"], body
