"""The state of one run: plain dataclasses that Temporal's data converter carries across
continue-as-new. Bounded: a loop keeps its current iteration and the outputs of the previous one,
never the whole history, so a 2,000-iteration loop holds as much as a two-iteration one."""

# No `from __future__ import annotations`: Temporal's data converter resolves these dataclasses'
# field types, and string annotations fail to resolve inside the workflow sandbox when this module
# was imported only as part of the package.

import enum
from dataclasses import dataclass, field
from typing import Any


class NodeStatus(enum.StrEnum):
    WAITING = "waiting"  # not reached (yet)
    READY = "ready"  # reached; its task has not been handed out
    RUNNING = "running"  # handed out (a task), or driving its body or branches (loop, parallel)
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # its graph ended without reaching it
    CANCELLED = "cancelled"  # stopped while running (a join met without it, a failure elsewhere)


ACTIVE = (NodeStatus.READY, NodeStatus.RUNNING)


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class ChatInfo:
    """What `chat.*` reads. The interpreter fills it and may update it (the mode changes)."""

    id: str = ""
    mode: str = "auto"
    model: str = ""
    project: str = ""


@dataclass
class NodeState:
    status: NodeStatus = NodeStatus.WAITING
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    # loop: the iteration running (0-based; when done, how many ran), its bound, and the outputs of
    # the previous iteration's nodes by id (what `iter.previous` reads)
    iteration: int = 0
    max_iterations: int = 0
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    # parallel: branch ids, in the order they finished or failed
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass
class RunState:
    inputs: dict[str, Any] = field(default_factory=dict)
    chat: ChatInfo = field(default_factory=ChatInfo)
    nodes: dict[str, NodeState] = field(default_factory=dict)  # by path; a node not here is waiting
    status: RunStatus = RunStatus.RUNNING
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
