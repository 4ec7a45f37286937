"""ctl.context.*: instruction files, the environment and `@path` attachments, read from real files,
real git repositories and real directories, through the daemon's router."""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reliant.daemon import context as context_module
from reliant.daemon.context import MAX_INSTRUCTION_CHARS, ProjectContext
from reliant.daemon.role import DaemonRouter
from reliant.daemon.tools import ToolHost
from reliant.domain.context import InstructionScope, environment_from_json, instruction_from_json

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def git(cwd: Path, *args: str) -> str:
    identity = ("-c", "user.name=t", "-c", "user.email=t@example.invalid")
    return subprocess.run(["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home directory the workspace fixture is not under (the walk up goes to /)."""
    path = tmp_path / "home"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def nested(home: Path) -> Path:
    """A project two levels under the home directory."""
    project = home / "src" / "ws"
    project.mkdir(parents=True)
    return project


def router_for(workspace: Path, home: Path) -> DaemonRouter:
    host = ToolHost("d-test", [], [workspace])
    router = DaemonRouter(host)
    router.register(ProjectContext(home=home).controls(host.workspace_for))
    return router


async def ctl(router: DaemonRouter, name: str, body: dict[str, Any]) -> Any:
    return json.loads(await router.handle(f"ctl.context.{name}", json.dumps(body).encode()))


async def test_instruction_files_of_the_root_and_the_parents_up_to_home(home: Path, nested: Path) -> None:
    (home / "AGENTS.md").write_text("home rules\n")
    (home.parent / "AGENTS.md").write_text("above home: not read\n")
    (home / "src" / "CLAUDE.md").write_text("src rules\n")
    (nested / "AGENTS.md").write_text("project rules\n")
    (nested / ".reliant").mkdir()
    (nested / ".reliant" / "instructions.md").write_text("reliant-only rules\n")
    (nested / "CLAUDE.md").symlink_to(nested / "AGENTS.md")  # the same file twice: taken once

    reply = await ctl(router_for(nested, home), "instructions", {"workspace": str(nested)})

    assert reply["ok"]
    files = [instruction_from_json(f) for f in reply["files"]]
    assert [(f.shown(), f.scope, f.content) for f in files] == [
        ("AGENTS.md", InstructionScope.PROJECT, "project rules\n"),
        (".reliant/instructions.md", InstructionScope.PROJECT, "reliant-only rules\n"),
        (str(home / "src" / "CLAUDE.md"), InstructionScope.PARENT, "src rules\n"),
        (str(home / "AGENTS.md"), InstructionScope.PARENT, "home rules\n"),
    ]


async def test_subdirectory_files_come_with_the_paths_the_agent_touched(workspace: Path, home: Path) -> None:
    (workspace / "AGENTS.md").write_text("root\n")
    api = workspace / "src" / "api"
    api.mkdir(parents=True)
    (workspace / "src" / "AGENTS.md").write_text("src\n")
    (api / "AGENTS.md").write_text("api\n")
    (workspace / "docs").mkdir()
    router = router_for(workspace, home)

    reply = await ctl(
        router,
        "instructions",
        {"workspace": str(workspace), "paths": ["src/api/handlers.py", "docs", "../elsewhere", "src/api/new/x.py"]},
    )

    assert [(f["shown"], f["scope"]) for f in reply["files"]] == [
        ("src/AGENTS.md", "directory"),
        ("src/api/AGENTS.md", "directory"),
    ]
    assert reply["checked"] == ["src", "src/api", "docs"], "outside paths are skipped, missing ones walk up"


async def test_a_link_out_of_the_workspace_is_not_read(workspace: Path, home: Path, outside: Path) -> None:
    (workspace / "AGENTS.md").symlink_to(outside / "secret.txt")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "CLAUDE.md").symlink_to(outside / "secret.txt")
    router = router_for(workspace, home)

    root = await ctl(router, "instructions", {"workspace": str(workspace)})
    sub = await ctl(router, "instructions", {"workspace": str(workspace), "paths": ["sub/x.py"]})

    assert "top secret" not in json.dumps(root) + json.dumps(sub)
    assert [f for f in root["files"] if f["scope"] == "project"] == [] and sub["files"] == []


async def test_a_link_out_of_a_repository_that_holds_the_project_is_not_read(
    workspace: Path, home: Path, outside: Path
) -> None:
    """A project in a subdirectory of a repository (a monorepo): the repository's own instruction
    files above the project are read, but a link among them to a file elsewhere is not."""
    (workspace / "AGENTS.md").symlink_to(outside / "secret.txt")
    (workspace / "CLAUDE.md").write_text("monorepo rules\n")
    service = workspace / "service"
    service.mkdir()
    router = router_for(workspace, home)

    reply = await ctl(router, "instructions", {"workspace": str(service)})

    assert "top secret" not in json.dumps(reply)
    assert [(f["shown"], f["content"]) for f in reply["files"]][:1] == [
        (str(workspace / "CLAUDE.md"), "monorepo rules\n")
    ]


async def test_instruction_files_are_bounded(workspace: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context_module, "MAX_INSTRUCTIONS_CHARS", MAX_INSTRUCTION_CHARS + 100)
    (workspace / "AGENTS.md").write_text("a" * (MAX_INSTRUCTION_CHARS + 500))
    (workspace / "CLAUDE.md").write_text("b" * 1000)
    (workspace / "binary").mkdir()
    (workspace / "binary" / "AGENTS.md").write_bytes(b"\0\1\2")

    files = [
        instruction_from_json(f)
        for f in (await ctl(router_for(workspace, home), "instructions", {"workspace": str(workspace)}))["files"]
    ]

    assert [(len(f.content), f.truncated) for f in files] == [(MAX_INSTRUCTION_CHARS, True), (100, True)]
    sub = await ctl(router_for(workspace, home), "instructions", {"workspace": str(workspace), "paths": ["binary"]})
    assert sub["files"] == []


async def test_a_worktree_walks_up_from_above_its_repository(workspace: Path, home: Path) -> None:
    (workspace / "AGENTS.md").write_text("main checkout\n")
    tree = workspace / ".reliant" / "worktrees" / "chat-1"
    tree.mkdir(parents=True)
    (tree / "AGENTS.md").write_text("the worktree's own copy, edited\n")
    (workspace.parent / "AGENTS.md").write_text("above the repository\n")

    reply = await ctl(router_for(workspace, home), "instructions", {"workspace": str(tree)})

    assert [f["content"] for f in reply["files"]] == ["the worktree's own copy, edited\n", "above the repository\n"]


async def test_the_environment_of_a_git_repository(workspace: Path, home: Path) -> None:
    (workspace / ".gitignore").write_text("build/\n")
    (workspace / "src").mkdir()
    (workspace / "src" / "app.py").write_text("print(1)\n")
    (workspace / "build").mkdir()
    (workspace / "build" / "out.bin").write_text("x")
    (workspace / "README.md").write_text("# ws\n")
    git(workspace, "init", "-q", "--initial-branch=feature")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "first")
    (workspace / "README.md").write_text("# ws, changed\n")
    (workspace / "notes.txt").write_text("new\n")

    reply = await ctl(router_for(workspace, home), "environment", {"workspace": str(workspace)})

    env = environment_from_json(reply["environment"])
    assert env.workspace == str(workspace)
    assert env.os.startswith(os.uname().sysname)
    assert env.shell.startswith("bash")
    assert env.date[:10] == datetime.date.today().isoformat()
    assert env.git is not None and env.git.branch == "feature" and len(env.git.head) >= 7
    assert sorted(env.git.status) == [" M README.md", "?? notes.txt"] and env.git.changed == 2
    assert env.tree == ("src/", "  app.py", ".gitignore", "README.md", "notes.txt"), "build/ and .git/ left out"


