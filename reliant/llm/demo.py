"""The demo project that `scripted:demo` works on, shipped as package data."""

from __future__ import annotations

import shutil
from pathlib import Path

DEMO_MODEL = "scripted:demo"
_DEMO_PROJECT = Path(__file__).with_name("demo-project")


def demo_project_dir() -> Path:
    """The shipped demo project (read-only in spirit: copy it before letting an agent edit it)."""
    return _DEMO_PROJECT


def copy_demo_project(dest: Path) -> Path:
    """Copy the demo project's files into `dest` (created if missing; existing files are replaced)."""
    shutil.copytree(_DEMO_PROJECT, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest
