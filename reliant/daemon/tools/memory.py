"""The daemon's memory of recent tool executions, keyed by (chat_id, tool_call_id).

A worker that lost its answer (gateway restart, activity retry) asks again with the same id; the
daemon then attaches it to the execution still running, or returns the remembered result, instead of
running the tool twice. Running executions are always kept; finished ones are forgotten when they
are older than `max_age` seconds or when more than `max_entries` are held (least recently used first).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from reliant.domain.tools import ToolResult

ExecutionKey = tuple[str, str]  # (chat_id, tool_call_id)


@dataclass(eq=False, slots=True)
class Execution:
    tool: str
    task: asyncio.Task[ToolResult]
    # Settled exactly once with the result every caller (the first and any attached) receives.
    outcome: asyncio.Future[ToolResult]
    started: float
    finished_at: float | None = None
    # Why it was cancelled, for the INTERRUPTED result.
    interrupt_reason: str = ""

    @property
    def running(self) -> bool:
        return self.finished_at is None


class ExecutionMemory:
    def __init__(
        self,
        max_entries: int = 2000,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_age = max_age
        self._clock = clock
        self._entries: OrderedDict[ExecutionKey, Execution] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: ExecutionKey) -> Execution | None:
        self.prune()
        execution = self._entries.get(key)
        if execution is not None:
            self._entries.move_to_end(key)
        return execution

    def add(self, key: ExecutionKey, execution: Execution) -> None:
        self._entries[key] = execution
        self._entries.move_to_end(key)
        self.prune()

    def finished(self, execution: Execution) -> None:
        execution.finished_at = self._clock()
        self.prune()

    def running(self) -> list[Execution]:
        return [e for e in self._entries.values() if e.running]

    def prune(self) -> None:
        now = self._clock()
        expired = [
            key for key, e in self._entries.items() if e.finished_at is not None and now - e.finished_at > self.max_age
        ]
        for key in expired:
            del self._entries[key]
        if len(self._entries) > self.max_entries:
            # Least recently used first; a running execution is never forgotten.
            excess = len(self._entries) - self.max_entries
            for key in [k for k, e in self._entries.items() if not e.running][:excess]:
                del self._entries[key]
