"""Model calls: a `call_llm` node (one call, optionally ephemeral, optionally answered through a
response tool) and an `agent` node (the agent loop: call the model, run its tool calls, until it
answers without any or `max_turns` is reached).

Each call is one call_llm activity under its own step key (`<run>/<thread>:<instance>#<call>`): a
retried or replayed call returns the stored answer and never pays twice. A call whose thread outgrew
the model's context window compacts the thread (`<step>/fit<n>`) and is made again, once; still too
long, the run pauses saying so, and a resume compacts again before the call. An `agent` node's call
also runs the answer's leading read-only calls (run_reads: no step of their own); the rest run
here, through the gates.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from reliant.engine import LlmCall
    from reliant.engine.definition import AgentNode, CallLlmNode
    from reliant.worker.activities.compaction import CompactionActivities
    from reliant.worker.activities.llm import LlmActivities
    from reliant.worker.activities.types import (
        CONTEXT_TOO_LONG,
        CallLlmInput,
        CallLlmResult,
        CompactInput,
        CompactResult,
        ToolChoice,
    )
    from reliant.worker.interpreter.cursor import LlmAnswer
    from reliant.worker.interpreter.host import Failed, Refused
    from reliant.worker.interpreter.interpreter import NodeContext
    from reliant.worker.interpreter.nodes.tools import run_tools, settled
    from reliant.worker.policies import HEARTBEAT_TIMEOUT, LLM_RETRY

TOO_LONG = frozenset({CONTEXT_TOO_LONG})
WHAT_NOW = (
    "Switch the chat to a model with a larger context window and resume (the conversation is summarised"
    " again first), or start a new chat."
)
RESUMED_NOTICE = "Resumed: the conversation was summarised again to fit the model's context window."
NUDGE = "Answer now by calling the `respond` tool with your answer."
MAX_RESPONSE_CALLS = 2  # a call_llm node with a response tool: the call, and one reminder


async def ask(
    ctx: NodeContext,
    call: int,
    thread_id: str,
    llm: LlmCall,
    mode: str,
    *,
    prompt: str = "",
    response: Any = None,
    agents: bool = False,
    run_reads: bool = False,
) -> CallLlmResult:
    """The task's `call`-th model call (`agents`: offer the agent tools; `run_reads`: run the
    answer's leading read-only calls in the same step)."""
    step = ctx.key(call)
    tools = llm.tools
    scope = ctx.ids.scope  # a sub-agent's: its model and instructions unless the node names its own
    system = "\n\n".join(s for s in (scope.system, llm.system or "") if s)
    inp = CallLlmInput(
        chat_id=ctx.chat_id,
        step=step,
        thread_id=thread_id,
        prompt=prompt,
        idle_when_done=False,
        mode=mode,
        model=llm.model or scope.model,
        system=system,
        temperature=llm.temperature,
        tools=None if tools.all else ToolChoice(False, list(tools.names), list(tools.tags)),
        response=response,
        notes=ctx.notes(),
        agents=agents,
        agent_id=scope.agent_id,
        workspace=scope.workspace,
        run_reads=run_reads,
    )
    start = functools.partial(
        workflow.start_activity_method,
        LlmActivities.call_llm,
        inp,
        start_to_close_timeout=timedelta(minutes=15),
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=LLM_RETRY,
    )
    compactions = 0  # of the thread, for this call: each its own step, so a retried one is not made twice
    while True:
        try:
            return await ctx.step(start, model_step=step, raising=TOO_LONG)
        except Refused as refused:
            too_long = refused.failure.message
        if compactions == 0:
            compactions += 1
            if await compact_to_fit(ctx, f"{step}/fit0", thread_id, inp.model, notice=compacted_notice(too_long)):
                continue  # asked again, once, from the summary
            what = (
                "the newest message is too long for the model's context window, and nothing before it can be summarised"
            )
        else:
            what = "the conversation is too long for the model's context window, even summarised"
        await ctx.host.paused_by_failure(f"{what} ({too_long}). {WHAT_NOW} ({ctx.label})")
        # Resumed: the thread is compacted first (what it holds now, by the model the chat has now).
        await compact_to_fit(ctx, f"{step}/fit{compactions}", thread_id, inp.model, notice=RESUMED_NOTICE)
        compactions += 1


