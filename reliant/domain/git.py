"""The options every git command reliant runs starts with.

A repository can make git run programs of its own: its hooks (`.git/hooks/post-checkout` runs on
`git worktree add`, `post-commit` on a commit, `post-merge` on a merge) and the `core.fsmonitor` of
its `.git/config` (run by `git status`, `add` and `diff`). Whoever wrote the repository's `.git`
would run code on the user's machine whenever reliant makes a worktree, shows a diff or puts the
status in a prompt, trusted project or not. These options turn both off: a `-c` option wins over
every config file, and no hook is found under /dev/null.
"""

from __future__ import annotations

NO_REPOSITORY_PROGRAMS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


def git_command(git: str, *args: str) -> list[str]:
    """The argv of `git` (its name or path) with `args`, the repository's programs turned off."""
    return [git, *NO_REPOSITORY_PROGRAMS, *args]
