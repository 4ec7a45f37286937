"""What the agent knows about its project and machine: the instruction files in effect and the
environment, as the daemon reads them and the system prompt shows them. Frozen, no I/O.

A chat keeps one ChatContext (taken at its first model call, in the db): the system prompt is built
from it on every turn, so it stays the same from turn to turn and the provider's prompt cache holds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

# The file names read in each directory, in this order; a file whose real path or content repeats
# one already taken (CLAUDE.md as a link to AGENTS.md) is taken once.
INSTRUCTION_FILES = ("AGENTS.md", "CLAUDE.md", ".reliant/instructions.md")


class InstructionScope(enum.StrEnum):
    PARENT = "parent"  # a directory above the project root (up to the user's home or /)
    PROJECT = "project"  # the project root
    DIRECTORY = "directory"  # a directory inside the project the agent has worked in


@dataclass(frozen=True, slots=True)
class InstructionFile:
    path: str  # absolute, as found
    scope: InstructionScope
    directory: str  # the directory it applies to: relative to the project root ("." for the root), absolute above it
    content: str
    truncated: bool = False  # cut at the daemon's size bound

    def shown(self) -> str:
        """How the prompt and the UI name it: relative inside the project, absolute above it."""
        if self.scope is InstructionScope.PARENT:
            return self.path
        # The path's end, not any /.reliant/ in it: an agent's worktree lies under .reliant/worktrees/.
        name = (
            ".reliant/instructions.md"
            if self.path.endswith("/.reliant/instructions.md")
            else self.path.rsplit("/", 1)[-1]
        )
        return name if self.directory == "." else f"{self.directory}/{name}"


@dataclass(frozen=True, slots=True)
class GitState:
    branch: str  # "" when HEAD is detached
    head: str  # short commit id ("" before the first commit)
    status: tuple[str, ...] = ()  # `git status --short` lines, at most a few dozen
    changed: int = 0  # how many entries the full status has


@dataclass(frozen=True, slots=True)
class Environment:
    os: str  # e.g. "Linux 6.1.0 (Debian GNU/Linux 12)"
    shell: str  # what the shell tool runs commands with, and the user's login shell
    date: str  # the daemon machine's local date, YYYY-MM-DD
    workspace: str
    git: GitState | None = None  # None: not a git repository
    tree: tuple[str, ...] = ()  # the top of the project tree, one entry a line, indented by depth
    tree_truncated: bool = False


@dataclass(frozen=True, slots=True)
class ChatContext:
    """A chat's snapshot of its environment and the instruction files in effect."""

    workspace: str  # the directory it was taken for: the chat's project or worktree, or a sub-agent's worktree
    environment: Environment | None
    instructions: tuple[InstructionFile, ...] = ()
    # Paths named by the chat's tool calls whose directories were already checked for instruction files.
    checked_paths: tuple[str, ...] = ()
    prompt_version: int = 0

    def with_directory_files(self, paths: tuple[str, ...], found: tuple[InstructionFile, ...]) -> ChatContext:
        """With the files found for the directories of `paths` (those not already in effect)."""
        known = {f.path for f in self.instructions}
        fresh = tuple(f for f in found if f.path not in known)
        checked = tuple(dict.fromkeys((*self.checked_paths, *paths)))
        return replace(self, instructions=(*self.instructions, *fresh), checked_paths=checked)


# -- JSON (the db column, the `context` update, the daemon's answers) ------------------------------


def instruction_to_json(f: InstructionFile, *, content: bool = True) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "path": f.path,
        "scope": f.scope.value,
        "directory": f.directory,
        "shown": f.shown(),
        "chars": len(f.content),
        "truncated": f.truncated,
    }
    if content:
        doc["content"] = f.content
    return doc


def instruction_from_json(doc: dict[str, Any]) -> InstructionFile:
    return InstructionFile(
        path=str(doc["path"]),
        scope=InstructionScope(doc.get("scope", "project")),
        directory=str(doc.get("directory", ".")),
        content=str(doc.get("content", "")),
        truncated=bool(doc.get("truncated", False)),
    )


def environment_to_json(env: Environment) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "os": env.os,
        "shell": env.shell,
        "date": env.date,
        "workspace": env.workspace,
        "tree": list(env.tree),
        "tree_truncated": env.tree_truncated,
        "git": None,
    }
    if env.git is not None:
        doc["git"] = {
            "branch": env.git.branch,
            "head": env.git.head,
            "status": list(env.git.status),
            "changed": env.git.changed,
        }
    return doc


def environment_from_json(doc: dict[str, Any]) -> Environment:
    git = doc.get("git")
    return Environment(
        os=str(doc.get("os", "")),
        shell=str(doc.get("shell", "")),
        date=str(doc.get("date", "")),
        workspace=str(doc.get("workspace", "")),
        git=GitState(
            branch=str(git.get("branch", "")),
            head=str(git.get("head", "")),
            status=tuple(str(s) for s in git.get("status") or ()),
            changed=int(git.get("changed", 0)),
        )
        if isinstance(git, dict)
        else None,
        tree=tuple(str(t) for t in doc.get("tree") or ()),
        tree_truncated=bool(doc.get("tree_truncated", False)),
    )


def context_to_json(ctx: ChatContext) -> dict[str, Any]:
    return {
        "workspace": ctx.workspace,
        "environment": environment_to_json(ctx.environment) if ctx.environment is not None else None,
        "instructions": [instruction_to_json(f) for f in ctx.instructions],
        "checked_paths": list(ctx.checked_paths),
        "prompt_version": ctx.prompt_version,
    }


def context_from_json(doc: dict[str, Any]) -> ChatContext:
    env = doc.get("environment")
    return ChatContext(
        workspace=str(doc.get("workspace", "")),
        environment=environment_from_json(env) if isinstance(env, dict) else None,
        instructions=tuple(instruction_from_json(f) for f in doc.get("instructions") or ()),
        checked_paths=tuple(str(d) for d in doc.get("checked_paths") or ()),
        prompt_version=int(doc.get("prompt_version", 0)),
    )


DIRECTORY_MEDIA_TYPE = "inode/directory"  # an attached directory's listing (a text block)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file named with `@path` in a user message, as the daemon read it."""

    path: str  # as the user wrote it (relative to the project root)
    kind: str  # text | image | directory | error
    content: str = ""  # text, a directory listing, base64 for an image, the reason for an error
    media_type: str = ""
    truncated: bool = False
    size: int = 0  # bytes on disk
