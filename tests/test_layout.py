"""The import-linter contracts cover every module: a new top-level module of `reliant` must be placed
in the layers and named in each "only X imports Y" contract, or this test says where it is missing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import reliant

ROOT = Path(reliant.__file__).parent
LEAVES = {"__init__", "__main__", "py"}  # the package's face; not a room of its own


def _top_level() -> set[str]:
    names = {p.stem for p in ROOT.glob("*.py")} | {p.parent.name for p in ROOT.glob("*/__init__.py")}
    return {f"reliant.{n}" for n in names - LEAVES}


def _contracts() -> list[dict[str, object]]:
    with (ROOT.parent / "pyproject.toml").open("rb") as f:
        return list(tomllib.load(f)["tool"]["importlinter"]["contracts"])


def _covers(listed: set[str], module: str) -> bool:
    return any(module == m or m.startswith(module + ".") or module.startswith(m + ".") for m in listed)


def test_every_top_level_module_has_a_layer() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    listed = {m.strip() for layer in layers["layers"] for m in str(layer).split("|")}  # type: ignore[attr-defined]
    missing = sorted(m for m in _top_level() if not _covers(listed, m))
    assert not missing, f"add these to the 'layers point one way' contract in pyproject.toml: {missing}"


def test_only_one_package_imports_each_io_library() -> None:
    owners = {"only db imports psycopg": "reliant.db", "only bus imports nats": "reliant.bus"}
    owners["only llm imports the provider SDKs"] = "reliant.llm"
    for contract in _contracts():
        owner = owners.get(str(contract["name"]))
        if owner is None:
            continue
        listed = set(contract["source_modules"])  # type: ignore[call-overload]
        missing = sorted(m for m in _top_level() - {owner} if m not in listed)
        assert not missing, f"contract {contract['name']!r} must also list {missing}"
