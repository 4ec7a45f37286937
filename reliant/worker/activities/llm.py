"""call_llm: one model turn. Admits the user message it answers, streams the answer as updates,
and stores the finished assistant message keyed by (chat, step) before returning, so a retried
attempt that finds it returns it without calling (and paying for) the model again.

A workflow node's call names its step (`<run>/<thread>:<node instance>#<call>`) and thread, and may
add a prompt, choose the model, tools and instructions, and ask for an answer in a given shape
(llm_options.py). Chats from before workflows name only the turn: their step is `turn:<n>`."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from reliant.clients.daemons import ToolCatalog
from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import Change, LiveAnswer, UpdateLog
from reliant.db import Database
from reliant.db import agents as agents_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import model_steps as model_steps_db
from reliant.db import threads as threads_db
from reliant.db import tool_runs as tool_runs_db
from reliant.db import worktrees as worktrees_db
from reliant.domain import update_kinds as kinds
from reliant.domain.agents import AGENT_TOOLS
from reliant.domain.chat import (
    FINAL_TOOL_STATES,
    MAIN_THREAD,
    BlockType,
    ChatInfo,
    ChatStatus,
    ContentBlock,
    Project,
    Role,
    StoredMessage,
    Thread,
    ToolDefinition,
    ToolRun,
    ToolState,
    Usage,
)
from reliant.domain.tools import invalid_arguments_error
from reliant.domain.workflows import ASK_USER_TOOL, ToolCallRef
from reliant.errors import DaemonUnavailableError
from reliant.llm import classify
from reliant.llm.base import BlockDelta, BlockStart, LlmRequest, StreamEvent
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError
from reliant.llm.pricing import usage_to_price
from reliant.llm.registry import parse_model
from reliant.llm.script import check_script_place
from reliant.redaction import redact
from reliant.wire.payloads import agent_payload, message_payload, tool_run_payload, tool_started_payload
from reliant.worker import agent_tools, ask_user
from reliant.worker.activities import llm_options
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import (
    BUDGET_REACHED,
    CHAT_GONE,
    CONTEXT_TOO_LONG,
    DAEMON_OFFLINE,
    FATAL_LLM,
    RETRYABLE_LLM,
    TURN_ABORTED,
    CallLlmInput,
    CallLlmResult,
)
from reliant.worker.budget import Refusal, Spending, Terms, call_cost
from reliant.worker.chat_context import ChatContexts
from reliant.worker.prompts import SystemPrompt, build_system_prompt
from reliant.worker.transcript import model_messages, tool_result_blocks

logger = logging.getLogger(__name__)

T = TypeVar("T")

HEARTBEAT_EVERY = 0.5
DAEMON_TRIES = 3
MAX_BACKOFF = 60.0  # our own backoff between attempts when the provider names no wait: 1, 2, 4 ... 60 s
MAX_RETRY_AFTER = 15 * 60.0  # the longest Retry-After honoured; a provider asking for more waits this long


def retry_delay(*, retry_after: float | None, attempt: int) -> float:
    """Seconds before the next attempt: the provider's Retry-After (up to 15 minutes), else our backoff."""
    if retry_after is not None:
        return min(MAX_RETRY_AFTER, retry_after)
    return min(MAX_BACKOFF, 2.0 ** (attempt - 1))


def chat_gone(chat_id: str) -> ApplicationError:
    return ApplicationError(f"chat {chat_id} no longer exists", type=CHAT_GONE, non_retryable=True)


class ReadRunner(Protocol):
    """Runs read-only tool calls of a stored answer, recorded executing (ToolActivities.run_reads)."""

    async def run_reads(
        self, chat_id: str, runs: Sequence[ToolRun], daemon_id: str, workspace: str, answer: StoredMessage
    ) -> dict[str, str]: ...


