"""Several daemons online: a new project goes to the daemon whose workspace roots hold its path;
when that is not one daemon, the caller is asked to choose, with the candidates named; `reliant chat
--project P [--daemon ID]` registers it so."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import yaml

from reliant.daemon.role import DaemonRole
from reliant.worker.role import WorkerRole
from tests.api.conftest import ApiEnv
from tests.api.test_api import rest
from tests.e2e.harness import clean_env, reliant_cmd, run_cli
from tests.support import RoleRunner, eventually


async def _daemons(stack: AsyncExitStack, api_env: ApiEnv, tmp_path: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Two more daemons, alice and bob, each with its own workspace root (holding an `app`
    directory) and both with `shared`: their own roots and their ids."""
    roots = {name: tmp_path / name for name in ("alice", "bob")}
    ids = {name: f"d-{name}-{uuid.uuid4().hex[:6]}" for name in roots}
    for name, root in roots.items():
        (root / "app").mkdir(parents=True)
        settings = dataclasses.replace(
            api_env.settings,
            daemon_id=ids[name],
            daemon_name=name,
            daemon_workspaces=(root, tmp_path / "shared"),
            daemon_workspace_roots=(root, tmp_path / "shared"),
            data_dir=tmp_path / f"{name}-data",
        )
        await stack.enter_async_context(RoleRunner(DaemonRole(settings)))
    return roots, ids


async def test_a_project_goes_to_the_daemon_whose_roots_hold_it(api_env: ApiEnv, tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        roots, ids = await _daemons(stack, api_env, tmp_path)
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


async def test_chat_with_a_project_registers_it_on_the_daemon_that_holds_it_or_the_one_named(
    api_env: ApiEnv, tmp_path: Path
) -> None:
    script = api_env.settings.data_dir / "script.yaml"  # where a scripted model may be read from
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(yaml.safe_dump({"turns": [{"text": "Done here."}]}))
    env = clean_env(XDG_CONFIG_HOME=str(tmp_path / "config"), RELIANT_DATA_DIR=str(tmp_path / "home"))
    cli = ["--api-url", api_env.url, "--token", api_env.token]

    async def chat(*args: str) -> subprocess.CompletedProcess[str]:
        run = ["chat", *args, "--model", f"scripted:{script}", "go", *cli]
        return await asyncio.to_thread(run_cli, *run, env=env, timeout=90)

    async def project_at(path: Path) -> dict[str, Any]:
        status, projects = await rest(api_env, "GET", "/api/projects")
        assert status == 200
        [project] = [p for p in projects if p["path"] == str(path.resolve())]
        return project

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(RoleRunner(WorkerRole(api_env.settings)))
        roots, ids = await _daemons(stack, api_env, tmp_path)

        async def all_online() -> bool:  # the api names every daemon it sees online
            status, body = await rest(api_env, "POST", "/api/projects", {"path": str(elsewhere)})
            return status == 400 and all(i in body["detail"] for i in ids.values())

        await eventually(all_online, timeout=20)

        held = await chat("--project", str(roots["bob"] / "app"))
        assert held.returncode == 0, held.stdout + held.stderr
        assert "Done here." in held.stdout
        assert (await project_at(roots["bob"] / "app"))["daemon_id"] == ids["bob"], "bob's root holds it"

        shared = tmp_path / "shared" / "app"
        shared.mkdir(parents=True)
        either = await chat("--project", str(shared))
        assert either.returncode == 1, either.stdout + either.stderr
        assert either.stderr.startswith(f"error: 2 daemons have workspaces holding {shared.resolve()}: "), either.stderr
        assert "--daemon" in either.stderr and all(i in either.stderr for i in ids.values()), either.stderr
        named = await chat("--project", str(shared), "--daemon", ids["alice"])
        assert named.returncode == 0, named.stdout + named.stderr
        assert (await project_at(shared))["daemon_id"] == ids["alice"], "--daemon chooses between the two"

        unknown = await chat("--project", str(roots["alice"] / "app"), "--daemon", "d-nowhere")
        assert unknown.returncode == 1
        assert unknown.stderr.startswith("error: ") and len(unknown.stderr.strip().splitlines()) == 1, unknown.stderr
        assert unknown.stderr.startswith("error: no daemon d-nowhere is known; online: "), unknown.stderr
        status, projects = await rest(api_env, "GET", "/api/projects")
        assert str((roots["alice"] / "app").resolve()) not in [p["path"] for p in projects], "nothing registered"


async def test_chat_in_a_registered_project_refuses_a_daemon_that_is_not_its_own(
    api_env: ApiEnv, tmp_path: Path
) -> None:
    """Without --project the current directory's project is used: a --daemon that is not that
    project's daemon (here one that does not exist) is refused with both named, not ignored."""
    script = api_env.settings.data_dir / "script.yaml"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(yaml.safe_dump({"turns": [{"text": "Done here."}]}))
    env = clean_env(XDG_CONFIG_HOME=str(tmp_path / "config"), RELIANT_DATA_DIR=str(tmp_path / "home"))
    status, project = await rest(
        api_env, "POST", "/api/projects", {"path": str(api_env.workspace), "daemon_id": api_env.settings.daemon_id}
    )
    assert status == 201, project
    inside = api_env.workspace / "src"
    inside.mkdir()

    async def chat(daemon: str) -> subprocess.CompletedProcess[str]:
        args = ["chat", "--daemon", daemon, "--model", f"scripted:{script}", "go"]
        return await asyncio.to_thread(
            subprocess.run,
            [*reliant_cmd(*args), "--api-url", api_env.url, "--token", api_env.token],
            cwd=inside,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )

    async with AsyncExitStack() as stack:
        await stack.enter_async_context(RoleRunner(WorkerRole(api_env.settings)))
        refused = await chat("nope")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        said = f"error: {inside.resolve()} is in project {api_env.workspace.resolve()} on daemon"
        assert refused.stderr.startswith(said), refused.stderr
        assert f"{api_env.settings.daemon_id}, not on daemon nope" in refused.stderr, refused.stderr
        status, chats = await rest(api_env, "GET", "/api/chats")
        assert status == 200 and not [c for c in chats if c["project_id"] == project["id"]], "nothing was sent"

        own = await chat(api_env.settings.daemon_id)
        assert own.returncode == 0, own.stdout + own.stderr
        assert "Done here." in own.stdout
