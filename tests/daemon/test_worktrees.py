"""Git worktrees with real git: create on a new branch, tools run there, status and diff, remove;
paths outside the repository's .reliant/worktrees refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from reliant.daemon.context import ProjectContext
from reliant.daemon.role import DaemonRouter
from reliant.daemon.tools import ToolHost
from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.worktrees import Worktrees
from reliant.domain.tools import ToolCall, ToolStatus


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(workspace: Path) -> Path:
    sh(workspace, "git", "init", "-q", "-b", "main")
    sh(workspace, "git", "config", "user.email", "t@example.test")
    sh(workspace, "git", "config", "user.name", "Test")
    (workspace / "app.py").write_text("print('v1')\n")
    sh(workspace, "git", "add", "app.py")
    sh(workspace, "git", "commit", "-q", "-m", "first")
    return workspace


async def test_a_worktree_per_chat_runs_tools_shows_status_and_diff_and_is_removed(repo: Path, host: ToolHost) -> None:
    trees = Worktrees()
    info = await trees.create(repo, "chat-1")
    path = Path(info["path"])
    assert path == repo / ".reliant" / "worktrees" / "chat-1" and info["branch"] == "reliant/chat-1"
    assert (path / "app.py").read_text() == "print('v1')\n"
    assert "/.reliant/worktrees/" in (repo / ".git" / "info" / "exclude").read_text()
    assert sh(repo, "git", "status", "--porcelain") == ""  # the main checkout does not see it

    # A chat's tools run in the worktree: the daemon accepts it as a workspace inside the repo's.
    edit = await host.execute(
        ToolCall(
            "w1", "shell", {"command": "pwd; echo \"print('v2')\" > app.py; echo new > added.txt"}, workspace=str(path)
        )
    )
    assert edit.status is ToolStatus.OK and edit.output.splitlines()[0] == str(path)
    assert (repo / "app.py").read_text() == "print('v1')\n"
    escape = await host.execute(ToolCall("w2", "view", {"path": "../../../app.py"}, workspace=str(path)))
    assert escape.status is ToolStatus.ERROR and "outside the workspace" in escape.error

    status = await trees.status(repo, str(path))
    assert status["branch"] == "reliant/chat-1"
    assert {(f["path"], f["worktree"]) for f in status["files"]} == {("app.py", "M"), ("added.txt", "?")}
    diff = await trees.diff(repo, str(path))
    assert "-print('v1')" in diff["diff"] and "+print('v2')" in diff["diff"] and "+new" in diff["diff"]
    assert diff["files"] == ["added.txt", "app.py"]
    listed = await trees.list(repo)
    assert [(w["name"], w["branch"]) for w in listed] == [("chat-1", "reliant/chat-1")]

    with pytest.raises(ToolFailure, match="already exists"):
        await trees.create(repo, "chat-1")
    with pytest.raises(ToolFailure, match="uncommitted changes to 2 files"):
        await trees.remove(repo, str(path))  # changes present: refused without force
    removed = await trees.remove(repo, str(path), force=True, delete_branch=True)
    assert removed["branch_deleted"] and not path.exists()
    assert "reliant/chat-1" not in sh(repo, "git", "branch")


async def test_a_worktree_with_uncommitted_changes_is_removed_only_with_force(repo: Path, host: ToolHost) -> None:
    """Modified, staged and untracked files each keep a worktree from a removal without force, which
    names them and changes nothing; ignored files do not (as with `git worktree remove`); with force,
    or once clean, it is removed."""
    router = DaemonRouter(host)
    trees = Worktrees()
    router.register(trees.controls(host.workspace_for))
    (repo / ".gitignore").write_text("*.log\n")
    sh(repo, "git", "add", ".gitignore")
    sh(repo, "git", "commit", "-q", "-m", "ignore logs")

    async def remove(path: Path, **flags: bool) -> dict[str, object]:
        body = {"workspace": str(repo), "path": str(path), "delete_branch": True, **flags}
        reply: dict[str, object] = json.loads(await router.handle("ctl.worktree.remove", json.dumps(body).encode()))
        return reply

    edits = {
        "modified": lambda p: (p / "app.py").write_text("print('mine')\n"),
        "staged": lambda p: ((p / "staged.py").write_text("x\n"), sh(p, "git", "add", "staged.py")),
        "untracked": lambda p: (p / "notes.txt").write_text("mine\n"),
    }
    for name, edit in edits.items():
        path = Path((await trees.create(repo, name))["path"])
        edit(path)
        refused = await remove(path)
        assert refused["ok"] is False and refused["conflict"] is True, refused
        assert len(refused["uncommitted"]) == 1 and "uncommitted changes to 1 file (" in str(refused["error"])
        assert "with force" in str(refused["error"]) and path.is_dir(), name
        assert f"reliant/{name}" in sh(repo, "git", "branch", "--list", f"reliant/{name}")
        forced = await remove(path, force=True)
        assert forced["ok"] is True and not path.exists(), forced
        assert sh(repo, "git", "branch", "--list", f"reliant/{name}") == ""

    clean = Path((await trees.create(repo, "clean"))["path"])
    (clean / "debug.log").write_text("ignored\n")
    removed = await remove(clean)
    assert removed["ok"] is True and not clean.exists(), removed

    many = Path((await trees.create(repo, "many"))["path"])
    for i in range(12):
        (many / f"f{i:02}.txt").write_text("x\n")
    refused = await remove(many)
    assert "uncommitted changes to 12 files (f00.txt, " in str(refused["error"]) and "and 2 more" in str(
        refused["error"]
    )
    assert len(refused["uncommitted"]) == 12


async def test_worktree_paths_outside_the_repository_are_refused(repo: Path, outside: Path) -> None:
    trees = Worktrees()
    for name in ("../escape", "a/b", "..", ".hidden", ""):
        with pytest.raises(ToolFailure, match="worktree name"):
            await trees.create(repo, name)
    for path in (str(outside), "../outside", str(repo), str(repo / ".reliant" / "worktrees"), "/etc"):
        with pytest.raises(ToolFailure, match="refused"):
            await trees.status(repo, path)
    (repo / ".reliant" / "worktrees").mkdir(parents=True)
    (repo / ".reliant" / "worktrees" / "sneaky").symlink_to(outside)
    with pytest.raises(ToolFailure, match="outside the workspace"):
        await trees.remove(repo, str(repo / ".reliant" / "worktrees" / "sneaky"), force=True)
    with pytest.raises(ToolFailure, match=r"not a git repository|failed"):
        await trees.create(outside, "x")


async def test_a_reliant_directory_that_links_out_of_the_repository_gets_no_worktree(repo: Path, outside: Path) -> None:
    """`.reliant` committed as a link to a directory elsewhere: making a worktree is refused before
    anything is created there."""
    (repo / ".reliant").symlink_to(outside)
    with pytest.raises(ToolFailure, match="outside the workspace"):
        await Worktrees().create(repo, "chat-1")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


HOOKS = ("post-checkout", "reference-transaction", "post-index-change", "post-commit", "pre-merge-commit", "post-merge")


def program(path: Path, marker: Path) -> str:
    """An executable at `path` that leaves `marker` when run."""
    path.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    path.chmod(0o755)
    return str(path)


async def test_the_repositorys_hooks_and_fsmonitor_never_run_from_reliants_own_git(
    repo: Path, tmp_path: Path, host: ToolHost
) -> None:
    """A repository's .git may name programs for git to run: none runs when reliant makes a
    worktree, shows its status and diff, merges it, or reads the status for a prompt."""
    markers = tmp_path / "markers"
    markers.mkdir()
    for hook in HOOKS:
        program(repo / ".git" / "hooks" / hook, markers / hook)
    sh(repo, "git", "config", "core.fsmonitor", program(tmp_path / "fsmonitor", markers / "fsmonitor"))
    sh(repo, "git", "config", "diff.external", program(tmp_path / "external-diff", markers / "diff.external"))
    # The traps work: git itself runs them.
    sh(repo, "git", "checkout", "-q", "-b", "probe")
    sh(repo, "git", "diff", "HEAD~0")
    (repo / "app.py").write_text("print('probe')\n")
    sh(repo, "git", "diff")
    sh(repo, "git", "checkout", "-q", "app.py")
    sh(repo, "git", "checkout", "-q", "main")
    assert {p.name for p in markers.iterdir()} >= {"post-checkout", "reference-transaction", "fsmonitor"}
    assert (markers / "diff.external").exists()
    for marker in markers.iterdir():
        marker.unlink()

    trees = Worktrees()
    path = Path((await trees.create(repo, "chat-1"))["path"])
    edit = "echo \"print('v2')\" > app.py; echo new > added.txt"
    assert (await host.execute(ToolCall("w1", "shell", {"command": edit}, workspace=str(path)))).status is ToolStatus.OK
    await trees.status(repo, str(path))
    diff = await trees.diff(repo, str(path))
    assert "+print('v2')" in diff["diff"] and "+new" in diff["diff"]
    merged = await trees.merge(repo, str(path))
    assert merged["merged"], merged
    router = DaemonRouter(host)
    router.register(ProjectContext(home=tmp_path).controls(host.workspace_for))
    reply = await router.handle("ctl.context.environment", json.dumps({"workspace": str(repo)}).encode())
    assert json.loads(reply)["environment"]["git"]["branch"] == "main"
    await trees.remove(repo, str(path), delete_branch=True)

    assert sorted(p.name for p in markers.iterdir()) == []


async def test_a_merge_never_overwrites_a_file_the_workspace_keeps_out_of_git(repo: Path) -> None:
    """git merge overwrites an ignored file without a word, and an ignored file is in no commit to
    get back: a branch that adds one the workspace has (here its .gitignore entry dropped by the
    agent) is not merged, the file named, and nothing changes."""
    (repo / ".gitignore").write_text("local.json\n")
    sh(repo, "git", "add", ".gitignore")
    sh(repo, "git", "commit", "-q", "-m", "ignore local.json")
    (repo / "local.json").write_text('{"token": "mine"}\n')
    head = sh(repo, "git", "rev-parse", "HEAD")
    trees = Worktrees()
    path = Path((await trees.create(repo, "agent"))["path"])
    (path / ".gitignore").write_text("")
    (path / "local.json").write_text('{"token": "defaults"}\n')
    (path / "notes 1.txt").write_text("a name with a space\n")

    merged = await trees.merge(repo, str(path), "agent work")

    assert not merged["merged"] and merged["conflicts"] == ["local.json"], merged
    assert (repo / "local.json").read_text() == '{"token": "mine"}\n'
    assert sh(repo, "git", "rev-parse", "HEAD") == head and not (repo / "notes 1.txt").exists()
    (repo / "local.json").unlink()  # once it is out of the way, the merge goes through
    merged = await trees.merge(repo, str(path), "agent work")
    assert merged["merged"] and sorted(merged["files"]) == [".gitignore", "local.json", "notes 1.txt"], merged


async def test_a_merge_leaves_alone_a_merge_the_user_is_in_the_middle_of(repo: Path) -> None:
    """An agent's branch merged while the user resolves a conflict of their own: refused, saying why,
    and their merge and its resolution left as they were (it used to be aborted, the resolution lost)."""
    trees = Worktrees()
    path = Path((await trees.create(repo, "agent"))["path"])
    (path / "agent.txt").write_text("agent\n")
    sh(repo, "git", "checkout", "-q", "-b", "feature")
    (repo / "app.py").write_text("print('feature')\n")
    sh(repo, "git", "commit", "-qam", "feature")
    sh(repo, "git", "checkout", "-q", "main")
    (repo / "app.py").write_text("print('main')\n")
    sh(repo, "git", "commit", "-qam", "main")
    conflicted = subprocess.run(["git", "merge", "-q", "feature"], cwd=repo, capture_output=True, text=True)
    assert conflicted.returncode != 0 and (repo / ".git" / "MERGE_HEAD").exists()
    (repo / "app.py").write_text("print('my resolution')\n")
    head = sh(repo, "git", "rev-parse", "HEAD")

    with pytest.raises(ToolFailure, match="in the middle of a merge"):
        await trees.merge(repo, str(path), "agent work")

    assert (repo / ".git" / "MERGE_HEAD").exists(), "the user's merge goes on"
    assert (repo / "app.py").read_text() == "print('my resolution')\n"
    assert sh(repo, "git", "rev-parse", "HEAD") == head and not (repo / "agent.txt").exists()
    assert sh(path, "git", "status", "--porcelain") == "?? agent.txt\n", "the agent's work is as it was"


async def test_a_worktree_starts_from_another_worktrees_commit_and_merges_back_into_it_alone(repo: Path) -> None:
    """An agent spawned where a chat works in a worktree of its own: its worktree starts from the
    commit checked out there (not the repository's HEAD, nor the uncommitted changes there) and is
    merged into that worktree's branch; the repository's own checkout is left as it was."""
    trees = Worktrees()
    chat = Path((await trees.create(repo, "chat-1"))["path"])
    (chat / "chat.txt").write_text("chat\n")
    sh(chat, "git", "add", "chat.txt")
    sh(chat, "git", "commit", "-q", "-m", "chat")
    (chat / "draft.txt").write_text("not committed\n")
    chat_head = sh(chat, "git", "rev-parse", "HEAD").strip()
    head = sh(repo, "git", "rev-parse", "HEAD")

    made = await trees.create(repo, "agent-1", source=str(chat))

    agent = Path(made["path"])
    assert made["base"] == chat_head and (agent / "chat.txt").read_text() == "chat\n"
    assert not (agent / "draft.txt").exists(), "uncommitted changes are not part of the base"
    (agent / "b.txt").write_text("b\n")
    merged = await trees.merge(repo, str(agent), "agent work", made["base"], into=str(chat))
    assert merged["merged"] and merged["files"] == ["b.txt"], merged
    assert (chat / "b.txt").read_text() == "b\n" and sh(chat, "git", "rev-parse", "HEAD").strip() == merged["commit"]
    assert sh(repo, "git", "rev-parse", "HEAD") == head and not (repo / "b.txt").exists()
    assert sh(repo, "git", "status", "--porcelain") == ""

    # The chat's worktree keeps its own uncommitted changes: a branch changing the same file is refused.
    other = Path((await trees.create(repo, "agent-2", source=str(chat)))["path"])
    (other / "draft.txt").write_text("the agent's\n")
    refused = await trees.merge(repo, str(other), "agent work", into=str(chat))
    assert not refused["merged"] and refused["conflicts"] == ["draft.txt"], refused
    assert (chat / "draft.txt").read_text() == "not committed\n"
    with pytest.raises(ToolFailure, match="not a worktree"):
        await trees.merge(repo, str(other), into=str(repo))


def passthrough(path: Path, marker: Path) -> str:
    """A filter or textconv program at `path` that leaves `marker` and passes its input through."""
    path.write_text(f'#!/bin/sh\ntouch \'{marker}\'\nif [ -n "$1" ]; then cat "$1"; else cat; fi\n')
    path.chmod(0o755)
    return str(path)


async def test_the_filter_and_textconv_programs_of_a_repositorys_config_never_run_from_reliants_own_git(
    repo: Path, tmp_path: Path, host: ToolHost
) -> None:
    """A repository's .git/config may name filter drivers (run on every file git hashes or checks
    out: `git status` after a fresh unpack, `worktree add`, `add`) and textconv programs (run by
    `git diff`), under names its committed .gitattributes picks: none runs from reliant's git."""
    markers = tmp_path / "markers"
    markers.mkdir()
    sh(repo, "git", "config", "filter.trap.clean", passthrough(tmp_path / "clean", markers / "clean"))
    sh(repo, "git", "config", "filter.trap.smudge", passthrough(tmp_path / "smudge", markers / "smudge"))
    sh(repo, "git", "config", "diff.trap.textconv", passthrough(tmp_path / "textconv", markers / "textconv"))
    (repo / ".gitattributes").write_text("* filter=trap diff=trap\n")
    sh(repo, "git", "add", ".gitattributes")
    sh(repo, "git", "commit", "-q", "-m", "attributes")
    # The traps work: git itself runs them.
    (repo / "app.py").touch()  # an unpacked archive: every file's stat differs from the index
    sh(repo, "git", "status", "--short")
    (repo / "app.py").unlink()
    sh(repo, "git", "checkout", "-q", "app.py")
    (repo / "app.py").write_text("print('probe')\n")
    sh(repo, "git", "diff", "--no-ext-diff")
    sh(repo, "git", "checkout", "-q", "app.py")
    assert sorted(p.name for p in markers.iterdir()) == ["clean", "smudge", "textconv"]
    for marker in markers.iterdir():
        marker.unlink()

    (repo / "app.py").touch()
    router = DaemonRouter(host)
    router.register(ProjectContext(home=tmp_path).controls(host.workspace_for))
    reply = await router.handle("ctl.context.environment", json.dumps({"workspace": str(repo)}).encode())
    assert json.loads(reply)["environment"]["git"]["branch"] == "main"
    trees = Worktrees()
    path = Path((await trees.create(repo, "chat-1"))["path"])
    assert (path / "app.py").read_text() == "print('v1')\n"
    edit = "echo \"print('v2')\" > app.py; echo new > added.txt"
    assert (await host.execute(ToolCall("w1", "shell", {"command": edit}, workspace=str(path)))).status is ToolStatus.OK
    await trees.status(repo, str(path))
    diff = await trees.diff(repo, str(path))
    assert "+print('v2')" in diff["diff"] and "+new" in diff["diff"]
    merged = await trees.merge(repo, str(path))
    assert merged["merged"], merged
    await trees.remove(repo, str(path), delete_branch=True)

    assert sorted(p.name for p in markers.iterdir()) == []