class LlmActivities:
    def __init__(
        self,
        db: Database,
        log: UpdateLog,
        providers: ProviderPool,
        catalog: ToolCatalog,
        contexts: ChatContexts,
        *,
        thinking_budget: int = 0,
        data_dir: Path | None = None,
        spending: Spending | None = None,
        reads: ReadRunner | None = None,
    ) -> None:
        self.thinking_budget = thinking_budget
        self.data_dir = data_dir  # with the chat's project: where its scripted model may be
        self.db = db
        self.log = log
        self.providers = providers
        self.catalog = catalog
        self.contexts = contexts
        self.spending = spending  # prices and budgets (None: the price table, no budget)
        self.reads = reads  # runs an answer's leading reads when the call asks (None: never)

    @activity.defn(name="call_llm")
    async def call_llm(self, inp: CallLlmInput) -> CallLlmResult:
        # Heartbeats for the whole attempt, not only while the model streams: an attempt waiting on
        # a slow Postgres (to store its answer, say) is alive, and Temporal must not start a second
        # one that pays the model for the same turn.
        beating = asyncio.create_task(_heartbeat(), name=f"heartbeat:{inp.chat_id}")
        try:
            return await self._call_llm(inp)
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

    async def _call_llm(self, inp: CallLlmInput) -> CallLlmResult:
        step = inp.step or messages_db.legacy_step(inp.turn)
        # What the call reads before it writes anything, and its turn: asked side by side (the
        # wait of one round trip, not of five). The chat is looked at first: gone, it says so.
        found, thread, turn, stored, worktree, noted = await asyncio.gather(
            chats_db.get_with_project(self.db, inp.chat_id),
            self._thread(inp.chat_id, inp.thread_id),
            _value(inp.turn) if inp.turn else model_steps_db.turn_for(self.db, inp.chat_id, step),
            messages_db.for_step(self.db, inp.chat_id, step, Role.ASSISTANT),
            _value(None) if inp.workspace else worktrees_db.active_for_chat(self.db, inp.chat_id),
            self._notes_waiting(inp),
            return_exceptions=True,
        )
        if found is None:
            raise chat_gone(inp.chat_id)
        chat, project = _ok(found)
        thread, turn, stored, worktree, noted = _ok(thread), _ok(turn), _ok(stored), _ok(worktree), _ok(noted)
        if inp.admit_message_id:
            await self._admit(chat, inp.admit_message_id)
        if stored is not None:
            if inp.prompt:
                await self._prompt(chat, thread, step, inp.prompt)
            return await self._finish(chat, stored, inp, replayed=True)
        # The results of the thread's last answer come right after it, before this call's prompt:
        # a tool call must be followed by its result.
        transcript = await settle_tool_results(
            self.db,
            self.log,
            chat.id,
            await messages_db.thread_transcript(self.db, thread),
            # A workflow that went on without running an answer's calls: the model is told.
            interrupt_reason="not run: the workflow went on without running it" if inp.step else "",
            thread_id=thread.id,
        )
        if inp.prompt and (prompted := await self._prompt(chat, thread, step, inp.prompt)) is not None:
            transcript = [*transcript, prompted]
        if noted:  # what the agent's spawner sent it meanwhile (message_agent)
            transcript = await self._notes(chat, thread, inp.agent_id, transcript)
        # Scripts may be read from the chat's project (and its worktree) or the data dir.
        places = [Path(project.path), *([self.data_dir] if self.data_dir else [])]
        if inp.workspace:  # a sub-agent in its own worktree
            project = dataclasses.replace(project, path=inp.workspace)
        elif worktree is not None:  # the chat's own git worktree (the demo project's chats each have one)
            project = dataclasses.replace(project, path=worktree.path)
        places.append(Path(project.path))
        tools = (*await self._tools(project.daemon_id, project.path), ask_user.DEFINITION)
        if inp.agents:
            tools = (*tools, *agent_tools.DEFINITIONS)
        tools = llm_options.chosen(tools, inp.tools, inp.mode)
        if inp.response is not None:
            tools = (*tools, llm_options.respond_tool(inp.response))
        model_spec = inp.model or chat.model
        try:
            # The model may come from settings or a workflow input, not only through the api.
            parsed = parse_model(model_spec)
            if parsed.provider == "scripted":
                check_script_place(parsed.model, places)
            provider, model = (await self.providers.providers()).get(parsed)
        except LlmError as exc:
            raise ApplicationError(redact(str(exc)), type=FATAL_LLM, non_retryable=True) from None
        # The budget's verdict and the system prompt (each a few reads) side by side.
        checked, prompt = await asyncio.gather(
            self._check(chat, model_spec, thread, transcript),
            self._system_prompt(chat, project, transcript, inp.mode, inp.system, thread_id=thread.id),
            return_exceptions=True,
        )
        terms, refusal = _ok(checked)
        if refusal is not None:  # not made: the run pauses until the budget is raised and resumed
            raise ApplicationError(
                str(refusal), type=BUDGET_REACHED, non_retryable=True, category=ApplicationErrorCategory.BENIGN
            )
        prompt = _ok(prompt)
        request = LlmRequest(
            model=model,
            system=prompt.stable,
            context=prompt.context,
            messages=model_messages(transcript),
            tools=tools,
            thinking_budget=self.thinking_budget,
            temperature=inp.temperature,
        )
        attempt = activity.info().attempt
        answer = LiveAnswer(
            self.log.bus,
            chat.id,
            message_id=str(uuid.uuid4()),
            turn=turn,
            attempt=attempt,
            model=model_spec,
            # A workflow node's call also names its step and thread.
            where={"step": step, "thread_id": thread.id} if inp.step else None,
        )

        async def on_event(event: StreamEvent) -> None:
            if isinstance(event, BlockStart):
                answer.block_started(
                    event.index, event.type.value, tool_call_id=event.tool_call_id, tool_name=event.tool_name
                )
            elif isinstance(event, BlockDelta) and event.type is not BlockType.TOOL_CALL:
                answer.delta(event.index, event.type.value, event.text)

        try:
            response = await provider.stream(request, on_event)
        except RetryableLlmError as exc:
            await answer.close()
            await self._record_spent(
                chat.id, thread.id, f"{step}:failed:{answer.message_id}", model_spec, exc.usage, terms=terms
            )
            delay = retry_delay(retry_after=exc.retry_after, attempt=attempt)
            reason = redact(str(exc))
            logger.warning("chat %s turn %d: %s (retry in %gs, attempt %d)", chat.id, turn, reason, delay, attempt)
            logger.debug("chat %s turn %d: the provider error in full", chat.id, turn, exc_info=exc)
            await self.log.emit(
                chat.id, kinds.RETRY_WAIT, {"seconds": round(delay, 3), "attempt": attempt, "reason": reason}
            )
            # An expected failure: one line above, not the SDK's traceback (BENIGN is logged at debug),
            # and no exception chain in Temporal's history (`from None`): it may echo the request.
            raise ApplicationError(
                reason,
                type=RETRYABLE_LLM,
                next_retry_delay=timedelta(seconds=delay),
                category=ApplicationErrorCategory.BENIGN,
            ) from None
        except FatalLlmError as exc:
            await answer.close()
            await self._record_spent(
                chat.id, thread.id, f"{step}:failed:{answer.message_id}", model_spec, exc.usage, terms=terms
            )
            reason = redact(str(exc))
            # Too long for the model's window: the workflow compacts the thread and asks again.
            too_long = exc.kind == classify.CONTEXT_TOO_LONG
            then = "the thread is compacted" if too_long else "the chat pauses"
            logger.warning("chat %s turn %d: %s (%s)", chat.id, turn, reason, then)
            logger.debug("chat %s turn %d: the provider error in full", chat.id, turn, exc_info=exc)
            kind = CONTEXT_TOO_LONG if too_long else FATAL_LLM
            raise ApplicationError(
                reason, type=kind, non_retryable=True, category=ApplicationErrorCategory.BENIGN
            ) from None
        except BaseException:
            await answer.abort()
            raise

        # Stored in the live tail before the answer's message_completed; meanwhile, what it cost.
        cost_usd, closed = await asyncio.gather(
            call_cost(self.spending, model_spec, usage_to_price(request, response), terms),
            answer.close(),
            return_exceptions=True,
        )
        _ok(closed)
        cost_usd = _ok(cost_usd)
        read_only = {t.name: t.read_only for t in tools}
        main = thread.key == MAIN_THREAD
        calls: list[ToolCallRef] = []
        reads: list[ToolRun] = []
        async with self.log.change(chat.id) as change:
            message, created = await messages_db.store_turn(
                change.tx,
                chat.id,
                turn=turn,
                role=Role.ASSISTANT,
                blocks=response.blocks,
                model=model_spec,
                usage=response.usage,
                cost_usd=cost_usd,
                stop_reason=response.stop_reason,
                output_limit=response.output_limit,
                step=step,
                thread_id=thread.id,
            )
            if created:
                blocks = message.tool_calls_blocks()
                keys = await tool_runs_db.unused_keys(
                    change.tx, chat.id, turn, [tool_runs_db.call_key(b.tool_call_id, thread.id, main) for b in blocks]
                )
                planned = [
                    tool_runs_db.PlannedCall(
                        b.tool_call_id, b.tool_name, b.tool_input, read_only.get(b.tool_name, False), i, key=key
                    )
                    for i, (b, key) in enumerate(zip(blocks, keys, strict=True))
                ]
                await tool_runs_db.plan(change.tx, chat.id, turn, planned, thread_id=thread.id)
                failed: ToolRun | None = None
                for call in planned:  # the response tool's arguments are the answer: nothing to run
                    if call.tool_name != llm_options.RESPOND_TOOL or inp.response is None:
                        continue
                    if invalid := invalid_arguments_error(call.tool_name, call.input):  # no answer: the model is told
                        failed = await tool_runs_db.finish(
                            change.tx, chat.id, call.key, state=ToolState.FAILED, error=invalid
                        )
                        if failed is not None:
                            change.emit(kinds.TOOL_FINISHED, tool_run_payload(failed))
                    else:
                        await tool_runs_db.finish_now(change.tx, chat.id, call.key, output=llm_options.RESPOND_RESULT)
                change.emit(kinds.MESSAGE_COMPLETED, {"message": message_payload(message)})
                if failed is not None:  # its result follows the answer, before the node asks again
                    await store_results_once_all_ended(change, chat.id, failed)
                if inp.agent_id:  # a sub-agent's cost and tokens grew: the clients' trees follow
                    agent = await agents_db.get(change.tx, inp.agent_id)
                    if agent is not None:
                        change.emit(kinds.AGENT_STATUS, agent_payload(agent))
                calls = [
                    ToolCallRef(c.key, c.tool_name, c.read_only, invalid_arguments_error(c.tool_name, c.input))
                    for c in planned
                    if not (c.tool_name == llm_options.RESPOND_TOOL and inp.response is not None)
                ]
                if inp.run_reads and self.reads is not None:
                    # The answer's leading reads start in the commit that stores it, and run once
                    # it is done (below): a retry finds the answer stored (the model is never paid
                    # twice) and the reads ended, or executing (execute_tool runs them again: they
                    # change nothing).
                    for read in _leading_reads(calls):
                        begun = await tool_runs_db.begin(change.tx, chat.id, read.tool_call_id)
                        if begun is not None:
                            change.emit(kinds.TOOL_STARTED, tool_started_payload(begun))
                            reads.append(begun)
        if not created:
            return await self._finish(chat, message, inp, replayed=True)
        settled: dict[str, str] = {}
        if reads and self.reads is not None:
            settled = await self.reads.run_reads(chat.id, reads, project.daemon_id, project.path, message)
        return await self._done(chat, message, inp, calls, replayed=False, settled=settled)

    async def _notes_waiting(self, inp: CallLlmInput) -> bool:
        """Send the nodes' states the workflow handed over; True if notes wait for the agent (the
        common case, none, costs one read and no transaction)."""
        noted, _ = await asyncio.gather(
            agents_db.has_notes(self.db, inp.agent_id) if inp.agent_id else _value(False),
            emit_notes(self.log, inp.chat_id, inp.notes),
        )
        return noted

    async def _record_spent(
        self, chat_id: str, thread_id: str, step: str, model_spec: str, usage: Usage, *, terms: Terms | None
    ) -> None:
        """What a call that ended in an error spent, as its stream reported (nothing: nothing to
        record): paid for, although nothing of it is kept, so the budgets count it. `step` names the
        attempt (each attempt's call is paid for once: its own row)."""
        if usage == Usage():
            return
        cost_usd = await call_cost(self.spending, model_spec, usage, terms)
        await messages_db.record_spent(
            self.db, chat_id, step=step, thread_id=thread_id, model=model_spec, usage=usage, cost_usd=cost_usd
        )

    async def _check(
        self, chat: ChatInfo, model_spec: str, thread: Thread, transcript: list[StoredMessage]
    ) -> tuple[Terms | None, Refusal | None]:
        """The call's terms (read once: its cost is priced by them too) and the budget's verdict."""
        if self.spending is None:
            return None, None
        terms = await self.spending.terms(chat.id)
        refusal = await self.spending.check(chat.id, chat.project_id, model_spec, thread.id, transcript, terms=terms)
        return terms, refusal

    async def _thread(self, chat_id: str, thread_id: str) -> Thread:
        """The thread a call works on (the chat's main thread unless it names one)."""
        thread = await (threads_db.get(self.db, thread_id) if thread_id else threads_db.main(self.db, chat_id))
        if thread is None or thread.chat_id != chat_id:
            raise chat_gone(chat_id)
        return thread

    async def _prompt(self, chat: ChatInfo, thread: Thread, step: str, text: str) -> StoredMessage | None:
        """A node's prompt joins the thread as a user message, once per step: the message, if this
        call stored it (None: an earlier attempt did)."""
        async with self.log.change(chat.id) as change:
            message, created = await messages_db.store_turn(
                change.tx,
                chat.id,
                turn=None,
                role=Role.USER,
                blocks=[ContentBlock.of_text(text)],
                step=f"{step}/prompt",
                thread_id=thread.id,
            )
            if created:
                change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
        return message if created else None

    async def _notes(
        self, chat: ChatInfo, thread: Thread, agent_id: str, transcript: list[StoredMessage]
    ) -> list[StoredMessage]:
        """Notes sent to the agent join its thread as user messages, once (in the transaction that
        marks them delivered)."""
        async with self.log.change(chat.id) as change:
            for note_id, text in await agents_db.take_notes(change.tx, agent_id):
                message, created = await messages_db.store_turn(
                    change.tx,
                    chat.id,
                    turn=None,
                    role=Role.USER,
                    blocks=[ContentBlock.of_text(f"A note from the agent that started you: {text}")],
                    step=f"note:{note_id}",
                    thread_id=thread.id,
                )
                if created:
                    change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
                    transcript = [*transcript, message]
        return transcript

    async def _system_prompt(
        self,
        chat: ChatInfo,
        project: Project,
        transcript: list[StoredMessage],
        mode: str,
        extra: str = "",
        *,
        thread_id: str,
    ) -> SystemPrompt:
        """Built from the chat's snapshot of its environment and instruction files (chat_context.py);
        `extra`: a workflow node's own instructions."""
        ctx = await self.contexts.current(chat.id, project, transcript, thread_id)
        return build_system_prompt(
            project, mode=mode, environment=ctx.environment, instructions=ctx.instructions, extra=extra
        )

    async def _tools(self, daemon_id: str, workspace: str) -> tuple[ToolDefinition, ...]:
        """The daemon's tools for the workspace (built-in and MCP); if it stays unreachable for a few
        seconds the chat pauses (no point paying for a model turn whose tools cannot run)."""
        for attempt in range(DAEMON_TRIES):
            try:
                return await self.catalog.definitions(daemon_id, workspace)
            except DaemonUnavailableError as exc:
                if attempt == DAEMON_TRIES - 1:
                    raise ApplicationError(str(exc), type=DAEMON_OFFLINE, non_retryable=True) from exc
                activity.heartbeat()
                await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    async def _admit(self, chat: ChatInfo, message_id: str) -> None:
        async with self.log.change(chat.id) as change:
            try:
                message, admitted = await messages_db.admit(change.tx, chat.id, message_id)
            except LookupError as exc:
                raise ApplicationError(str(exc), type=CHAT_GONE, non_retryable=True) from exc
            if admitted:
                change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
            if await chats_db.set_status(change.tx, chat.id, ChatStatus.RUNNING):
                change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.RUNNING.value, "reason": ""})

    async def _finish(
        self, chat: ChatInfo, message: StoredMessage, inp: CallLlmInput, *, replayed: bool
    ) -> CallLlmResult:
        """The result for an answer stored earlier (a retry, or a replayed workflow step)."""
        if message.aborted:
            raise ApplicationError(f"turn {message.turn} was cancelled", type=TURN_ABORTED, non_retryable=True)
        runs = {r.tool_call_id: r for r in await tool_runs_db.for_turn(self.db, chat.id, message.turn or 0)}
        calls = [
            ToolCallRef(
                runs[b.tool_call_id].key if b.tool_call_id in runs else b.tool_call_id,
                b.tool_name,
                runs[b.tool_call_id].read_only if b.tool_call_id in runs else False,
                invalid_arguments_error(b.tool_name, b.tool_input),
            )
            for b in message.tool_calls_blocks()
            if not (b.tool_name == llm_options.RESPOND_TOOL and inp.response is not None)
        ]
        return await self._done(chat, message, inp, calls, replayed=replayed)

    async def _done(
        self,
        chat: ChatInfo,
        message: StoredMessage,
        inp: CallLlmInput,
        calls: list[ToolCallRef],
        *,
        replayed: bool,
        settled: dict[str, str] | None = None,
    ) -> CallLlmResult:
        if not calls and inp.idle_when_done:
            async with self.log.change(chat.id) as change:
                if await chats_db.set_status(change.tx, chat.id, ChatStatus.IDLE):
                    change.emit(kinds.CHAT_STATUS, {"status": ChatStatus.IDLE.value, "reason": ""})
        stop_reason = "tool_use" if calls else "end_turn"
        return CallLlmResult(
            message_id=message.id,
            tool_calls=calls,
            stop_reason=stop_reason,
            replayed=replayed,
            turn=message.turn or 0,
            text=llm_options.capped(message.text()),
            response=llm_options.response_of(message) if inp.response is not None else None,
            settled=settled or {},
        )


