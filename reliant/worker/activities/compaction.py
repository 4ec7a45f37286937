"""compact_thread: a `compact` node. When a thread holds more tokens than the node's threshold, the
model summarises it and the thread goes on from the summary: it then reads as the summary followed
by the messages the summary did not cover (the newest user messages, which the next step answers).

How many tokens a thread holds: what the provider counted for its last answer (prompt and answer),
plus about a token per four characters of what came after. The summary is stored once per step
(a retried step finds it), with the usage and cost of the call that wrote it. The summary is a model
call like any other: it is checked against the chat's and the project's budget first (a call that
would cross one is not made; the run pauses with the reason) and priced the same way.
"""

from __future__ import annotations

import json
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
from reliant.domain.chat import ContentBlock, Message, Role, StoredMessage
from reliant.llm.base import LlmRequest, StreamEvent
from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError
from reliant.llm.pricing import cost, usage_to_price
from reliant.llm.registry import parse_model
from reliant.llm.script import check_script_place
from reliant.redaction import redact
from reliant.wire.payloads import message_payload
from reliant.worker.activities.llm import chat_gone, settle_tool_results
from reliant.worker.activities.notes import emit_notes
from reliant.worker.activities.types import BUDGET_REACHED, FATAL_LLM, RETRYABLE_LLM, CompactInput, CompactResult
from reliant.worker.budget import Spending
from reliant.worker.transcript import model_messages

SUMMARY_HEADER = "[A summary of the conversation so far, which was compacted]"
INSTRUCTIONS = (
    "You summarise a conversation between a user and a coding agent so that the agent can go on "
    "from the summary alone. Keep what the user asked for and decided, what was done (files changed, "
    "commands run and their results), what was learned about the code, and what is still open. "
    "Be specific (names, paths, numbers); leave out pleasantries and anything superseded."
)
ASK = "Summarise the conversation above for the agent that will continue it."


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
    """Where the messages the summary does not cover start: the trailing user messages (unanswered)."""
    index = len(transcript)
    while index > 0 and transcript[index - 1].role is Role.USER:
        index -= 1
    return index


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
        if before <= inp.threshold or cut == 0:
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
        request = LlmRequest(
            model=model,
            system=INSTRUCTIONS,
            messages=(*model_messages(transcript[:cut]), Message(Role.USER, (ContentBlock.of_text(ASK),))),
        )

        async def quietly(event: StreamEvent) -> None:
            activity.heartbeat()

        try:
            response = await provider.stream(request, quietly)
        except RetryableLlmError as exc:
            raise ApplicationError(redact(str(exc)), type=RETRYABLE_LLM) from None
        except FatalLlmError as exc:
            raise ApplicationError(redact(str(exc)), type=FATAL_LLM, non_retryable=True) from None
        text = "".join(b.text for b in response.blocks if b.text and not b.tool_call_id)
        summary = f"{SUMMARY_HEADER}\n\n{text.strip()}"
        keep = transcript[cut].ordinal if cut < len(transcript) else None
        usage = usage_to_price(request, response)
        spent = await self.spending.cost(spec, usage) if self.spending is not None else cost(spec, usage)
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
        return CompactResult(True, before, estimated_tokens([message]))
