"""Runs tool calls on the daemon: validates input, confines to a workspace, returns results.

Every failure becomes a ToolResult the model can read; nothing a tool does can raise out of here.

Each call runs at most once per (chat_id, tool_call_id) while the daemon remembers it (see
memory.py): a repeated request attaches to the running execution or gets the remembered result
with `replayed=True`; a `resume_only` request for a call the daemon does not know gets UNKNOWN and
runs nothing. One exception: a call refused because its project's files are not trusted now ran
nothing, so a new (not `resume_only`) request for it is checked and run afresh; the worker sends one
only after the user resumed the run it paused for that refusal. An execution belongs to the host,
not to the request that started it: a request that goes away (gateway restart) leaves the tool
running for the retry to attach to. `cancel` stops it and its result is INTERRUPTED. A request
with `wait` gets RUNNING if the call is still running after that many seconds (the caller asks
again, attaching). Every answer names this daemon run (`boot_id`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from reliant.daemon.processes import BackgroundProcesses
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolProvider, ToolSpec
from reliant.daemon.tools.memory import Execution, ExecutionKey, ExecutionMemory
from reliant.daemon.tools.reads import READS_FILE, ReadTracker
from reliant.daemon.workspaces import Workspaces
from reliant.domain.chat import ToolDefinition
from reliant.domain.schema_errors import in_words
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus, refused_untrusted

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONCURRENT = 16


class ToolHost:
    def __init__(
        self,
        daemon_id: str,
        tools: Iterable[ToolSpec],
        workspaces: Iterable[Path] = (),
        *,
        workspace_file: Path | None = None,
        data_dirs: Iterable[Path] = (),
        workspace_roots: Iterable[Path] = (),
        data_dir: Path | None = None,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT,
        memory: ExecutionMemory | None = None,
        provider: ToolProvider | None = None,
        processes: BackgroundProcesses | None = None,
        project_refusal: Callable[[Path], Awaitable[str]] | None = None,
    ) -> None:
        self.daemon_id = daemon_id
        self.tools = {t.name: t for t in tools}
        self._validators: dict[str, Any] = {}  # jsonschema validators, made (and imported) on first use
        self._workspaces = Workspaces(workspaces, workspace_file, data_dirs=data_dirs, roots=workspace_roots)
        self.memory = memory if memory is not None else ExecutionMemory()
        # Kept in the data dir (when there is one): what chats have read survives a restart.
        self.reads = ReadTracker(path=data_dir / READS_FILE if data_dir is not None else None)
        self.provider = provider
        self.processes = processes if processes is not None else BackgroundProcesses()
        self.project_refusal = project_refusal
        self.boot_id = self.processes.boot_id  # this daemon run
        self.max_concurrent = max_concurrent
        self._slots = asyncio.Semaphore(max_concurrent)

    # -- workspaces -------------------------------------------------------------------------------

    @property
    def workspaces(self) -> list[Path]:
        return self._workspaces.paths

    def start(self) -> None:
        """Load the workspaces added (and persisted) by earlier runs."""
        self._workspaces.load()

    def add_workspace(self, path: str | Path) -> Path:
        """Register an existing directory; raises WorkspaceError. The caller announces the change."""
        return self._workspaces.add(path)

    def remove_workspace(self, path: str | Path) -> Path | None:
        """Stop serving an added workspace; raises WorkspaceError. The caller announces the change."""
        return self._workspaces.remove(path)

    def workspace_for(self, requested: str) -> Path | None:
        return self._workspaces.find(requested)

    # -- tools ------------------------------------------------------------------------------------

    def definitions(self) -> list[ToolDefinition]:
        """The built-in tools offered to the model (diagnostics such as ping are left out)."""
        return [
            ToolDefinition(t.name, t.description, t.input_schema, t.read_only) for t in self.tools.values() if t.offered
        ]

    async def offered(self, workspace: str = "") -> tuple[list[ToolDefinition], bool]:
        """The tools offered to the model for a call in `workspace`: the built-in ones, then those
        of the workspace's MCP servers; and False when some servers are still starting."""
        tools = self.definitions()
        path = self.workspace_for(workspace)
        if self.provider is None or path is None:
            return tools, True
        extra, complete = await self.provider.definitions(path)
        return tools + [t for t in extra if t.name not in self.tools], complete

    async def execute(self, call: ToolCall) -> ToolResult:
        return dataclasses.replace(await self._execute(call), boot_id=self.boot_id)

    async def _execute(self, call: ToolCall) -> ToolResult:
        key: ExecutionKey = (call.chat_id, call.tool_call_id)
        known = self.memory.get(key)
        if known is not None and not call.resume_only and _refused_untrusted(known):
            known = None  # it started nothing: a new request (the user trusted and resumed) asks again
        if known is not None:
            if known.tool != call.tool:
                return ToolResult(
                    call.tool_call_id,
                    ToolStatus.ERROR,
                    error=f"tool call id {call.tool_call_id} was already used for {known.tool}",
                )
            return dataclasses.replace(await self._outcome(call, known), replayed=True)
        if call.resume_only:
            return ToolResult(call.tool_call_id, ToolStatus.UNKNOWN, error="this daemon has no record of the tool call")
        task = asyncio.create_task(self._run(call), name=f"tool-{call.tool}-{call.tool_call_id}")
        execution = Execution(call.tool, task, asyncio.get_running_loop().create_future(), time.perf_counter())
        task.add_done_callback(functools.partial(self._settle, call, execution))
        self.memory.add(key, execution)
        return await self._outcome(call, execution)

    async def _outcome(self, call: ToolCall, execution: Execution) -> ToolResult:
        """The execution's result; RUNNING if the request's `wait` ran out first (it runs on)."""
        if call.wait <= 0:
            return await asyncio.shield(execution.outcome)
        try:
            return await asyncio.wait_for(asyncio.shield(execution.outcome), call.wait)
        except TimeoutError:
            return ToolResult(call.tool_call_id, ToolStatus.RUNNING)

    async def cancel(self, chat_id: str, tool_call_id: str, reason: str = "cancelled") -> bool:
        """Stop a running execution (a shell's whole process group) and wait until it has stopped;
        its result is INTERRUPTED. False if no such execution is running."""
        known = self.memory.get((chat_id, tool_call_id))
        if known is None or not known.running:
            return False
        known.interrupt_reason = reason
        cancelled = known.task.cancel()  # False if it finished a moment ago
        await asyncio.shield(known.outcome)
        return cancelled

    async def shutdown(self) -> None:
        """Cancel every running execution and wait for them to stop; then stop the background
        processes and the MCP servers."""
        running = self.memory.running()
        for execution in running:
            execution.interrupt_reason = "the daemon shut down while the tool was running"
            execution.task.cancel()
        await asyncio.gather(*(asyncio.shield(e.outcome) for e in running), return_exceptions=True)
        await self.processes.shutdown()
        if self.provider is not None:
            await self.provider.shutdown()
        self.reads.close()

    def _settle(self, call: ToolCall, execution: Execution, task: asyncio.Task[ToolResult]) -> None:
        if task.cancelled():
            result = ToolResult(
                call.tool_call_id,
                ToolStatus.INTERRUPTED,
                error=execution.interrupt_reason or "cancelled",
                duration_ms=(time.perf_counter() - execution.started) * 1000,
            )
        elif (exc := task.exception()) is not None:  # _run catches everything; this is a last resort
            result = ToolResult(call.tool_call_id, ToolStatus.ERROR, error=f"daemon error: {exc}")
        else:
            result = task.result()
        execution.outcome.set_result(result)
        self.memory.finished(execution)

    async def _run(self, call: ToolCall) -> ToolResult:
        async with self._slots:
            started = time.perf_counter()

            def result(status: ToolStatus, out: ToolOutput | None = None, error: str = "") -> ToolResult:
                return ToolResult(
                    tool_call_id=call.tool_call_id,
                    status=status,
                    output=out.output if out else "",
                    data=out.data if out else {},
                    error=error or (out.error if out else ""),
                    duration_ms=(time.perf_counter() - started) * 1000,
                )

            workspace = self.workspace_for(call.workspace)
            spec = self.tools.get(call.tool)
            dynamic = False
            if spec is None and self.provider is not None:
                try:
                    spec = await self.provider.resolve(call.tool, workspace)
                except ToolFailure as exc:
                    return result(ToolStatus.ERROR, error=exc.message)
                dynamic = spec is not None
            if spec is None:
                return result(
                    ToolStatus.ERROR,
                    error=f"unknown tool {call.tool!r}; available: {', '.join(sorted(self.tools))}",
                )
            problems = self._problems(spec, call.input, cache=not dynamic)
            if problems:
                return result(ToolStatus.ERROR, error=f"invalid input for {spec.name}: {problems}")
            if spec.needs_workspace and workspace is None:
                return result(
                    ToolStatus.ERROR,
                    error=f"workspace {call.workspace or '(none)'} is not registered on daemon {self.daemon_id}",
                )
            ctx = ToolContext(
                self.daemon_id,
                workspace,
                call.chat_id,
                call.tool_call_id,
                call.timeout,
                self.reads,
                self.processes,
                self.project_refusal,
            )
            try:
                out = await spec.run(ctx, call.input)
            except asyncio.CancelledError:
                raise
            except ToolFailure as exc:
                return result(ToolStatus.ERROR, ToolOutput(data=exc.data, error=exc.message))
            except Exception as exc:
                logger.exception("tool %s failed", spec.name)
                return result(ToolStatus.ERROR, error=f"{spec.name} failed: {type(exc).__name__}: {exc}")
            return result(ToolStatus.ERROR if out.error else ToolStatus.OK, out)

    def _problems(self, spec: ToolSpec, args: dict[str, Any], *, cache: bool) -> str:
        """What is wrong with `args` for `spec` ("" if nothing). A schema that cannot be used (an
        MCP server's, say) validates nothing rather than failing the call."""
        import jsonschema  # on first use: it is a sizeable import for every daemon start

        validator = self._validators.get(spec.name) if cache else None
        try:
            if validator is None:
                validator = jsonschema.Draft202012Validator(spec.input_schema)
                if cache:
                    self._validators[spec.name] = validator
            problems = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
        except (jsonschema.SchemaError, jsonschema.exceptions.UnknownType, TypeError, ValueError) as exc:
            logger.debug("cannot validate input for %s: %s", spec.name, exc)
            return ""
        return in_words(problems)


def _refused_untrusted(execution: Execution) -> bool:
    """Whether `execution` ended refused for an untrusted project (so nothing of it ran)."""
    return execution.outcome.done() and refused_untrusted(execution.outcome.result())
