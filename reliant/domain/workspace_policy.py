"""Which directories may never be a workspace (a project's directory on a daemon).

Tools read and write anything inside a workspace, so a workspace at the filesystem root, at or
around a reliant data dir (its `secrets/` hold the tokens) or in a system directory would hand
them the machine. The api checks the path it is given, the daemon the real path (links resolved)
of every workspace it is asked to use. Pure: the caller resolves the path.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

# Directories of the operating system (and everything under them).
SYSTEM_DIRECTORIES = tuple(
    PurePosixPath(p)
    for p in (
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/proc",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/var",
    )
)
# The one directory inside a data dir that may be a project: the copy `reliant up --demo` makes.
DEMO_PROJECT_DIR = "demo-project"


def workspace_refusal(path: PurePosixPath, data_dirs: Iterable[PurePosixPath] = ()) -> str:
    """Why the absolute, normalised `path` must not be a workspace; "" when it may be one."""
    path = PurePosixPath("/" + str(path).lstrip("/"))  # POSIX lets `//etc` name /etc
    if path == PurePosixPath("/"):
        return "it is the filesystem root"
    for system in SYSTEM_DIRECTORIES:
        if path == system:
            return f"{system} is a system directory"
        if path.is_relative_to(system):
            return f"it is inside the system directory {system}"
    for data_dir in data_dirs:
        if path == data_dir:
            return "it is reliant's data dir, which holds its secrets"
        if data_dir.is_relative_to(path):
            return f"it contains reliant's data dir {data_dir}, which holds its secrets"
        if path.is_relative_to(data_dir) and not path.is_relative_to(data_dir / DEMO_PROJECT_DIR):
            return f"it is inside reliant's data dir {data_dir}, which holds its secrets"
    return ""


def outside_roots(path: PurePosixPath, roots: Iterable[PurePosixPath]) -> str:
    """Why `path` is refused by a daemon limited to `roots` ("" when inside one, or no roots)."""
    given = list(roots)
    if not given or any(path.is_relative_to(root) for root in given):
        return ""
    return "it is outside the directories this daemon may work in (" + ", ".join(map(str, given)) + ")"
