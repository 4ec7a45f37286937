"""The demo project that `scripted:demo` works on, shipped as package data.

`reliant up --demo` puts a copy in `<data-dir>/demo-project` and makes it a git repository whose
one commit holds the failing test. Every chat in it works in its own git worktree of that commit
(the worker makes it as the chat's first run opens), so each demo chat starts from the failing test
and its changes can be seen as a diff.

On a workflow with a demo script of its own (`scripts/demo-<workflow>.yaml`), `scripted:demo` plays
that script instead (demo_model), so the demo shows the workflow's steps: a judge's or a reviewer's
answer through its node's response tool, say. A child run of a demo chat (a `workflow` node's) plays
its own workflow's demo script in turn, or the plain demo: best-of-n's candidates fix the bug as the
plain demo does, review's sub-agent reviews as review-changes' script does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from reliant.domain.git import git_command
from reliant.llm.script import SCRIPTS_DIR

DEMO_MODEL = "scripted:demo"
DEMO_WORKFLOW = "plan-then-build"  # the workflow `reliant up --demo` suggests trying
DEMO_TASK = "Fix the failing test"
DEMO_TESTS = "python3 test_leapyear.py"
# The inputs a built-in workflow needs to play the demo (the others need none): the task, and the
# demo project's test command where the workflow runs one (its tests run with python3 alone; tdd's
# default, pytest, may not be installed).
DEMO_INPUTS: dict[str, dict[str, str]] = {
    "best-of-n": {"task": DEMO_TASK, "test_command": DEMO_TESTS},
    "review": {"task": DEMO_TASK},
    "review-changes": {"task": DEMO_TASK},
    "solve": {"task": DEMO_TASK, "test_command": DEMO_TESTS},
    "tdd": {"task": DEMO_TASK, "test_command": DEMO_TESTS},
}
DEMO_PROJECT_NAME = "demo-project"
_DEMO_PROJECT = Path(__file__).with_name("demo-project")
_GIT_IDENTITY = ("-c", "user.name=reliant demo", "-c", "user.email=demo@reliant.invalid")


def demo_model(model: str, workflow: str) -> str:
    """The model a new chat on `workflow` gets for `model`: the workflow's own demo script for
    `scripted:demo` when one ships, else `model` as it is."""
    if model != DEMO_MODEL or not (SCRIPTS_DIR / f"demo-{workflow}.yaml").is_file():
        return model
    return f"{DEMO_MODEL}-{workflow}"


def is_demo_model(model: str) -> bool:
    """`model` is the demo: `scripted:demo` or a workflow's own demo script."""
    if model == DEMO_MODEL:
        return True
    name = model.removeprefix("scripted:")
    return model.startswith(f"{DEMO_MODEL}-") and "/" not in name and (SCRIPTS_DIR / f"{name}.yaml").is_file()


def demo_project_dir() -> Path:
    """The shipped demo project (read-only in spirit: copy it before letting an agent edit it)."""
    return _DEMO_PROJECT


def demo_project_path(data_dir: Path) -> Path:
    """Where `reliant up --demo` puts the demo project for a data dir."""
    return data_dir.expanduser().resolve() / DEMO_PROJECT_NAME


def copy_demo_project(dest: Path) -> Path:
    """Copy the demo project's files into `dest` (created if missing; existing files are replaced)."""
    shutil.copytree(_DEMO_PROJECT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def make_demo_repository(dest: Path) -> bool:
    """Make `dest` a git repository with one commit of its files; False (and nothing done) when
    git is not installed. Raises subprocess.CalledProcessError if git fails."""
    git = shutil.which("git")
    if git is None:
        return False
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_TERMINAL_PROMPT"] = "0"

    def run(*args: str) -> None:
        subprocess.run(
            git_command(git, *_GIT_IDENTITY, *args), cwd=dest, env=env, check=True, capture_output=True, timeout=60
        )

    run("init", "--quiet", "--initial-branch=main")
    run("add", "--all")
    run("commit", "--quiet", "--no-verify", "--no-gpg-sign", "-m", "The leapyear demo: two tests fail")
    return True