async def compact_to_fit(ctx: NodeContext, step: str, thread_id: str, model: str, *, notice: str) -> bool:
    """Compact the thread of a call that was too long for the model's window, whatever its size:
    True if it was (False: there was nothing before its newest messages to summarise)."""
    result: CompactResult = await ctx.step(
        functools.partial(
            workflow.start_activity_method,
            CompactionActivities.compact_thread,
            CompactInput(ctx.chat_id, step, thread_id, 0, model, notes=ctx.notes(), force=True, notice=notice),
            start_to_close_timeout=timedelta(minutes=15),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=LLM_RETRY,
        )
    )
    return result.compacted


def compacted_notice(too_long: str) -> str:
    return (
        f"The conversation no longer fit the model's context window ({too_long}): it was summarised,"
        " and the model is asked again from the summary."
    )


async def call_llm(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, CallLlmNode)
    llm = ctx.run.llm(ctx.task)
    prompt = ctx.run.text(ctx.task, "prompt") or ""
    mode = ctx.mode()
    cursor = ctx.cursor
    thread_id = await ctx.thread(ctx.task.thread)
    if node.ephemeral:  # neither the prompt nor the answer joins the thread: a fork of it holds them
        if not cursor.thread_id:
            cursor.thread_id = await ctx.fork(thread_id, "ephemeral")
        thread_id = cursor.thread_id
    while True:
        await ctx.checkpoint()
        first = cursor.calls == 0
        result = await ask(
            ctx, cursor.calls, thread_id, llm, mode, prompt=prompt if first else NUDGE, response=node.response
        )
        cursor.calls += 1
        if node.response is None or result.response is not None:
            break
        if cursor.calls >= MAX_RESPONSE_CALLS:
            raise Failed("the model did not answer through the `respond` tool")
    ctx.answers[ctx.task.path] = LlmAnswer(thread_id, result.turn, list(result.tool_calls))
    return {
        "text": result.text,
        "tool_calls": len(result.tool_calls),
        "message_id": result.message_id,
        "response": result.response or {},
    }


async def agent(ctx: NodeContext) -> dict[str, Any]:
    node = ctx.task.node
    assert isinstance(node, AgentNode)
    llm = ctx.run.llm(ctx.task)
    prompt = ctx.run.text(ctx.task, "prompt") or ""
    max_turns = ctx.run.integer(ctx.task, "max_turns") or 0
    thread_id = await ctx.thread(ctx.task.thread)
    cursor = ctx.cursor
    while True:
        if cursor.pending:
            await run_tools(ctx, cursor.turn)
            continue
        await ctx.checkpoint()
        if cursor.calls >= max_turns:
            ctx.interpreter.cursor.notice = f"stopped after {max_turns} model turns without a final answer (max_turns)"
            return {"text": cursor.text, "turns": cursor.calls, "message_id": cursor.message_id}
        result = await ask(
            ctx,
            cursor.calls,
            thread_id,
            llm,
            ctx.mode(),
            prompt=prompt if cursor.calls == 0 else "",
            agents=llm.agents,
            run_reads=True,
        )
        cursor.calls += 1
        cursor.turn, cursor.text, cursor.message_id = result.turn, result.text, result.message_id
        if not result.tool_calls:
            return {"text": result.text, "turns": cursor.calls, "message_id": result.message_id}
        # The reads the step ran itself are done; the rest run here, in order.
        settled(ctx, result.settled.values())
        cursor.pending = [c for c in result.tool_calls if c.tool_call_id not in result.settled]
