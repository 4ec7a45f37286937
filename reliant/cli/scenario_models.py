"""A scenario's scripted models put in place: each script written into the project's copy (with
`own_turns`, so the scripts of several nodes share a thread, and a call log), and the workflow under
test — with the workflows it runs — written into the copy with each scripted node's `model` set.
The copy's file shadows the built-in of the same name; nothing else of the definition changes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reliant import workflow_library

RUN_DIR = Path(".reliant") / "test-run"  # in the copy: the scripts and their call logs
MODEL_KINDS = ("call_llm", "agent", "compact")  # the node kinds that call a model
DEFAULT = "default"
PRESET = "preset:"
UNSCRIPTED_TEXT = "[reliant test: this model call has no script: give its node one under `models:`]"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_RUN_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\[(\d+)\]$")  # `solve[1]`: a run of a workflow node


class ScenarioSetupError(Exception):
    """The scenario cannot be set up as written (a script for a node that does not exist, ...)."""


@dataclass
class Models:
    """What the runner needs to know about the scripts once they are in place."""

    default: str  # the chat's model: scripted:<path>
    unscripted_log: Path | None  # the call log of the stand-in for calls without a script
    logs: dict[str, Path] = field(default_factory=dict)  # key -> its script's call log


def _nodes(nodes: Any) -> list[dict[str, Any]]:
    """Every node mapping of a definition's node list, inside loops and parallel branches too."""
    out: list[dict[str, Any]] = []
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict):
            continue
        out.append(node)
        body = node.get("body")
        if isinstance(body, dict):
            out.extend(_nodes(body.get("nodes")))
        for branch in node.get("branches") or []:
            if isinstance(branch, dict):
                out.extend(_nodes(branch.get("nodes")))
    return out


def _source_text(project: Path, name: str) -> str | None:
    own = project / ".reliant" / "workflows" / f"{name}.yaml"
    if own.is_file():
        return own.read_text(encoding="utf-8")
    builtin = next((t for t in workflow_library.builtin_workflows() if t.name == name), None)
    return builtin.text if builtin is not None else None


def _script_doc(script: Any, key: str) -> dict[str, Any]:
    if isinstance(script, Path):
        try:
            loaded = yaml.safe_load(script.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ScenarioSetupError(f"models.{key}: cannot read {script}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ScenarioSetupError(f"models.{key}: {script} is not a script (a mapping with `turns`)")
        return loaded
    return dict(script)


def place(copy: Path, workflow: str, models: dict[str, Any]) -> Models:
    """Write the scripts and the rewritten workflows into `copy`; ScenarioSetupError if a key names
    nothing that calls a model."""
    run_dir = copy / RUN_DIR
    run_dir.mkdir(parents=True, exist_ok=True)
    specs: dict[str, str] = {}
    logs: dict[str, Path] = {}
    for key, script in models.items():
        doc = _script_doc(script, key)
        doc.setdefault("own_turns", True)
        stem = _SAFE.sub("_", key)
        log = run_dir / f"{stem}.calls.jsonl"
        doc.setdefault("call_log", str(log))
        path = run_dir / f"{stem}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        specs[key] = f"scripted:{path}"
        logs[key] = log
    unscripted: Path | None = None
    if DEFAULT not in specs:
        unscripted = run_dir / "unscripted.calls.jsonl"
        path = run_dir / "unscripted.yaml"
        doc = {"own_turns": True, "turns": [], "final_text": UNSCRIPTED_TEXT, "call_log": str(unscripted)}
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        specs[DEFAULT] = f"scripted:{path}"
    used = _rewrite(copy, workflow, specs)
    unused = sorted(set(specs) - used - {DEFAULT})
    if unused:
        raise ScenarioSetupError(
            f"models.{unused[0]}: no node of workflow {workflow} (or of the workflows it runs) calls a model by"
            f" that {'preset' if unused[0].startswith(PRESET) else 'id'}"
        )
    return Models(default=specs[DEFAULT], unscripted_log=unscripted, logs=logs)


def _rewrite(copy: Path, workflow: str, specs: dict[str, str]) -> set[str]:
    """Set `model` on every scripted node of `workflow` and of the workflows it runs; the keys used."""
    used: set[str] = set()
    seen: set[str] = set()
    pending = [workflow]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        text = _source_text(copy, name)
        if text is None:
            continue  # the engine says what is wrong with a workflow it cannot find
        doc = yaml.safe_load(text)
        if not isinstance(doc, dict):
            continue
        changed = False
        for node in _nodes(doc.get("nodes")):
            if node.get("type") == "workflow" and isinstance(node.get("workflow"), str):
                pending.append(node["workflow"])
            node_id = node.get("id")
            runs = _run_specs(specs, node_id)
            if runs:
                if node.get("type") != "workflow":
                    kind = node.get("type")
                    raise ScenarioSetupError(
                        f"models.{node_id}[…]: node {node_id} of workflow {name} is a {kind} node, not a workflow node"
                        " with runs"
                    )
                node["models"] = [specs.get(f"{node_id}[{i}]", specs[DEFAULT]) for i in range(max(runs) + 1)]
                used.update(f"{node_id}[{i}]" for i in runs)
                changed = True
                continue
            if node_id in specs and node.get("type") not in MODEL_KINDS:
                kind = node.get("type")
                raise ScenarioSetupError(
                    f"models.{node_id}: node {node_id} of workflow {name} is a {kind} node: no model"
                )
            if node.get("type") not in MODEL_KINDS:
                continue
            key = node_id if node_id in specs else f"{PRESET}{node.get('preset')}"
            if key in specs and (key != f"{PRESET}None"):
                node["model"] = specs[key]
                used.add(key)
                changed = True
        if changed:
            target = copy / ".reliant" / "workflows" / f"{name}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return used


def _run_specs(specs: dict[str, str], node_id: Any) -> list[int]:
    """The runs of `node_id` that have scripts (`<id>[i]` keys)."""
    found = []
    for key in specs:
        match = _RUN_KEY.match(key)
        if match is not None and match.group(1) == node_id:
            found.append(int(match.group(2)))
    return sorted(found)


def calls(log: Path | None) -> int:
    """How many model calls a script's call log records."""
    if log is None or not log.is_file():
        return 0
    return sum(1 for line in log.read_text(encoding="utf-8").splitlines() if line.strip())
