"""Several daemons online: a new project goes to the daemon whose workspace roots hold its path;
when that is not one daemon, the caller is asked to choose, with the candidates named."""

from __future__ import annotations

import dataclasses
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

from reliant.daemon.role import DaemonRole
from tests.api.conftest import ApiEnv
from tests.api.test_api import rest
from tests.support import RoleRunner, eventually


async def test_a_project_goes_to_the_daemon_whose_roots_hold_it(api_env: ApiEnv, tmp_path: Path) -> None:
    roots = {name: tmp_path / name for name in ("alice", "bob")}
    ids = {name: f"d-{name}-{uuid.uuid4().hex[:6]}" for name in roots}
    async with AsyncExitStack() as stack:
        for name, root in roots.items():
            (root / "app").mkdir(parents=True)
            settings = dataclasses.replace(
                api_env.settings,
                daemon_id=ids[name],
                daemon_name=name,
                daemon_workspaces=(root,),
                daemon_workspace_roots=(root,),
                data_dir=tmp_path / f"{name}-data",
            )
            await stack.enter_async_context(RoleRunner(DaemonRole(settings)))

        for name, root in roots.items():

            async def created(path: Path = root / "app") -> dict[str, str] | None:
                status, project = await rest(api_env, "POST", "/api/projects", {"path": str(path)})
                return project if status == 201 else None  # until the daemons' presence is seen

            project = await eventually(created, timeout=20)
            assert project["daemon_id"] == ids[name], f"{root / 'app'} is in {name}'s workspace"

        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        status, body = await rest(api_env, "POST", "/api/projects", {"path": str(elsewhere)})
        assert status == 400
        assert "several daemons are online, none with a workspace holding it" in body["detail"]
        assert all(ids[n] in body["detail"] for n in roots) and "--daemon" in body["detail"]
        status, project = await rest(
            api_env, "POST", "/api/projects", {"path": str(elsewhere), "daemon_id": api_env.settings.daemon_id}
        )
        assert status == 201 and project["daemon_id"] == api_env.settings.daemon_id