def _leading_reads(calls: list[ToolCallRef]) -> list[ToolCallRef]:
    """The answer's leading run of read-only calls a daemon answers (the batch the workflow would
    run first, side by side): not ask_user nor the agent tools, which the workflow itself runs, nor
    a call whose arguments were not a JSON object (its error is recorded by the workflow)."""
    reads: list[ToolCallRef] = []
    for call in calls:
        if not call.read_only or call.tool_name == ASK_USER_TOOL or call.tool_name in AGENT_TOOLS or call.invalid:
            break
        reads.append(call)
    return reads


def _ok(outcome: T | BaseException) -> T:
    """One outcome of a gather(..., return_exceptions=True): its value, or its exception raised."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def _value(value: T) -> T:
    """`value`, as a read that needs no round trip (beside others that do, in a gather)."""
    return value


async def _heartbeat() -> None:
    """Lets Temporal notice within seconds that a worker died mid-call, and deliver cancellation."""
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY)  # a quick call never pays for a heartbeat
        activity.heartbeat()


async def settle_tool_results(
    db: Database,
    log: UpdateLog,
    chat_id: str,
    transcript: list[StoredMessage] | None = None,
    *,
    interrupt_reason: str = "",
    thread_id: str = "",
) -> list[StoredMessage]:
    """Give the model the results of the last assistant turn's tool calls (once); returns the
    thread's transcript with them (`thread_id` "": the chat's main thread).

    With `interrupt_reason`, calls that never finished are recorded as interrupted first (a cancel, or
    a run stopped at max_turns); otherwise an unfinished call is left for execute_tool."""
    if transcript is None:
        thread = await (threads_db.get(db, thread_id) if thread_id else threads_db.main(db, chat_id))
        transcript = await messages_db.thread_transcript(db, thread) if thread is not None else []
    last = transcript[-1] if transcript else None
    if last is None or last.role is not Role.ASSISTANT or last.turn is None or not last.tool_calls_blocks():
        return transcript
    runs = await tool_runs_db.for_turn(db, chat_id, last.turn)
    final = FINAL_TOOL_STATES
    if interrupt_reason:
        for run in runs:
            if run.state not in final:
                async with log.change(chat_id) as change:  # clients see the call end, not "pending"
                    settled = await tool_runs_db.finish(
                        change.tx, chat_id, run.key, state=ToolState.INTERRUPTED, error=interrupt_reason
                    )
                    if settled is not None:  # None: it ended in the meantime, and said so itself
                        change.emit(kinds.TOOL_FINISHED, tool_run_payload(settled))
        runs = await tool_runs_db.for_turn(db, chat_id, last.turn)
    if any(r.state not in final for r in runs):
        return transcript
    async with log.change(chat_id) as change:
        message = await store_results(change, chat_id, last, runs)
    return [*transcript, message]


async def store_results_once_all_ended(change: Change, chat_id: str, run: ToolRun) -> None:
    """`run` has just ended: if it was the last of its turn's calls to end, the model's next read
    (the tool results message) is stored in the same transaction, so the next model call finds it
    (settle_tool_results does it there otherwise: calls that ended at the same moment)."""
    runs = await tool_runs_db.for_turn(change.tx, chat_id, run.turn)
    if any(r.state not in FINAL_TOOL_STATES for r in runs):
        return
    answer = await messages_db.answer_awaiting_results(change.tx, chat_id, run.turn)
    if answer is not None and answer.tool_calls_blocks():
        await store_results(change, chat_id, answer, runs)


async def store_results(change: Change, chat_id: str, answer: StoredMessage, runs: list[ToolRun]) -> StoredMessage:
    """The tool results message that follows `answer` (once: a second call finds it stored)."""
    by_id = {r.tool_call_id: r for r in runs}
    blocks = [
        block
        for b in answer.tool_calls_blocks()
        if b.tool_call_id in by_id
        for block in tool_result_blocks(by_id[b.tool_call_id])
    ]
    message, created = await messages_db.store_turn(
        change.tx,
        chat_id,
        turn=answer.turn,
        role=Role.TOOL,
        blocks=blocks,
        step=answer.step,
        thread_id=answer.thread_id,
    )
    if created:
        change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
    return message
