"""Path confinement: no tool reaches outside its workspace, however the path is spelled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reliant.daemon.tools import ToolFailure
from reliant.daemon.tools.paths import OutsideWorkspaceError, confine
from reliant.domain.tools import ToolStatus
from tests.daemon.conftest import Run


def test_confine_resolves_inside_paths(workspace: Path) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "a.py").write_text("")
    assert confine(workspace, "src/a.py") == workspace / "src" / "a.py"
    assert confine(workspace, "src/../src/a.py") == workspace / "src" / "a.py"
    assert confine(workspace, str(workspace / "src" / "a.py")) == workspace / "src" / "a.py"
    assert confine(workspace, ".") == workspace
    assert confine(workspace, "new/dir/file.txt") == workspace / "new" / "dir" / "file.txt"


def test_confine_refuses_escapes_with_a_clear_message(workspace: Path, outside: Path) -> None:
    with pytest.raises(OutsideWorkspaceError) as info:
        confine(workspace, "/etc/passwd")
    assert str(info.value) == f"refused: /etc/passwd is outside the workspace {workspace}"
    with pytest.raises(OutsideWorkspaceError, match=r"resolves to .*outside/secret.txt, outside the workspace"):
        confine(workspace, "../outside/secret.txt")
    with pytest.raises(OutsideWorkspaceError):
        confine(workspace, "missing/../../outside/new.txt")
    with pytest.raises(ToolFailure, match="NUL"):
        confine(workspace, "a\0b")


async def test_dotdot_and_absolute_paths_are_refused_by_every_file_tool(
    run: Run, workspace: Path, outside: Path
) -> None:
    secret = outside / "secret.txt"
    for path in ("../outside/secret.txt", str(secret), "/etc/passwd"):
        for tool, args in (
            ("view", {}),
            ("write", {"content": "pwned"}),
            ("edit", {"old_string": "top", "new_string": "pwned"}),
            ("grep", {"pattern": "secret"}),
        ):
            result = await run(tool, path=path, **args)
            assert result.status is ToolStatus.ERROR, (tool, path, result)
            assert result.error.startswith("refused:") and "outside the workspace" in result.error
            assert "top secret" not in result.output
        listed = await run("glob", pattern="*", path=str(outside))
        assert listed.status is ToolStatus.ERROR and "outside the workspace" in listed.error
    assert secret.read_text() == "top secret\n"


async def test_a_symlink_to_a_file_outside_is_refused(run: Run, workspace: Path, outside: Path) -> None:
    (workspace / "passwd").symlink_to("/etc/passwd")
    (workspace / "secret").symlink_to(outside / "secret.txt")
    viewed = await run("view", path="passwd")
    assert viewed.status is ToolStatus.ERROR
    assert viewed.error == f"refused: passwd resolves to /etc/passwd, outside the workspace {workspace}"
    assert "root:" not in viewed.output
    written = await run("write", path="secret", content="pwned")
    assert written.status is ToolStatus.ERROR and "outside the workspace" in written.error
    edited = await run("edit", path="secret", old_string="top", new_string="pwned")
    assert edited.status is ToolStatus.ERROR and "outside the workspace" in edited.error
    assert (outside / "secret.txt").read_text() == "top secret\n"


async def test_a_dangling_symlink_pointing_outside_cannot_be_written_through(
    run: Run, workspace: Path, outside: Path
) -> None:
    (workspace / "dangling").symlink_to(outside / "created-by-model.txt")
    result = await run("write", path="dangling", content="x")
    assert result.status is ToolStatus.ERROR and "outside the workspace" in result.error
    assert not (outside / "created-by-model.txt").exists()


async def test_a_symlinked_directory_pointing_outside_is_refused(run: Run, workspace: Path, outside: Path) -> None:
    (workspace / "etc").symlink_to("/etc")
    (workspace / "out").symlink_to(outside)
    viewed = await run("view", path="etc/passwd")
    assert viewed.status is ToolStatus.ERROR and "resolves to /etc/passwd" in viewed.error
    listed = await run("glob", pattern="*", path="etc")
    assert listed.status is ToolStatus.ERROR and "outside the workspace" in listed.error
    searched = await run("grep", pattern="root", path="etc")
    assert searched.status is ToolStatus.ERROR and "outside the workspace" in searched.error
    written = await run("write", path="out/new/file.txt", content="x")
    assert written.status is ToolStatus.ERROR and "outside the workspace" in written.error
    assert not (outside / "new").exists()
    # Walking the workspace never follows the directory link out.
    everything = await run("grep", pattern="secret|root")
    assert everything.status is ToolStatus.OK and "top secret" not in everything.output
    assert "root:" not in everything.output


async def test_a_symlink_loop_is_refused(run: Run, workspace: Path) -> None:
    (workspace / "a").symlink_to(workspace / "b")
    (workspace / "b").symlink_to(workspace / "a")
    viewed = await run("view", path="a")
    assert viewed.status is ToolStatus.ERROR and "symlink loop" in viewed.error
    written = await run("write", path="a/x.txt", content="x")
    assert written.status is ToolStatus.ERROR and "symlink loop" in written.error
    listed = await run("glob", pattern="**/*")
    assert listed.status is ToolStatus.OK


async def test_paths_through_a_symlinked_parent_inside_the_workspace_work(run: Run, workspace: Path) -> None:
    (workspace / "real").mkdir()
    (workspace / "real" / "f.txt").write_text("hello\n")
    (workspace / "alias").symlink_to("real")
    viewed = await run("view", path="alias/f.txt")
    assert viewed.status is ToolStatus.OK and viewed.output == "     1\thello"
    assert viewed.data["path"] == "real/f.txt"
    written = await run("write", path="alias/f.txt", content="bye\n")
    assert written.status is ToolStatus.OK
    assert (workspace / "real" / "f.txt").read_text() == "bye\n"
    assert os.path.islink(workspace / "alias")


async def test_a_grep_never_reads_through_a_file_symlink_pointing_outside(
    run: Run, workspace: Path, outside: Path
) -> None:
    (workspace / "notes.txt").write_text("no secrets here\n")
    (workspace / "leak.txt").symlink_to(outside / "secret.txt")
    result = await run("grep", pattern="secret")
    assert result.status is ToolStatus.OK
    assert result.output == "notes.txt:1:no secrets here"
