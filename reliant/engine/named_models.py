"""The models a definition's nodes name literally: what the api checks before a chat runs a workflow,
and a worker before the model spawns one as an agent, so that a model without its provider's key is
refused where the workflow is chosen rather than pausing the run at that node's first call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from reliant.engine.definition import AgentNode, CallLlmNode, CompactNode, Definition, Node, WorkflowNode
from reliant.engine.expressions import Template
from reliant.engine.validate import Catalog


@dataclass(frozen=True, slots=True)
class NamedModel:
    """A model a workflow's node calls, as the definition gives it literally."""

    where: str  # node `review` (preset `reviewer`), workflow solve's node `work`
    spec: str


def named_models(definition: Definition, catalog: Catalog) -> tuple[NamedModel, ...]:
    """The models the definition's nodes name literally (a `model:`, their preset's, a `workflow`
    node's `models:`), those of the workflows it runs included. A templated one is left out: only
    the run knows its value."""
    found: list[NamedModel] = []
    seen: set[str] = set()
    todo: list[tuple[Definition, str]] = [(definition, "")]
    while todo:
        current, via = todo.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        for _, node in current.walk():
            named = _node_models(node, current, catalog)
            found.extend(NamedModel(f"{via}node `{node.id}`{how}", spec) for spec, how in named)
            child = (catalog.workflows or {}).get(node.workflow) if isinstance(node, WorkflowNode) else None
            if child is not None:
                todo.append((child, f"workflow {child.name}'s "))
    return tuple(found)


def _node_models(node: Node, definition: Definition, catalog: Catalog) -> Iterator[tuple[str, str]]:
    """(spec, how the node names it) of each model the node names literally."""
    if isinstance(node, CallLlmNode | AgentNode):
        if node.llm.model is not None:
            yield from _literal(node.llm.model, "")
        elif node.llm.preset:
            preset = definition.presets.get(node.llm.preset) or catalog.presets.get(node.llm.preset)
            if preset is not None and preset.settings.model is not None:
                yield from _literal(preset.settings.model, f" (preset `{preset.name}`)")
    elif isinstance(node, CompactNode) and node.model is not None:
        yield from _literal(node.model, "")
    elif isinstance(node, WorkflowNode):
        for models in node.models:
            yield from _literal(models, " (models)", several=True)


def _literal(template: Template, how: str, *, several: bool = False) -> Iterator[tuple[str, str]]:
    """The spec of a field without an expression (`several`: specs separated by commas)."""
    if not template.expressions():
        specs = template.text.split(",") if several else [template.text]
        yield from ((spec.strip(), how) for spec in specs if spec.strip())
