"""Where every node sits in a definition: its path, its scope, the loops around it.

A scope is one graph: the top graph (""), a loop's body (the loop's path) or a parallel branch
(`<parallel path>/<branch>`). A node's path is its scope and its id: `fix/check` is the node `check`
in the body of the loop `fix`. Paths are structural (no iteration numbers): a run keeps only the
current iteration of a loop, so one path names one node's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.engine.definition import Definition, Edge, Graph, LoopNode, Node, ParallelNode, subgraphs


def join_path(scope: str, name: str) -> str:
    return f"{scope}/{name}" if scope else name


@dataclass(frozen=True, slots=True)
class Site:
    node: Node
    path: str
    scope: str


@dataclass(frozen=True, slots=True)
class Scope:
    path: str
    graph: Graph
    owner: str | None  # the path of the loop or parallel node that holds it; None for the top
    branch: str = ""  # the branch id, in a parallel node
    parent: str | None = None  # the scope the owner sits in; None for the top


class Layout:
    """The index of a definition, built once: sites by path and by id, scopes by path."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self.sites: dict[str, Site] = {}
        self.by_id: dict[str, Site] = {}
        self.scopes: dict[str, Scope] = {"": Scope("", definition.graph, None)}
        self._add(definition.graph, "")
        self._edges = {
            join_path(scope, edge.source): edge
            for scope, info in reversed(self.scopes.items())
            for edge in reversed(info.graph.edges)
        }  # the first edge entry from a node wins, as the validator reports a second one
        self._in_scope = {
            scope: [self.sites[join_path(scope, n.id)] for n in info.graph.nodes] for scope, info in self.scopes.items()
        }

    def _add(self, graph: Graph, scope: str) -> None:
        for node in graph.nodes:
            path = join_path(scope, node.id)
            site = Site(node, path, scope)
            self.sites.setdefault(path, site)
            self.by_id.setdefault(node.id, site)
            for name, sub in subgraphs(node):
                inner = join_path(scope, name)
                branch = name.rsplit("/", 1)[1] if isinstance(node, ParallelNode) else ""
                self.scopes[inner] = Scope(inner, sub, path, branch, scope)
                self._add(sub, inner)

    def chain(self, scope: str) -> list[str]:
        """`scope` and the scopes around it, innermost first, ending with the top ("")."""
        out = [scope]
        while (parent := self.scopes[out[-1]].parent) is not None:
            out.append(parent)
        return out

    def owners(self, scope: str) -> list[str]:
        """The paths of the containers `scope` is inside, innermost first."""
        return [owner for s in self.chain(scope) if (owner := self.scopes[s].owner) is not None]

    def loop_of(self, scope: str) -> str | None:
        """The innermost loop whose body is `scope` or holds it: the loop `iter` means there."""
        for s in self.chain(scope):
            owner = self.scopes[s].owner
            if owner is not None and isinstance(self.sites[owner].node, LoopNode):
                return owner
        return None

    def edge_from(self, path: str) -> Edge | None:
        """The edge entry leaving the node at `path`."""
        return self._edges.get(path)

    def in_scope(self, scope: str) -> list[Site]:
        """The sites of a scope's own nodes (not those inside its loops and parallel nodes)."""
        return self._in_scope[scope]

    def within(self, path: str) -> list[str]:
        """Every node path strictly inside the container at `path`."""
        prefix = path + "/"
        return [p for p in self.sites if p.startswith(prefix)]