async def test_a_repositorys_merge_driver_and_signing_program_never_run_and_the_users_own_filter_does(
    repo: Path, tmp_path: Path, host: ToolHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The programs a repository's config names are replaced by the user's own (a filter of their
    global config, as git lfs installs one) or by none: a merge or a signature that needs one fails."""
    markers = tmp_path / "markers"
    markers.mkdir()
    user_config = tmp_path / "gitconfig"
    user_config.write_text(f'[filter "trap"]\n\tclean = {passthrough(tmp_path / "users", markers / "users-clean")}\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user_config))
    sh(repo, "git", "config", "filter.trap.clean", passthrough(tmp_path / "clean", markers / "clean"))
    sh(repo, "git", "config", "merge.trap.driver", f"{program(tmp_path / 'driver', markers / 'driver')} %A")
    sh(repo, "git", "config", "gpg.program", program(tmp_path / "gpg", markers / "gpg"))
    sh(repo, "git", "config", "commit.gpgSign", "true")
    (repo / ".gitattributes").write_text("* filter=trap merge=trap\n")
    sh(repo, "git", "-c", "commit.gpgSign=false", "add", ".gitattributes")
    sh(repo, "git", "-c", "commit.gpgSign=false", "commit", "-q", "-m", "attributes")
    # The traps work: git itself runs them.
    assert subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=False).returncode
    sh(repo, "git", "checkout", "-q", "-b", "probe")
    (repo / "app.py").write_text("print('probe')\n")
    sh(repo, "git", "-c", "commit.gpgSign=false", "commit", "-q", "-am", "probe")
    sh(repo, "git", "checkout", "-q", "main")
    (repo / "app.py").write_text("print('main')\n")
    sh(repo, "git", "-c", "commit.gpgSign=false", "commit", "-q", "-am", "main")
    subprocess.run(["git", "-c", "commit.gpgSign=false", "merge", "-q", "probe"], cwd=repo, check=False)
    sh(repo, "git", "reset", "-q", "--hard", "HEAD")
    assert sorted(p.name for p in markers.iterdir()) == ["clean", "driver", "gpg"]
    for marker in markers.iterdir():
        marker.unlink()

    trees = Worktrees()
    path = Path((await trees.create(repo, "chat-1"))["path"])
    (path / "app.py").write_text("print('v2')\n")
    (repo / "app.py").write_text("print('main 2')\n")
    sh(repo, "git", "-c", "commit.gpgSign=false", "-c", "filter.trap.clean=cat", "commit", "-q", "-am", "main 2")
    with pytest.raises(ToolFailure, match="sign"):
        await trees.merge(repo, str(path))  # the commit of its work: no signing program
    sh(repo, "git", "config", "commit.gpgSign", "false")
    with pytest.raises(ToolFailure, match="cannot run"):
        await trees.merge(repo, str(path))  # both changed app.py: the repository's driver is not run
    assert sorted(p.name for p in markers.iterdir()) == ["users-clean"]


async def test_the_filter_programs_of_a_submodules_config_never_run_from_reliants_own_git(
    repo: Path, tmp_path: Path, host: ToolHost
) -> None:
    """`git status` and `git diff` look inside each submodule with a git of its own, which reads
    the submodule's config (.git/modules/<name>/config), and so does `git merge` (through the `git
    stash create` it runs first): its filter drivers do not run from the status in a prompt, nor a
    worktree's status, diff or merge, even when the repository's .gitmodules asks for the
    submodules' own changes to be shown."""
    markers = tmp_path / "markers"
    markers.mkdir()
    library = tmp_path / "library"
    library.mkdir()
    sh(library, "git", "init", "-q", "-b", "main")
    (library / ".gitattributes").write_text("* filter=subtrap\n")
    (library / "lib.py").write_text("x = 1\n")
    sh(library, "git", "add", ".")
    sh(library, "git", "-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "-q", "-m", "lib")
    sh(repo, "git", "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "lib")
    sh(repo, "git", "config", "-f", ".gitmodules", "submodule.lib.ignore", "none")
    sh(repo, "git", "add", ".gitmodules")
    sh(repo, "git", "commit", "-q", "-m", "submodule")
    module = repo / ".git" / "modules" / "lib"
    trap = passthrough(tmp_path / "clean", markers / "clean")
    sh(repo, "git", f"--git-dir={module}", "config", "filter.subtrap.clean", trap)
    # The trap works: git itself runs it.
    (repo / "lib" / "lib.py").touch()
    sh(repo, "git", "status", "--short")
    assert sorted(p.name for p in markers.iterdir()) == ["clean"]
    (markers / "clean").unlink()

    (repo / "lib" / "lib.py").touch()
    router = DaemonRouter(host)
    router.register(ProjectContext(home=tmp_path).controls(host.workspace_for))
    reply = await router.handle("ctl.context.environment", json.dumps({"workspace": str(repo)}).encode())
    assert json.loads(reply)["environment"]["git"]["branch"] == "main"
    trees = Worktrees()
    path = Path((await trees.create(repo, "chat-1"))["path"])
    (path / "app.py").write_text("print('v2')\n")
    await trees.status(repo, str(path))
    assert "+print('v2')" in (await trees.diff(repo, str(path)))["diff"]
    (repo / "lib" / "lib.py").touch()
    assert (await trees.merge(repo, str(path)))["merged"]

    assert sorted(p.name for p in markers.iterdir()) == []


async def test_a_worktree_of_a_repository_without_a_commit_is_refused_saying_so_and_nothing_is_made(
    workspace: Path,
) -> None:
    """`git init` and no commit yet (a model spawning an agent with worktree: true in a new project):
    the refusal says what is missing (it used to be git's "fatal: Needed a single revision"), and no
    .reliant/worktrees folder is left behind."""
    sh(workspace, "git", "init", "-q", "-b", "main")
    (workspace / "app.py").write_text("print('v1')\n")

    with pytest.raises(ToolFailure) as refused:
        await Worktrees().create(workspace, "agent-1")

    assert str(refused.value) == "the repository has no commit yet, and a worktree starts from a commit"
    assert not (workspace / ".reliant").exists()
    assert sh(workspace, "git", "worktree", "list", "--porcelain").count("worktree ") == 1
