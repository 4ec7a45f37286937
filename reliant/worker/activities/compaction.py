"""compact_thread: a `compact` node. When a thread holds more tokens than the node's threshold, the
model summarises it and the thread goes on from the summary: it then reads as the summary followed
by the messages the summary did not cover (the newest user messages, which the next step answers).

How many tokens a thread holds: what the provider counted for its last answer (prompt and answer),
plus about a token per four characters of what came after. The summary is stored once per step
(a retried step finds it), with the usage and cost of the call that wrote it. The summary is a model
call like any other: it is checked against the chat's and the project's budget first (a call that
would cross one is not made; the run pauses with the reason) and priced the same way.

A model call whose thread outgrew the model's context window compacts it too, whatever the
threshold (`force`, see interpreter/nodes/model.py). Such a thread is too long for the summarising
call as well, so that call reads it shortened when it must (summarise).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from reliant.clients.providers import ProviderPool
from reliant.clients.update_log import UpdateLog
from reliant.db import Database
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import threads as threads_db
from reliant.domain import update_kinds as kinds
from reliant.domain.chat import BlockType, ContentBlock, Message, Role, StoredMessage, Usage
from reliant.llm import classify
from reliant.llm.base import LlmRequest, LlmResponse, Provider, StreamEvent
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError
from reliant.llm.pricing import usage_to_price
from reliant.llm.registry import parse_model
from reliant.llm.script import check_script_place
from reliant.redaction import redact
from reliant.wire.payloads import message_payload
from reliant.worker.activities.llm import chat_gone, settle_tool_results
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import (
    BUDGET_REACHED,
    CONTEXT_TOO_LONG,
    FATAL_LLM,
    RETRYABLE_LLM,
    CompactInput,
    CompactResult,
)
from reliant.worker.budget import Spending, call_cost
from reliant.worker.transcript import model_messages

SUMMARY_HEADER = "[A summary of the conversation so far, which was compacted]"
INSTRUCTIONS = (
    "You summarise a conversation between a user and a coding agent so that the agent can go on "
    "from the summary alone. Keep what the user asked for and decided, what was done (files changed, "
    "commands run and their results), what was learned about the code, and what is still open. "
    "Be specific (names, paths, numbers); leave out pleasantries and anything superseded."
)
ASK = "Summarise the conversation above for the agent that will continue it."
MAX_SHRINKS = 3  # a summary too long for the model is asked again this many times, shorter each time
SHRUNK_PART = 4_000  # the characters kept of each part of a shortened thread (then a quarter, a 16th)


def estimated_tokens(transcript: list[StoredMessage]) -> int:
    """The provider's count for the last answer, plus ~4 characters a token for what followed it."""
    last = max((i for i, m in enumerate(transcript) if m.role is Role.ASSISTANT and m.usage.input_tokens), default=-1)
    counted = 0
    if last >= 0:
        u = transcript[last].usage
        counted = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens + u.output_tokens
    rest = transcript[last + 1 :]
    chars = sum(
        len(b.text) + len(json.dumps(b.tool_input)) if b.tool_input else len(b.text) for m in rest for b in m.blocks
    )
    return counted + chars // 4


def kept_from(transcript: list[StoredMessage]) -> int:
    """Where the messages the summary does not cover start: the trailing user messages (unanswered),
    not an earlier summary (a thread that is still too long once summarised has it summarised again)."""
    index = len(transcript)
    while index > 0 and transcript[index - 1].role is Role.USER and not is_summary(transcript[index - 1]):
        index -= 1
    return index


def is_summary(message: StoredMessage) -> bool:
    return bool(message.blocks) and message.blocks[0].text.startswith(SUMMARY_HEADER)


async def summarise(
    provider: Provider,
    model: str,
    covered: list[StoredMessage],
    spent: Callable[[Usage, int], Awaitable[None]],
) -> tuple[LlmRequest, LlmResponse]:
    """The model's summary of `covered`, and the request that got it. A thread too long for the
    model's window (the very reason a call compacts it) is read shortened: as one text with each
    part clipped, then only its newest half, then its newest quarter. A call that fails after its
    stream reported usage was paid for: `spent(usage, shrink)` records it."""

    async def quietly(event: StreamEvent) -> None:
        activity.heartbeat()

    for shrink in range(MAX_SHRINKS + 1):
        request = LlmRequest(model=model, system=INSTRUCTIONS, messages=summary_messages(covered, shrink))
        try:
            return request, await provider.stream(request, quietly)
        except LlmError as exc:
            if exc.usage != Usage():
                await spent(exc.usage, shrink)
            if isinstance(exc, RetryableLlmError):
                raise ApplicationError(redact(str(exc)), type=RETRYABLE_LLM) from None
            if not isinstance(exc, FatalLlmError) or exc.kind != classify.CONTEXT_TOO_LONG:
                raise ApplicationError(redact(str(exc)), type=FATAL_LLM, non_retryable=True) from None
            if shrink == MAX_SHRINKS:
                raise ApplicationError(
                    f"the conversation is too long to summarise, even shortened: {redact(str(exc))}",
                    type=CONTEXT_TOO_LONG,
                    non_retryable=True,
                ) from None
    raise AssertionError("unreachable")


