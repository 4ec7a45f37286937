"""Git worktrees for chats: `git worktree add` on a new branch under `<repo>/.reliant/worktrees/<name>`.

A worktree lies inside its repository's workspace, so a tool call whose workspace is the worktree
path is accepted (ToolHost.workspace_for) and confined to the worktree. Every path given here must
resolve, symlinks included, to a directory under the repository's `.reliant/worktrees/`; anything
else is refused. The repository's `.git/info/exclude` gets `/.reliant/worktrees/` so the main
checkout does not see them as untracked files.

Control subjects (`ctl.worktree.*`, JSON; `workspace` is the repository, a registered workspace):

- `worktree.create {workspace, name, branch?, base?, source?}` -> `{"ok", "worktree": info}`: starts
  from `base`, else from the commit checked out in `source` (a worktree of the repository: an
  agent's starts where its spawner works), else from the repository's HEAD
- `worktree.list {workspace}` -> `{"ok", "worktrees": [info]}`
- `worktree.orphans {workspace, known}` -> `{"ok", "orphaned": [{name, path, branch, uncommitted}]}`:
  the worktrees no `known` path names (reliant lost their record, e.g. with their chat), each with
  how many files have uncommitted changes; removed with `worktree.remove` like any other
- `worktree.status {workspace, path}` -> `{"ok", "branch", "head", "ahead", "behind", "files":
  [{path, index, worktree}]}` (porcelain v1 status letters)
- `worktree.diff {workspace, path, base?}` -> `{"ok", "diff", "truncated", "files"}`: the worktree
  against `base` (default HEAD), untracked files included as added
- `worktree.remove {workspace, path, force?, delete_branch?, branch?}` -> `{"ok"}`; a worktree gone
  already (removed outside reliant) is pruned, and `branch` (its branch) deleted with `delete_branch`.
  One with uncommitted changes (modified, staged or untracked files; ignored ones do not count) is
  removed only with `force`, else refused, changing nothing: `{"ok": false, "conflict": true,
  "uncommitted": [path], "error"}` (the error names how many files, and the first of them)
- `worktree.repo {workspace}` -> `{"ok", "git", "commits", "branch", "root", "problem"}`: whether the
  workspace is a git repository of its own (worktrees need one, with a commit to start from), said
  in words in `problem` when it is not
- `worktree.init {workspace, commit?}` -> `{"ok", "branch", "committed", "identity"}`: `git init` in
  the workspace (refused when it already is a repository); with `commit`, its files (as .gitignore
  allows) become the first commit, authored by the user's git identity, else by "reliant"
  (`identity` says which)
- `worktree.merge {workspace, path, message?, base?, into?}` -> `{"ok", "merged", "commit", "files"}`
  or, changing nothing, `{"ok", "merged": false, "conflicts": [path], "reason"}`: the worktree's
  uncommitted work is committed on its branch, which is merged into the branch checked out in the
  repository, or in `into` (another worktree of it: an agent's spawner's) — never over a conflict,
  nor over that checkout's own uncommitted changes to the same files; a branch still at `base` (the
  commit it started from) has nothing to merge (`"empty": true`)

`info`: name, path, branch, head, base (the commit it started from, for create), locked, prunable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from reliant.daemon.environment import child_environment
from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.tools.paths import confine
from reliant.domain.git import (
    PROGRAM_KEYS,
    SUBMODULE_FILES_UNREAD,
    SUBMODULE_PATHS,
    config_environment,
    git_command,
    repository_programs,
    submodule_files_unread,
)

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any]]

WORKTREES_DIR = ".reliant/worktrees"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
GIT_TIMEOUT = 60.0
MAX_DIFF_BYTES = 512 * 1024
MAX_UNTRACKED = 200
MAX_NAMED = 10  # files a refused removal names


class GitError(ToolFailure):
    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        self.args_ = args
        self.code = code
        self.stderr = stderr
        super().__init__(f"git {' '.join(args[:3])} failed ({code}): {stderr.strip()[-2000:]}")


class UncommittedChanges(ToolFailure):
    """A worktree is not removed without `force`: that would delete the changes not committed in it."""

    def __init__(self, path: Path, files: list[str]) -> None:
        self.files = files
        shown = ", ".join(files[:MAX_NAMED]) + (f" and {len(files) - MAX_NAMED} more" if len(files) > MAX_NAMED else "")
        count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
        super().__init__(
            f"not removed: the worktree {path.name} has uncommitted changes to {count} ({shown}); removing it "
            "would delete them: commit or merge them first, or remove it with force"
        )


async def git(
    cwd: Path, *args: str, check: bool = True, limit: int = 0, config: Mapping[str, str] | None = None
) -> str:
    """Run git in `cwd` (with `config` as command-line config); its stdout (cut at `limit` bytes
    when given). No program the repository names runs: its hooks, fsmonitor, filter and merge
    drivers, signing program (domain.git)."""
    env = child_environment({"GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"})
    _, listing, _ = await _run(cwd, env, ["config", "--show-scope", "--null", "--get-regexp", PROGRAM_KEYS])
    env.update(config_environment({**(config or {}), **repository_programs(listing)}, env))
    code, out, err = await _run(cwd, env, args)
    if check and code:
        raise GitError(list(args), code, err.decode("utf-8", "replace"))
    if limit and len(out) > limit:
        out = out[:limit]
    return out.decode("utf-8", "replace")


async def _run(cwd: Path, env: dict[str, str], args: Sequence[str]) -> tuple[int, bytes, bytes]:
    """git's exit code, stdout and stderr."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *git_command("git", *args),
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise ToolFailure(f"cannot run git: {exc.strerror or exc}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ToolFailure(f"git {' '.join(args[:2])} took longer than {GIT_TIMEOUT:.0f}s") from None
    return proc.returncode or 0, out, err


async def _submodules_unread(repo: Path) -> dict[str, str]:
    """Config that keeps `git merge` in `repo` from looking at the files of its submodules: those
    of its .gitmodules, wherever git would read it (the file, the index's, HEAD's)."""
    listings = []
    for source in (("--file", ".gitmodules"), ("--blob", ":.gitmodules"), ("--blob", "HEAD:.gitmodules")):
        _, listing, _ = await _run(
            repo, child_environment(), ["config", *source, "--null", "--name-only", "--get-regexp", SUBMODULE_PATHS]
        )
        listings.append(listing)
    return submodule_files_unread(listings)


async def _identity(repo: Path) -> tuple[str, ...]:
    """Who commits an agent's work: the repository's configured user, else reliant."""
    if (await git(repo, "config", "user.email", check=False)).strip():
        return ()
    return ("-c", "user.name=reliant", "-c", "user.email=reliant@localhost")


class Worktrees:
    async def _repo(self, workspace: Path) -> Path:
        try:
            top = (await git(workspace, "rev-parse", "--show-toplevel")).strip()
        except GitError:
            raise ToolFailure(f"{workspace} is not a git repository, and worktrees are made with git") from None
        if not top:
            raise ToolFailure(f"{workspace} is not a git repository")
        repo = Path(await asyncio.to_thread(os.path.realpath, top))
        if repo != workspace and not repo.is_relative_to(workspace):
            raise ToolFailure(f"refused: the repository of {workspace} is {repo}, outside the workspace")
        return repo

    async def repo_info(self, workspace: Path) -> dict[str, Any]:
        """Whether worktrees can be made here, and if not, why, in words a user can act on."""
        info: dict[str, Any] = {"ok": True, "git": False, "commits": False, "branch": "", "root": "", "problem": ""}
        try:
            top = (await git(workspace, "rev-parse", "--show-toplevel")).strip()
        except GitError:
            info["problem"] = f"{workspace} is not a git repository, and worktrees are made with git."
            return info
        repo = Path(await asyncio.to_thread(os.path.realpath, top))
        info["root"] = str(repo)
        if repo != workspace and not repo.is_relative_to(workspace):
            info["problem"] = (
                f"{workspace} is inside the git repository {repo}, not a repository of its own: worktrees "
                "of a project are made from its own repository."
            )
            return info
        info["git"] = True
        info["branch"] = (await git(repo, "symbolic-ref", "--short", "-q", "HEAD", check=False)).strip()
        head = await git(repo, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        info["commits"] = bool(head.strip())
        if not info["commits"]:
            info["problem"] = "The repository has no commit yet, and a worktree starts from a commit."
        return info

    async def init(self, workspace: Path, *, commit: bool = False) -> dict[str, Any]:
        """`git init` in the workspace; with `commit`, its files become the first commit."""
        info = await self.repo_info(workspace)
        if info["root"] and not info["git"]:
            raise ToolFailure(info["problem"])
        if not info["git"]:
            await git(workspace, "init", "-q")
        elif not commit or info["commits"]:
            raise ToolFailure(f"{workspace} already is a git repository")
        identity = "yours"
        committed = False
        if commit:
            await git(workspace, "add", "-A")
            who: list[str] = []
            if not (await git(workspace, "config", "user.email", check=False)).strip():
                who = ["-c", "user.name=reliant", "-c", "user.email=reliant@localhost"]
                identity = "reliant <reliant@localhost> (no git identity is configured)"
            message = "Initial commit"
            await git(workspace, *who, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", message)
            committed = True
        branch = (await git(workspace, "symbolic-ref", "--short", "-q", "HEAD", check=False)).strip()
        logger.info("git repository initialised in %s (first commit: %s)", workspace, committed)
        return {"ok": True, "branch": branch, "committed": committed, "identity": identity if committed else ""}

    def confine_worktree(self, repo: Path, given: str) -> Path:
        """The worktree directory `given` names; refused unless it lies under .reliant/worktrees."""
        if not given:
            raise ToolFailure("a non-empty path is required")
        root = repo / WORKTREES_DIR
        path = confine(repo, given)
        if path == root or not path.is_relative_to(root):
            raise ToolFailure(f"refused: {given} is not a worktree under {root}")
        return path

    def present_worktree(self, repo: Path, given: str, *, gone: str = "") -> Path:
        """confine_worktree, and the worktree must be there (one removed outside reliant is said
        gone, and `gone` says what that means for the caller)."""
        path = self.confine_worktree(repo, given)
        if not path.is_dir():
            raise ToolFailure(f"the worktree {path} is gone{gone}")
        return path

    async def create(
        self, workspace: Path, name: str, branch: str = "", base: str = "", source: str = ""
    ) -> dict[str, Any]:
        """`source`: a worktree of the repository whose checked-out commit is the base (unless `base`
        names one); its uncommitted changes are not part of it."""
        if not NAME.match(name) or ".." in name:
            raise ToolFailure("a worktree name is 1-64 letters, digits, '.', '_' or '-' (no '..')")
        branch = branch or f"reliant/{name}"
        if not BRANCH.match(branch) or ".." in branch or branch.endswith((".lock", "/")):
            raise ToolFailure(f"invalid branch name {branch!r}")
        if base.startswith("-"):
            raise ToolFailure(f"invalid base {base!r}")
        repo = await self._repo(workspace)
        start = repo
        if source and not base:
            start = self.present_worktree(repo, source, gone=": a worktree cannot start from it")
        found = await git(start, "rev-parse", "-q", "--verify", f"{base or 'HEAD'}^{{commit}}", check=False)
        if not found.strip():  # checked before anything is made
            if not base:
                raise ToolFailure("the repository has no commit yet, and a worktree starts from a commit")
            raise ToolFailure(f"base {base!r} names no commit of the repository")
        base_commit = found.strip()
        root = repo / WORKTREES_DIR
        confine(repo, WORKTREES_DIR)  # a `.reliant` linked elsewhere: nothing is made there
        root.mkdir(parents=True, exist_ok=True)
        path = self.confine_worktree(repo, str(root / name))
        if path.exists():
            raise ToolFailure(f"a worktree named {name} already exists at {path}")
        await self._exclude(repo)
        await git(repo, "worktree", "add", "-b", branch, str(path), base_commit)
        logger.info("worktree %s created at %s on %s", name, path, branch)
        return {"name": name, "path": str(path), "branch": branch, "head": base_commit, "base": base_commit}

    async def _exclude(self, repo: Path) -> None:
        common = Path((await git(repo, "rev-parse", "--git-common-dir")).strip())
        if not common.is_absolute():
            common = repo / common
        exclude = common / "info" / "exclude"
        line = f"/{WORKTREES_DIR}/"
        try:
            current = exclude.read_text() if exclude.exists() else ""
        except OSError:
            return
        if line not in current.splitlines():
            exclude.parent.mkdir(parents=True, exist_ok=True)
            with exclude.open("a") as f:
                f.write(("" if not current or current.endswith("\n") else "\n") + line + "\n")

    async def list(self, workspace: Path) -> list[dict[str, Any]]:
        repo = await self._repo(workspace)
        out = await git(repo, "worktree", "list", "--porcelain")
        root = repo / WORKTREES_DIR
        found: list[dict[str, Any]] = []
        for block in out.strip().split("\n\n"):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                key, _, value = line.partition(" ")
                fields[key] = value
            path = Path(fields.get("worktree", ""))
            if not path.is_relative_to(root):
                continue
            found.append(
                {
                    "name": path.name,
                    "path": str(path),
                    "branch": fields.get("branch", "").removeprefix("refs/heads/"),
                    "head": fields.get("HEAD", ""),
                    "locked": "locked" in fields,
                    "prunable": "prunable" in fields,
                }
            )
        return found

    async def orphans(self, workspace: Path, known: Sequence[str]) -> Sequence[dict[str, Any]]:
        """The repository's worktrees under .reliant/worktrees that none of the `known` paths (those
        reliant holds a record of) names — left by a deleted chat, say —, each with how many files
        a removal would lose (uncommitted changes). A project that is no repository has none."""
        try:
            found = [w for w in await self.list(workspace) if not w["prunable"]]
        except ToolFailure:
            return []
        named = await asyncio.to_thread(_real_paths, known)
        real = await asyncio.to_thread(_real_paths, [w["path"] for w in found])
        left = [w for w, path in zip(found, real, strict=True) if path not in named]
        return [
            {
                "name": w["name"],
                "path": w["path"],
                "branch": w["branch"],
                "uncommitted": len(await _uncommitted(Path(w["path"]))),
            }
            for w in left
        ]

    async def status(self, workspace: Path, given: str) -> dict[str, Any]:
        repo = await self._repo(workspace)
        path = self.present_worktree(repo, given)
        out = await git(path, "status", SUBMODULE_FILES_UNREAD, "--porcelain=v1", "-b", "--untracked-files=all")
        lines = out.splitlines()
        branch, ahead, behind = "", 0, 0
        if lines and lines[0].startswith("## "):
            head = lines.pop(0)[3:]
            branch = head.split("...")[0]
            if match := re.search(r"ahead (\d+)", head):
                ahead = int(match.group(1))
            if match := re.search(r"behind (\d+)", head):
                behind = int(match.group(1))
        files = [{"path": line[3:], "index": line[0], "worktree": line[1]} for line in lines if len(line) > 3]
        head_commit = (await git(path, "rev-parse", "HEAD")).strip()
        return {"ok": True, "branch": branch, "head": head_commit, "ahead": ahead, "behind": behind, "files": files}

    async def diff(self, workspace: Path, given: str, base: str = "") -> dict[str, Any]:
        repo = await self._repo(workspace)
        path = self.present_worktree(repo, given)
        if base.startswith("-"):
            raise ToolFailure(f"invalid base {base!r}")
        against = base or "HEAD"
        plain = ("--no-color", "--no-ext-diff", "--no-textconv")
        diff = await git(path, "diff", *plain, SUBMODULE_FILES_UNREAD, against, "--", limit=MAX_DIFF_BYTES + 1)
        names = (await git(path, "diff", SUBMODULE_FILES_UNREAD, "--name-only", against, "--")).split()
        untracked = (await git(path, "ls-files", "--others", "--exclude-standard")).splitlines()
        parts = [diff]
        for rel in untracked[:MAX_UNTRACKED]:
            if sum(len(p) for p in parts) > MAX_DIFF_BYTES:
                break
            added = ("diff", *plain, "--no-index", "--", "/dev/null", rel)
            parts.append(await git(path, *added, check=False))
        text = "".join(parts)
        truncated = len(text) > MAX_DIFF_BYTES or len(untracked) > MAX_UNTRACKED
        return {
            "ok": True,
            "diff": text[:MAX_DIFF_BYTES],
            "truncated": truncated,
            "files": sorted(set(names) | set(untracked)),
        }

    async def remove(
        self, workspace: Path, given: str, *, force: bool = False, delete_branch: bool = False, branch: str = ""
    ) -> dict[str, Any]:
        """`branch`: the worktree's, deleted with `delete_branch` when the worktree is gone already
        (removed outside reliant: only git's record of it is left, and pruned)."""
        repo = await self._repo(workspace)
        path = self.confine_worktree(repo, given)
        if branch and (not BRANCH.match(branch) or ".." in branch):
            raise ToolFailure(f"invalid branch name {branch!r}")
        if path.exists():
            if not force and (changed := await _uncommitted(path)):
                raise UncommittedChanges(path, changed)
            branch = (await git(path, "rev-parse", "--abbrev-ref", "HEAD", check=False)).strip()
            args = ["worktree", "remove", *(["--force"] if force else []), str(path)]
            await git(repo, *args)
        elif branch and not (await git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}", check=False)):
            branch = ""  # gone with it
        await git(repo, "worktree", "prune", check=False)
        if delete_branch and branch and branch != "HEAD":
            await git(repo, "branch", "-D", branch)
        return {"ok": True, "path": str(path), "branch": branch, "branch_deleted": bool(delete_branch and branch)}

    async def merge(
        self, workspace: Path, given: str, message: str = "", base: str = "", into: str = ""
    ) -> dict[str, Any]:
        """`base`: the commit the worktree started from; a branch still there after its uncommitted
        work is committed has nothing to merge, and is said so (`empty`). `into`: the worktree of the
        repository whose branch takes the merge ("": the repository's own checkout)."""
        top = await self._repo(workspace)
        path = self.present_worktree(top, given, gone=": there is nothing to merge")
        if base.startswith("-"):
            raise ToolFailure(f"invalid base {base!r}")
        # Where the merge lands: every git command about "the workspace" below runs there.
        repo = self.present_worktree(top, into, gone=": nothing was merged into it") if into else top
        if repo == path:
            raise ToolFailure("a worktree cannot be merged into itself")
        branch = (await git(path, "rev-parse", "--abbrev-ref", "HEAD")).strip()
        target = (await git(repo, "rev-parse", "--abbrev-ref", "HEAD")).strip()
        if "HEAD" in (branch, target):
            where = "the worktree it is merged into" if into else "the repository"
            raise ToolFailure(f"both the worktree and {where} must be on a branch (not a detached HEAD)")
        if (await git(repo, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False)).strip():
            # Its own `merge --abort` below would throw away the user's merge and their resolution.
            raise ToolFailure(f"the repository is in the middle of a merge into {target}: finish or abort it first")
        who = await _identity(repo)
        if (await git(path, "status", SUBMODULE_FILES_UNREAD, "--porcelain", "--untracked-files=all")).strip():
            await git(path, "add", "-A")
            await git(path, *who, "commit", "-q", "--no-verify", "-m", message or f"The work of {branch}")
        if base and await _same_commit(path, "HEAD", base):
            return {"ok": True, "merged": False, "empty": True, "conflicts": [], "reason": f"{branch} has no changes"}
        try:
            await git(repo, "merge-base", "--is-ancestor", branch, "HEAD")
        except GitError:
            pass  # not merged yet
        else:  # merged before (a retry): done
            return {"ok": True, "merged": True, "commit": (await git(repo, "rev-parse", "HEAD")).strip(), "files": []}
        probe = await git(
            repo, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", branch, check=False
        )
        conflicts = sorted({line for line in probe.splitlines()[1:] if line.strip()})
        if conflicts:
            return {"ok": True, "merged": False, "conflicts": conflicts, "reason": f"{branch} conflicts with {target}"}
        changed = [p for p in (await git(repo, "diff", "--name-only", "-z", f"HEAD...{branch}", "--")).split("\0") if p]
        status = await git(repo, "status", SUBMODULE_FILES_UNREAD, "--porcelain")
        dirty = {line[3:].split(" -> ")[-1] for line in status.splitlines()}
        if overlap := sorted(set(changed) & dirty):
            why = f"the workspace has uncommitted changes to files {branch} changes"
            return {"ok": True, "merged": False, "conflicts": overlap, "reason": why}
        # git merge overwrites an ignored file silently, and no commit holds it to get it back.
        tracked = set((await git(repo, "ls-files", "-z")).split("\0"))
        if untracked := sorted(p for p in changed if p not in tracked and _present(repo / p)):
            why = f"the workspace has files git does not track (ignored ones) that {branch} would overwrite"
            return {"ok": True, "merged": False, "conflicts": untracked, "reason": why}
        title = message or f"Merge {branch}"
        unread = await _submodules_unread(repo)
        try:
            await git(repo, *who, "merge", "--no-ff", "--no-edit", "-m", title, branch, config=unread)
        except GitError:
            await git(repo, "merge", "--abort", check=False, config=unread)
            raise
        return {"ok": True, "merged": True, "commit": (await git(repo, "rev-parse", "HEAD")).strip(), "files": changed}

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        def workspace(body: dict[str, Any]) -> Path:
            given = body.get("workspace", "")
            found = workspace_for(given if isinstance(given, str) else "")
            if found is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            return found

        def text(body: dict[str, Any], key: str) -> str:
            value = body.get(key, "")
            if not isinstance(value, str):
                raise ToolFailure(f"{key} must be a string")
            return value

        async def create(body: dict[str, Any]) -> Any:
            info = await self.create(
                workspace(body), text(body, "name"), text(body, "branch"), text(body, "base"), text(body, "source")
            )
            return {"ok": True, "worktree": info}

        async def list_(body: dict[str, Any]) -> Any:
            return {"ok": True, "worktrees": await self.list(workspace(body))}

        async def orphans(body: dict[str, Any]) -> Any:
            known = body.get("known") or []
            if not isinstance(known, list) or not all(isinstance(p, str) for p in known):
                raise ToolFailure("known must be a list of paths")
            return {"ok": True, "orphaned": await self.orphans(workspace(body), known)}

        async def status(body: dict[str, Any]) -> Any:
            return await self.status(workspace(body), text(body, "path"))

        async def diff(body: dict[str, Any]) -> Any:
            return await self.diff(workspace(body), text(body, "path"), text(body, "base"))

        async def remove(body: dict[str, Any]) -> Any:
            try:
                return await self.remove(
                    workspace(body),
                    text(body, "path"),
                    force=bool(body.get("force")),
                    delete_branch=bool(body.get("delete_branch")),
                    branch=text(body, "branch"),
                )
            except UncommittedChanges as exc:
                return {"ok": False, "conflict": True, "uncommitted": exc.files, "error": exc.message}

        async def repo(body: dict[str, Any]) -> Any:
            return await self.repo_info(workspace(body))

        async def init(body: dict[str, Any]) -> Any:
            return await self.init(workspace(body), commit=bool(body.get("commit")))

        async def merge(body: dict[str, Any]) -> Any:
            return await self.merge(
                workspace(body),
                text(body, "path"),
                text(body, "message"),
                text(body, "base"),
                text(body, "into"),
            )

        return {
            "worktree.repo": repo,
            "worktree.init": init,
            "worktree.merge": merge,
            "worktree.create": create,
            "worktree.list": list_,
            "worktree.orphans": orphans,
            "worktree.status": status,
            "worktree.diff": diff,
            "worktree.remove": remove,
        }


async def _uncommitted(path: Path) -> list[str]:
    """The files of the worktree at `path` a removal would lose: modified, staged, untracked (as
    `git worktree remove` counts them: ignored files are not)."""
    out = await git(path, "status", SUBMODULE_FILES_UNREAD, "--porcelain=v1", "-z", "--untracked-files=all")
    entries = iter(out.split("\0"))
    files: list[str] = []
    for entry in entries:
        if len(entry) > 3:
            files.append(entry[3:])
            if entry[0] in "RC":  # a rename's source follows it
                next(entries, None)
    return files


async def _same_commit(cwd: Path, one: str, other: str) -> bool:
    first, second = [
        (await git(cwd, "rev-parse", "-q", "--verify", f"{r}^{{commit}}", check=False)).strip() for r in (one, other)
    ]
    return bool(first) and first == second


def _real_paths(paths: Sequence[str]) -> list[str]:
    """Each path with its symlinks resolved (a record's and git's spelling of one worktree differ)."""
    return [os.path.realpath(p) for p in paths]


def _present(path: Path) -> bool:
    """Whether something is at `path` (a dangling link too)."""
    return path.is_symlink() or path.exists()