async def test_the_environment_outside_git_and_before_the_first_commit(workspace: Path, home: Path) -> None:
    router = router_for(workspace, home)
    plain = environment_from_json((await ctl(router, "environment", {"workspace": str(workspace)}))["environment"])
    assert plain.git is None

    git(workspace, "init", "-q", "--initial-branch=trunk")
    fresh = environment_from_json((await ctl(router, "environment", {"workspace": str(workspace)}))["environment"])
    assert fresh.git is not None and (fresh.git.branch, fresh.git.head, fresh.git.changed) == ("trunk", "", 0)


async def test_the_tree_is_bounded(workspace: Path, home: Path) -> None:
    for i in range(30):
        (workspace / f"dir{i:02}").mkdir()
        for j in range(30):
            (workspace / f"dir{i:02}" / f"f{j:02}.txt").write_text("")

    env = environment_from_json(
        (await ctl(router_for(workspace, home), "environment", {"workspace": str(workspace)}))["environment"]
    )

    assert len(env.tree) <= context_module.MAX_TREE_LINES and env.tree_truncated
    assert env.tree[0] == "dir00/" and env.tree[1] == "  f00.txt"
    assert "  … 10 more" in env.tree, "a directory shows its first entries and how many more"


async def test_attachments_text_image_directory_and_what_cannot_be_attached(
    workspace: Path, home: Path, outside: Path
) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "x.py").write_text("def x():\n    return 1\n")
    (workspace / "shot.png").write_bytes(PNG)
    (workspace / "icon.bmp").write_bytes(b"BM" + b"\0" * 64)
    (workspace / "data.bin").write_bytes(b"\0\1\2\3" * 100)
    (workspace / "long.txt").write_text("y" * (context_module.MAX_ATTACH_CHARS + 10))
    (workspace / "link.txt").symlink_to(outside / "secret.txt")

    reply = await ctl(
        router_for(workspace, home),
        "attach",
        {
            "workspace": str(workspace),
            "paths": [
                "src/x.py",
                "shot.png",
                "src",
                "nope.py",
                "data.bin",
                "icon.bmp",
                "long.txt",
                "link.txt",
                "../outside/secret.txt",
            ],
        },
    )

    by_path = {a["path"]: a for a in reply["attachments"]}
    assert by_path["src/x.py"]["kind"] == "text" and by_path["src/x.py"]["content"] == "def x():\n    return 1\n"
    assert by_path["shot.png"]["kind"] == "image" and by_path["shot.png"]["media_type"] == "image/png"
    assert base64.b64decode(by_path["shot.png"]["content"]) == PNG
    assert by_path["src"]["kind"] == "directory" and by_path["src"]["content"] == "x.py"
    assert (
        by_path["nope.py"] == {**by_path["nope.py"], "kind": "error"}
        and "no such file" in by_path["nope.py"]["content"]
    )
    assert by_path["data.bin"]["kind"] == "error" and "binary" in by_path["data.bin"]["content"]
    assert by_path["icon.bmp"]["kind"] == "error" and "PNG, JPEG, GIF or WebP" in by_path["icon.bmp"]["content"]
    assert by_path["long.txt"]["truncated"] and len(by_path["long.txt"]["content"]) == context_module.MAX_ATTACH_CHARS
    for escaped in ("link.txt", "../outside/secret.txt"):
        assert by_path[escaped]["kind"] == "error" and "outside the workspace" in by_path[escaped]["content"]
    assert "top secret" not in json.dumps(reply)


async def test_requests_name_a_registered_workspace(workspace: Path, home: Path, tmp_path: Path) -> None:
    router = router_for(workspace, home)
    refused = await ctl(router, "environment", {"workspace": str(tmp_path)})
    assert refused["ok"] is False and "not registered" in refused["error"]
    malformed = await ctl(router, "attach", {"workspace": str(workspace), "paths": "x.py"})
    assert malformed["ok"] is False and "paths must be a list" in malformed["error"]