def summary_messages(covered: list[StoredMessage], shrink: int) -> tuple[Message, ...]:
    """What the summarising model reads: the messages as they are (`shrink` 0), or shortened as one
    text (each part cut to SHRUNK_PART >> 2*(shrink-1) characters, and from 2 on only the newest
    1/2**(shrink-1) of the text)."""
    if shrink == 0:
        return (*model_messages(covered), Message(Role.USER, (ContentBlock.of_text(ASK),)))
    part = SHRUNK_PART >> 2 * (shrink - 1)
    text = "\n".join(f"{m.role.value}: {_clipped(_as_text(b), part)}" for m in covered for b in m.blocks)
    if shrink > 1:
        text = "[... the oldest part is left out]\n" + text[-(len(text) >> (shrink - 1)) :]
    shortened = f"The conversation so far, shortened to fit (long parts cut):\n\n{text}\n\n{ASK}"
    return (Message(Role.USER, (ContentBlock.of_text(shortened),)),)


def _as_text(block: ContentBlock) -> str:
    if block.type is BlockType.TOOL_CALL:
        return f"[calls {block.tool_name} with {json.dumps(block.tool_input)}]"
    if block.type is BlockType.TOOL_RESULT:
        return f"[{block.tool_name} answered] {block.text}"
    if block.type is BlockType.IMAGE:
        return "[an image]"
    if block.type is BlockType.THINKING:
        return "[thinking]"
    return block.text


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]} [... {len(text) - limit} more characters]"


class CompactionActivities:
    def __init__(
        self,
        db: Database,
        log: UpdateLog,
        providers: ProviderPool,
        *,
        data_dir: Path | None = None,
        spending: Spending | None = None,
    ) -> None:
        self.db = db
        self.log = log
        self.providers = providers
        self.data_dir = data_dir
        self.spending = spending  # prices and budgets (None: the price table, no budget)

    @activity.defn(name="compact_thread")
    async def compact_thread(self, inp: CompactInput) -> CompactResult:
        await emit_notes(self.log, inp.chat_id, inp.notes)
        found = await chats_db.get_with_project(self.db, inp.chat_id)
        if found is None:
            raise chat_gone(inp.chat_id)
        chat, project = found
        step = f"{inp.step}/summary"
        done = await messages_db.for_step(self.db, chat.id, step, Role.USER)
        if done is not None:  # a retried step: the summary is stored already
            return CompactResult(True, done.usage.input_tokens, estimated_tokens([done]))
        transcript = await settle_tool_results(self.db, self.log, chat.id, thread_id=inp.thread_id)
        before = estimated_tokens(transcript)
        cut = kept_from(transcript)
        if cut == 0 or (before <= inp.threshold and not inp.force):
            return CompactResult(False, before, before)
        spec = inp.model or chat.model
        try:
            parsed = parse_model(spec)
            if parsed.provider == "scripted":
                check_script_place(parsed.model, [Path(project.path), *([self.data_dir] if self.data_dir else [])])
            provider, model = (await self.providers.providers()).get(parsed)
        except LlmError as exc:
            raise ApplicationError(redact(str(exc)), type=FATAL_LLM, non_retryable=True) from None
        if self.spending is not None:
            refusal = await self.spending.check(chat.id, chat.project_id, spec, inp.thread_id, transcript[:cut])
            if refusal is not None:  # not made: the run pauses until the budget is raised and resumed
                raise ApplicationError(
                    str(refusal), type=BUDGET_REACHED, non_retryable=True, category=ApplicationErrorCategory.BENIGN
                )

        async def record_spent(usage: Usage, shrink: int) -> None:
            # One row per attempt and shortening: a retried attempt's call was paid for again.
            failed = f"{step}:failed:{activity.info().attempt}.{shrink}"
            spent = await call_cost(self.spending, spec, usage)
            await messages_db.record_spent(
                self.db, chat.id, step=failed, thread_id=inp.thread_id, model=spec, usage=usage, cost_usd=spent
            )

        request, response = await summarise(provider, model, transcript[:cut], record_spent)
        text = "".join(b.text for b in response.blocks if b.text and not b.tool_call_id)
        summary = f"{SUMMARY_HEADER}\n\n{text.strip()}"
        keep = transcript[cut].ordinal if cut < len(transcript) else None
        usage = usage_to_price(request, response)
        spent = await call_cost(self.spending, spec, usage)
        async with self.log.change(chat.id) as change:
            message, created = await messages_db.store_turn(
                change.tx,
                chat.id,
                turn=None,
                role=Role.USER,
                blocks=[ContentBlock.of_text(summary)],
                model=spec,
                usage=response.usage,
                cost_usd=spent,
                step=step,
                thread_id=inp.thread_id,
            )
            if created:
                assert message.ordinal is not None
                await threads_db.compact(
                    change.tx,
                    inp.thread_id,
                    summary_id=message.id,
                    keep_from=keep if keep is not None else message.ordinal,
                )
                change.emit(kinds.MESSAGE_CREATED, {"message": message_payload(message)})
                if inp.notice:
                    change.emit(kinds.NOTICE, {"message": inp.notice})
        return CompactResult(True, before, estimated_tokens([message]))
