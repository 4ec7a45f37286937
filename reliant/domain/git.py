"""The options every git command reliant runs starts with.

A repository can make git run programs of its own: its hooks (`.git/hooks/post-checkout` runs on
`git worktree add`, `post-commit` on a commit, `post-merge` on a merge) and the `core.fsmonitor` of
its `.git/config` (run by `git status`, `add` and `diff`). Whoever wrote the repository's `.git`
would run code on the user's machine whenever reliant makes a worktree, shows a diff or puts the
status in a prompt, trusted project or not. These options turn both off: a `-c` option wins over
every config file, and no hook is found under /dev/null.

Its config can also name filter drivers (`filter.<name>.clean`, `smudge`, `process`: run on every
file `git status` hashes again, `add` stages or `worktree add` checks out) and merge drivers
(`merge.<name>.driver`), whose names its own `.gitattributes` picks, and the program that signs a
commit (`gpg.program`, `gpg.<format>.program`, `gpg.ssh.defaultKeyCommand`). Driver names are not
known in advance: the daemon asks git which of these keys the repository's own config (`local` and
`worktree` scopes, and what they include) sets, and gives each the user's own value (system,
global or command line) instead, or none (`repository_programs`): git then skips a filter, and a
merge or signature that needs the missing program fails. A repository whose own config installs a
filter (`git lfs install --local`) so works without it in reliant's git. Textconv programs are
not used (`git diff --no-textconv`).

`git status` and `git diff` of a working tree run a git of its own in each submodule to see
whether its files changed, under the submodule's config (`.git/modules/<name>/config`, with filter
drivers of its own). Reliant's pass SUBMODULE_FILES_UNREAD: a submodule counts as changed when its
commit does, not when its files do (as an option: the repository's `.gitmodules` cannot undo it).
`git merge` has no such option (it looks through the `git stash create` it runs first): it gets
`submodule_files_unread`, the same as config for every submodule the repository names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

NO_REPOSITORY_PROGRAMS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")

SUBMODULE_FILES_UNREAD = "--ignore-submodules=dirty"
# `git config --show-scope --null --get-regexp PROGRAM_KEYS` lists where the programs are set.
PROGRAM_KEYS = (
    r"^(filter\..+\.(clean|smudge|process)|merge\..+\.driver|gpg\.(.+\.)?program|gpg\.ssh\.defaultkeycommand)$"
)
REPOSITORY_SCOPES = frozenset({"local", "worktree"})
# `git config --null --name-only --get-regexp SUBMODULE_PATHS` on a .gitmodules names its submodules.
SUBMODULE_PATHS = r"^submodule\..+\.path$"


def git_command(git: str, *args: str) -> list[str]:
    """The argv of `git` (its name or path) with `args`, the repository's programs turned off."""
    return [git, *NO_REPOSITORY_PROGRAMS, *args]


def repository_programs(listing: bytes) -> dict[str, str]:
    """The program keys the repository's own config sets, each with the value it gets instead: the
    user's own, else "". `listing` is what `git config --show-scope --null --get-regexp
    PROGRAM_KEYS` printed: `scope NUL key LF value NUL` per value, lowest precedence first."""
    fields = listing.split(b"\0")
    set_by_repository: set[str] = set()
    users: dict[str, str] = {}
    for scope, record in zip(fields[0::2], fields[1::2], strict=False):
        key, _, value = record.decode("utf-8", "surrogateescape").partition("\n")
        if scope.decode("utf-8", "replace") in REPOSITORY_SCOPES:
            set_by_repository.add(key)
        else:
            users[key] = value
    return {key: users.get(key, "") for key in sorted(set_by_repository)}


def config_environment(values: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The variables that give git `values` as command-line config (`GIT_CONFIG_COUNT`,
    `GIT_CONFIG_KEY_<n>`, `GIT_CONFIG_VALUE_<n>`, after those `env` has): unlike `-c`, a key may
    hold `=` (a driver's name may)."""
    if not values:
        return {}
    count = env.get("GIT_CONFIG_COUNT", "")
    start = int(count) if count.isdigit() else 0
    added = {"GIT_CONFIG_COUNT": str(start + len(values))}
    for n, (key, value) in enumerate(values.items(), start):
        added[f"GIT_CONFIG_KEY_{n}"] = key
        added[f"GIT_CONFIG_VALUE_{n}"] = value
    return added


def submodule_files_unread(listings: Iterable[bytes]) -> dict[str, str]:
    """Config with the effect of SUBMODULE_FILES_UNREAD, for the submodules the .gitmodules
    `listings` (of SUBMODULE_PATHS) name: config named after a submodule wins over its .gitmodules."""
    names = {
        key.removeprefix("submodule.").removesuffix(".path")
        for listing in listings
        for key in listing.decode("utf-8", "surrogateescape").split("\0")
        if key
    }
    return {"diff.ignoreSubmodules": "dirty"} | {f"submodule.{name}.ignore": "dirty" for name in sorted(names)}
