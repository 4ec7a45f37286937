"""Provider faults at the activity level: the real worker, real Temporal, the official SDK clients
against the fake provider server. A broken answer is never stored, the retry stores the whole one,
waits are shown with their real length, and neither the log nor Temporal's history gets a key."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.converter import WorkflowSerializationContext
from temporalio.exceptions import FailureError

from reliant.db import budgets as budgets_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import settings as settings_db
from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import Role, ToolState, Usage
from reliant.redaction import RedactingFilter
from reliant.wire import convert
from tests.conftest import Infra
from tests.llm.fakes import (
    FakeLlmServer,
    Response,
    StreamResponse,
    Text,
    Thinking,
    ToolCall,
    anthropic_error,
    anthropic_stream,
    anthropic_stream_error,
    ended_early,
    malformed,
    openai_chunk,
    openai_error,
    openai_raw_stream,
    openai_stream,
    stalled,
)
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env
from tests.worker.history_failures import history_failures

OPENAI_KEY = "sk-proj-fault-test-SECRET-4242424242"
ANTHROPIC_KEY = "sk-ant-fault-test-SECRET-1717171717"
TEN_WORDS = [f"{w} " for w in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")]


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeLlmServer]:
    async with FakeLlmServer() as server:
        yield server


@pytest.fixture
async def env(infra: Infra, tmp_path: Path, fake: FakeLlmServer) -> AsyncIterator[AgentEnv]:
    fake.reset()
    async with agent_env(
        infra,
        tmp_path,
        openai_api_key=OPENAI_KEY,
        openai_base_url=fake.openai_url,
        anthropic_api_key=ANTHROPIC_KEY,
        anthropic_base_url=fake.url,
        llm_read_timeout=0.5,
    ) as e:
        yield e


class Captured(logging.Handler):
    """What the process logs, formatted as the CLI's handlers format it (with the same filter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.addFilter(RedactingFilter())
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))

    def text(self, level: int = logging.DEBUG) -> str:
        return "\n".join(line for r, line in zip(self.records, self.lines, strict=True) if r.levelno >= level)


@contextmanager
def captured_logs(*debug_loggers: str) -> Iterator[Captured]:
    """Capture the root logger's records at its usual level (warning), and `debug_loggers` at debug."""
    handler = Captured()
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in debug_loggers}
    for name in debug_loggers:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def assistant_messages(env: AgentEnv, chat_id: str) -> list[Any]:
    return [m for m in await messages_db.transcript(env.db, chat_id) if m.role is Role.ASSISTANT]


async def one_tool_round(env: AgentEnv, model: str, message: str) -> list[Any]:
    """Send `message` to a new chat of `model` and wait: the transcript of one tool call's round trip."""
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, message)
    await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
    return transcript


async def retry_waits(env: AgentEnv, chat_id: str) -> list[dict[str, Any]]:
    return [u.payload for u in await env.updates(chat_id) if u.kind == "retry_wait"]


async def last_failures(env: AgentEnv, chat_id: str) -> list[str]:
    """The failure messages Temporal recorded for the chat's activities (retried or final), opened
    with the payload codec's key (failures are sealed like every payload)."""
    workflow_id = f"chat-{chat_id}"
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    converter = env.client.data_converter.with_context(
        WorkflowSerializationContext(namespace=env.client.namespace, workflow_id=workflow_id)
    )
    out = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            failure = event.activity_task_started_event_attributes.last_failure
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            failure = event.activity_task_failed_event_attributes.failure
        else:
            continue
        if failure.message:
            error = await converter.decode_failure(failure)
            out.append(error.message if isinstance(error, FailureError) else str(error))
    return out


# -- a stream that ends early --------------------------------------------------------------------


async def test_a_stream_that_ends_early_stores_nothing_and_the_retry_stores_the_whole_answer(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(ended_early(openai_stream([Text(*TEN_WORDS)]), keep=4), openai_stream([Text(*TEN_WORDS)]))
    chat = await env.new_chat("openai:gpt-test")
    client = await env.watch(chat.id)
    await env.chats.send(chat.id, "count to ten")
    await env.finished(chat.id)

    [answer] = await assistant_messages(env, chat.id)
    assert answer.text() == "".join(TEN_WORDS)
    [wait] = await retry_waits(env, chat.id)
    assert wait["reason"].startswith("openai: the stream ended before the answer was complete")
    assert len(fake.requests) == 2
    assert [u.kind for u in await env.updates(chat.id)].count("message_completed") == 1
    await eventually(lambda: "message_completed" in client.kinds())
    assert client.kinds().count("message_started") == 2  # the cut-short attempt, then the retry


async def test_an_answer_of_a_server_that_ends_with_done_and_no_finish_reason_is_stored_not_retried(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    words = [openai_chunk([{"index": 0, "delta": {"content": w}, "finish_reason": None}]) for w in TEN_WORDS]
    fake.enqueue(openai_raw_stream(*words))
    chat = await env.new_chat("openai:gpt-test")
    await env.chats.send(chat.id, "count to ten")
    await env.finished(chat.id)

    [answer] = await assistant_messages(env, chat.id)
    assert answer.text() == "".join(TEN_WORDS)
    assert await retry_waits(env, chat.id) == [] and len(fake.requests) == 1


async def test_a_tool_call_cut_mid_arguments_is_retried_and_the_tool_gets_the_whole_arguments(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    (env.workspace / "notes.txt").write_text("alpha\n")
    call = ToolCall("toolu_1", "view", '{"pa', 'th": "notes.txt"}')
    fake.enqueue(
        ended_early(anthropic_stream([Text("Reading."), call]), keep=7),  # cut after '{"pa'
        anthropic_stream([Text("Reading."), call]),
        anthropic_stream([Text("It says alpha.")]),
    )
    transcript = await one_tool_round(env, "anthropic:claude-test", "what is in notes.txt?")
    [block] = transcript[1].tool_calls_blocks()
    assert block.tool_input == {"path": "notes.txt"}
    runs = await tool_runs_db.for_chat(env.db, transcript[0].chat_id)
    assert [r.input for r in runs.values()] == [{"path": "notes.txt"}]
    assert "alpha" in transcript[2].blocks[0].text
    [wait] = await retry_waits(env, transcript[0].chat_id)
    assert wait["reason"].startswith("anthropic: the stream ended before the answer was complete")


async def test_tool_arguments_cut_by_max_tokens_pause_the_chat_with_the_reason_in_words(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(anthropic_stream([ToolCall("toolu_1", "view", '{"path": "a.p')], stop_reason="max_tokens"))
    chat = await env.new_chat("anthropic:claude-test")
    await env.chats.send(chat.id, "go")

    paused = await env.status(chat.id, "paused")
    assert paused.status_reason.startswith(
        "anthropic: the answer reached its output limit (max_tokens) in the arguments of the view tool call"
    )
    assert await assistant_messages(env, chat.id) == []
    assert await tool_runs_db.for_chat(env.db, chat.id) == {}


@pytest.mark.parametrize(
    ("model", "stream", "cut"),
    [
        (
            "anthropic:claude-test",
            anthropic_stream([Text("The plan: first")], stop_reason="max_tokens"),
            "the model reached its output limit (max_tokens 8192)",
        ),
        (
            "openai:gpt-test",
            openai_stream([Text("The plan: first")], finish_reason="length"),
            "the model reached its output limit (max_tokens 8192)",
        ),
        (
            "anthropic:claude-test",
            anthropic_stream([Text("The plan: first")], stop_reason="model_context_window_exceeded"),
            "the model reached the end of its context window (model_context_window_exceeded)",
        ),
    ],
    ids=["anthropic-max_tokens", "openai-length", "anthropic-context_window"],
)
async def test_an_answer_a_limit_cut_after_some_text_is_kept_and_clients_are_told_it_was_cut(
    env: AgentEnv, fake: FakeLlmServer, model: str, stream: StreamResponse, cut: str
) -> None:
    fake.enqueue(stream)
    chat = await env.new_chat(model)
    await env.chats.send(chat.id, "plan it")
    await env.finished(chat.id)

    [answer] = await assistant_messages(env, chat.id)
    assert (answer.text(), answer.cut()) == ("The plan: first", cut)
    [completed] = [u.payload["message"] for u in await env.updates(chat.id) if u.kind == "message_completed"]
    assert completed["cut"] == cut, "the live update says so"
    assert convert.message(answer, {}).cut == cut, "and so does the stored transcript (ListMessages)"


@pytest.mark.parametrize("model", ["openai:gpt-test", "anthropic:claude-test"])
async def test_tool_arguments_that_are_not_json_are_the_calls_error_result_and_the_model_calls_again(
    env: AgentEnv, fake: FakeLlmServer, model: str
) -> None:
    """A model whose answer ended normally but whose call's arguments are not a JSON object (a small
    local model, often): the answer is kept, nothing of the call runs and no one is asked about it
    (in manual mode too), and its result tells the model what it sent. Retried as a broken stream,
    such a chat failed ~8 times over two minutes, then paused."""
    stream = openai_stream if model.startswith("openai") else anthropic_stream
    fake.enqueue(
        stream([Text("Appending."), ToolCall("call_1", "shell", '{"command": "echo x >> effects"')]),
        stream([ToolCall("call_2", "shell", '{"command": "echo y >> effects"}')]),
        stream([Text("Done.")]),
    )
    chat = await env.new_chat(model)
    await env.chats.set_mode(chat.id, "manual")
    await env.chats.send(chat.id, "append to effects")

    approval = await env.pending_approval(chat.id)
    assert approval.input == {"command": "echo y >> effects"}, "the call with arguments that are not JSON asked no one"
    assert not (env.workspace / "effects").exists()
    await env.gates.approve(approval.id)
    await env.finished(chat.id)

    assert (env.workspace / "effects").read_text() == "y\n"
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [m.role for m in transcript] == [
        Role.USER,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
    ]
    assert transcript[1].text() == "Appending."
    [error] = transcript[2].blocks
    expected = (
        'the arguments of shell were not a JSON object: "{\\"command\\": \\"echo x >> effects\\""; nothing was run. '
        "Call it again with arguments that are one."
    )
    assert error.is_error and error.text == expected
    runs = list((await tool_runs_db.for_chat(env.db, chat.id)).values())
    assert [(r.tool_name, r.state) for r in runs] == [("shell", ToolState.FAILED), ("shell", ToolState.COMPLETED)]
    assert [u.kind for u in await env.updates(chat.id)].count("approval_requested") == 1
    assert await retry_waits(env, chat.id) == []
    assert len(fake.requests) == 3
    # The model was told, in the second call, as that call's result.
    if model.startswith("openai"):
        [told] = [m for m in fake.requests[1].body["messages"] if m["role"] == "tool"]
        assert (told["tool_call_id"], told["content"]) == ("call_1", f"Error: {expected}")
    else:
        [told] = [
            b
            for m in fake.requests[1].body["messages"]
            if m["role"] == "user"
            for b in m["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        assert (told["tool_use_id"], told["is_error"]) == ("call_1", True)
        assert told["content"] == expected


async def test_a_read_with_arguments_that_are_not_json_is_not_run_with_the_answers_other_reads(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    """The answer's leading reads run with the model call that stored it; one whose arguments are
    not a JSON object is not among them (nor run at all), and the reads after it still run."""
    (env.workspace / "a.txt").write_text("alpha\n")
    calls = [
        ToolCall("call_1", "view", '{"path": "a.txt"}'),
        ToolCall("call_2", "view", "a.txt"),
        ToolCall("call_3", "view", '{"path": "a.txt"}'),
    ]
    fake.enqueue(openai_stream(calls), openai_stream([Text("alpha")]))
    transcript = await one_tool_round(env, "openai:gpt-test", "read a.txt")

    results = transcript[2].blocks
    assert [(b.tool_call_id, b.is_error) for b in results] == [("call_1", False), ("call_2", True), ("call_3", False)]
    assert "alpha" in results[0].text and "alpha" in results[2].text
    assert results[1].text.startswith('the arguments of view were not a JSON object: "a.txt"; nothing was run.')
    runs = await tool_runs_db.for_chat(env.db, transcript[0].chat_id)
    assert {key: r.state for key, r in runs.items()} == {
        "call_1": ToolState.COMPLETED,
        "call_2": ToolState.FAILED,
        "call_3": ToolState.COMPLETED,
    }


async def test_an_answer_the_model_declined_pauses_the_chat_saying_so_and_is_not_stored(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(anthropic_stream([Text("")], stop_reason="refusal"), anthropic_stream([Text("Sure.")]))
    chat = await env.new_chat("anthropic:claude-test")
    await env.chats.send(chat.id, "go")

    paused = await env.status(chat.id, "paused")
    assert paused.status_reason.startswith("anthropic: claude-test declined to answer (stop_reason refusal)")
    assert await assistant_messages(env, chat.id) == []
    assert len(fake.requests) == 1, "a refusal is not retried by itself"
    await env.chats.resume(chat.id)
    await env.finished(chat.id)
    assert [m.text() for m in await assistant_messages(env, chat.id)] == ["Sure."]


async def test_an_unknown_error_type_inside_the_stream_is_retried_naming_the_type_in_the_log(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(
        anthropic_stream_error("an_error_type_of_the_future", "Something new.", after=[Text("partial")]),
        anthropic_stream([Text("Whole.")]),
    )
    chat = await env.new_chat("anthropic:claude-test")
    with captured_logs() as logs:
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id)

    assert [m.text() for m in await assistant_messages(env, chat.id)] == ["Whole."]
    [wait] = await retry_waits(env, chat.id)
    assert wait["reason"].startswith("anthropic: an_error_type_of_the_future in stream")
    [line] = [line for line in logs.text(logging.WARNING).splitlines() if f"chat {chat.id}" in line]
    assert "an_error_type_of_the_future in stream (a type not known, tried again): Something new." in line


@pytest.mark.parametrize(
    "response",
    [
        anthropic_stream_error("billing_error", "Your credit balance is too low."),
        anthropic_error(400, "Your credit balance is too low.", error_type="billing_error"),
    ],
    ids=["inside-the-stream", "http-400"],
)
async def test_a_billing_error_pauses_the_chat_naming_billing_and_is_not_retried(
    env: AgentEnv, fake: FakeLlmServer, response: Response
) -> None:
    """Anthropic says so inside a stream, or with a 400 whose body's type is billing_error."""
    fake.enqueue(response)
    chat = await env.new_chat("anthropic:claude-test")
    await env.chats.send(chat.id, "go")

    paused = await env.status(chat.id, "paused")
    assert "Your credit balance is too low." in paused.status_reason
    assert "(billing: the account's credits or plan do not cover the call" in paused.status_reason
    assert len(fake.requests) == 1 and await retry_waits(env, chat.id) == []


async def test_parallel_tool_calls_of_an_ollama_like_server_each_run_and_each_result_reaches_the_model(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    """Ollama sends every call of an answer at index 0."""
    (env.workspace / "a.txt").write_text("alpha\n")
    (env.workspace / "b.txt").write_text("beta\n")
    calls = [ToolCall("call_a1", "view", '{"path": ', '"a.txt"}'), ToolCall("call_b2", "view", '{"path": "b.txt"}')]
    fake.enqueue(openai_stream(calls, tool_indexes=[0, 0]), openai_stream([Text("alpha and beta")]))
    transcript = await one_tool_round(env, "openai:gpt-test", "read a.txt and b.txt")

    assert [b.tool_input for b in transcript[1].tool_calls_blocks()] == [{"path": "a.txt"}, {"path": "b.txt"}]
    runs = await tool_runs_db.for_chat(env.db, transcript[0].chat_id)
    assert sorted(r.input["path"] for r in runs.values()) == ["a.txt", "b.txt"]
    [tool_a, tool_b] = [m for m in fake.requests[1].body["messages"] if m["role"] == "tool"]
    assert (tool_a["tool_call_id"], tool_b["tool_call_id"]) == ("call_a1", "call_b2")
    assert "alpha" in tool_a["content"] and "beta" in tool_b["content"]
    assert await retry_waits(env, transcript[0].chat_id) == []


async def test_a_priced_model_whose_server_reports_no_usage_is_not_recorded_as_free(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    """A server that ignores stream_options.include_usage: the cost is estimated from the text's
    length (4 characters a token), as the budget check estimates a call, never $0."""
    await settings_db.put(env.db, {"model_prices": json.dumps({"openai:gpt-test": {"input": 1, "output": 5}})})
    try:
        fake.enqueue(openai_stream([Text("x" * 4000)], include_usage=False))
        chat = await env.new_chat("openai:gpt-test")
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id)
        [answer] = await assistant_messages(env, chat.id)
    finally:
        await settings_db.put(env.db, {"model_prices": ""})

    assert answer.usage == Usage(), "the usage stays as reported: none"
    output_cost = 1000 * 5 / 1_000_000  # 4,000 characters of answer
    assert output_cost < answer.cost_usd < output_cost + 0.1


@pytest.mark.parametrize(
    ("model", "stream", "reported"),
    [
        ("anthropic:claude-test", anthropic_stream([Text("")], stop_reason="refusal"), Usage(12, 7)),
        ("openai:gpt-test", openai_stream([Text("Part")], finish_reason="content_filter"), Usage(20, 9)),
        ("anthropic:claude-test", anthropic_stream([Thinking("Hmm")], stop_reason="max_tokens"), Usage(12, 7)),
    ],
    ids=["anthropic-refusal", "openai-content_filter", "anthropic-cut_before_any_text"],
)
async def test_a_call_that_ends_in_a_fatal_error_records_what_its_stream_reported_it_spent(
    env: AgentEnv, fake: FakeLlmServer, model: str, stream: StreamResponse, reported: Usage
) -> None:
    """Nothing of the answer is kept, but its tokens were paid for: the chat's cost and the budgets
    (which sum what was recorded) count them."""
    await settings_db.put(env.db, {"model_prices": json.dumps({model: {"input": 1, "output": 5}})})
    try:
        fake.enqueue(stream)
        chat = await env.new_chat(model)
        await env.chats.send(chat.id, "go")
        await env.status(chat.id, "paused")
    finally:
        await settings_db.put(env.db, {"model_prices": ""})

    spent = (reported.input_tokens * 1 + reported.output_tokens * 5) / 1_000_000
    assert await budgets_db.chat_spent(env.db, chat.id) == pytest.approx(spent)
    info = await chats_db.get(env.db, chat.id)
    assert info is not None
    assert (info.usage, info.cost_usd) == (reported, pytest.approx(spent))
    assert await assistant_messages(env, chat.id) == [], "and nothing of it is in the transcript"


@pytest.mark.parametrize(
    ("model", "broken", "reported"),
    [
        ("anthropic:claude-test", lambda: ended_early(anthropic_stream([Text(*TEN_WORDS)]), keep=5), Usage(12, 1)),
        ("openai:gpt-test", lambda: openai_stream([Text("The first ha")], finish_reason="error"), Usage(20, 9)),
        (
            "anthropic:claude-test",
            lambda: anthropic_stream_error("overloaded_error", "Overloaded", after=[Text("partial")]),
            Usage(12, 1),
        ),
    ],
    ids=["anthropic-ended_early", "openai-finish_reason_error", "anthropic-overloaded_mid_answer"],
)
async def test_each_attempt_a_retryable_error_ended_part_way_records_what_its_stream_reported_it_spent(
    env: AgentEnv, fake: FakeLlmServer, model: str, broken: Callable[[], StreamResponse], reported: Usage
) -> None:
    """Two attempts broke after their streams reported usage, the third answered: all three were
    billed, so the chat's cost and the budgets count each once (the stored answer's usage and two
    reports), and nothing of the broken ones is in the transcript."""
    stream = anthropic_stream if model.startswith("anthropic") else openai_stream
    await settings_db.put(env.db, {"model_prices": json.dumps({model: {"input": 1, "output": 5}})})
    try:
        fake.enqueue(broken(), broken(), stream([Text("Whole.")]))
        chat = await env.new_chat(model)
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id)
    finally:
        await settings_db.put(env.db, {"model_prices": ""})

    [answer] = await assistant_messages(env, chat.id)
    assert answer.text() == "Whole." and len(await retry_waits(env, chat.id)) == 2
    total = reported + reported + answer.usage
    spent = (total.input_tokens * 1 + total.output_tokens * 5) / 1_000_000
    assert await budgets_db.chat_spent(env.db, chat.id) == pytest.approx(spent)
    info = await chats_db.get(env.db, chat.id)
    assert info is not None
    assert (info.usage, info.cost_usd) == (total, pytest.approx(spent))


# -- a stall, a long Retry-After, a malformed chunk -----------------------------------------------


async def test_a_stall_mid_stream_ends_at_the_read_timeout_and_the_turn_is_retried(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    stuck = stalled(openai_stream([Text("a", "b", "c")]), after=2)
    fake.enqueue(stuck, openai_stream([Text("whole answer")]))
    chat = await env.new_chat("openai:gpt-test")
    began = time.monotonic()
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)

    assert time.monotonic() - began < 20  # read timeout 0.5 s, then a 1 s retry wait
    assert [m.text() for m in await assistant_messages(env, chat.id)] == ["whole answer"]
    [wait] = await retry_waits(env, chat.id)
    assert wait["reason"] == "openai: no data for 0.5s (read timeout): the provider stalled"
    assert stuck.finished.is_set()


async def test_a_retry_after_above_a_minute_is_honoured_and_shown_with_its_real_length(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(openai_error(429, "Rate limit reached", headers={"retry-after": "600"}))
    chat = await env.new_chat("openai:gpt-test")
    await env.chats.send(chat.id, "go")

    async def waiting() -> list[dict[str, Any]]:
        return await retry_waits(env, chat.id)

    [wait] = await eventually(waiting, timeout=30)
    assert wait["seconds"] == 600
    handle = env.client.get_workflow_handle(f"chat-{chat.id}")

    async def scheduled() -> float | None:
        pending = (await handle.describe()).raw_description.pending_activities
        if not pending or not pending[0].HasField("next_attempt_schedule_time"):
            return None
        return pending[0].next_attempt_schedule_time.ToDatetime().timestamp() - time.time()

    # Temporal holds the next attempt back for the whole wait, not the retry policy's maximum interval.
    assert 540 < await eventually(scheduled, timeout=30) <= 600
    assert len(fake.requests) == 1
    assert await env.chats.cancel(chat.id)
    await env.finished(chat.id)


async def test_a_retry_after_beyond_the_cap_waits_the_cap() -> None:
    from reliant.worker.activities.llm import MAX_RETRY_AFTER, retry_delay

    assert MAX_RETRY_AFTER == 15 * 60
    assert retry_delay(retry_after=3600, attempt=1) == 900
    assert retry_delay(retry_after=120, attempt=1) == 120
    assert retry_delay(retry_after=None, attempt=3) == 4  # our own backoff: 1, 2, 4 ... up to a minute
    assert retry_delay(retry_after=None, attempt=20) == 60


async def test_a_malformed_chunk_is_retried_with_the_wait_shown_and_the_provider_named(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(malformed(openai_stream([Text("a", "b")]), at=2), openai_stream([Text("fine")]))
    chat = await env.new_chat("openai:gpt-test")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)

    assert [m.text() for m in await assistant_messages(env, chat.id)] == ["fine"]
    [wait] = await retry_waits(env, chat.id)
    assert wait["seconds"] == 1
    assert wait["reason"].startswith("openai: the stream sent a malformed chunk (not JSON")
    # What Temporal recorded for the failed attempt: the words a pause would show once retries run out.
    [failure] = await last_failures(env, chat.id)
    assert failure == wait["reason"]


# -- a NUL character from the provider -----------------------------------------------------------


async def test_a_nul_character_in_a_models_text_and_tool_arguments_is_stored_as_a_replacement_character(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    """Postgres stores no NUL: the answer, the tool call and its result hold U+FFFD in its place
    (database.storable), and the tool runs with the arguments as stored."""
    fake.enqueue(
        openai_stream([Text("Printing a\0b."), ToolCall("call_1", "shell", '{"command": "echo \'x\\u0000y\'"}')]),
        openai_stream([Text("Done.")]),
    )
    transcript = await one_tool_round(env, "openai:gpt-test", "go")
    assert transcript[1].text() == "Printing a\ufffdb."
    [call] = transcript[1].tool_calls_blocks()
    assert call.tool_input == {"command": "echo 'x\ufffdy'"}
    assert transcript[2].blocks[0].text.startswith("x\ufffdy\n") and not transcript[2].blocks[0].is_error
    [run] = (await tool_runs_db.for_chat(env.db, transcript[0].chat_id)).values()
    assert run.input == {"command": "echo 'x\ufffdy'"}
    # The model is sent back what was stored.
    [tool_message] = [m for m in fake.requests[1].body["messages"] if m["role"] == "tool"]
    assert tool_message["content"] == transcript[2].blocks[0].text


# -- what reaches the log and Temporal's history ------------------------------------------------


async def test_expected_provider_errors_log_one_line_each_and_tracebacks_only_at_debug(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(
        openai_error(429, "Rate limit reached", headers={"retry-after-ms": "10"}),
        openai_error(503, "The engine is overloaded", headers={"retry-after-ms": "10"}),
        ended_early(openai_stream([Text("par", "tial")]), keep=2),
        openai_stream([Text("ok")]),
    )
    chat = await env.new_chat("openai:gpt-test")
    with captured_logs("reliant.worker.activities.llm") as logs:
        await env.chats.send(chat.id, "go")
        await env.finished(chat.id)

    visible = [r for r in logs.records if r.levelno >= logging.WARNING]
    lines = [logs.format(r) for r in visible]
    assert len(visible) == 3, lines
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in visible), lines
    assert "HTTP 429: Rate limit reached" in lines[0] and "HTTP 503" in lines[1]
    assert "the stream ended before the answer was complete" in lines[2]
    assert all(f"chat {chat.id}" in line for line in lines)
    debug = [r for r in logs.records if r.levelno == logging.DEBUG and r.exc_info is not None]
    assert len(debug) == 3  # the tracebacks, for whoever runs with --log-level debug


async def test_a_key_echoed_by_the_provider_reaches_neither_the_log_nor_temporal_history(
    env: AgentEnv, fake: FakeLlmServer
) -> None:
    fake.enqueue(
        openai_error(500, f"upstream rejected key {OPENAI_KEY} for now", headers={"retry-after-ms": "10"}),
        openai_error(401, f"Incorrect API key provided: {OPENAI_KEY}", error_type="invalid_request_error"),
    )
    chat = await env.new_chat("openai:gpt-test")
    with captured_logs("reliant", "temporalio") as logs:
        await env.chats.send(chat.id, "go")
        paused = await env.status(chat.id, "paused")

    assert "Incorrect API key provided" in paused.status_reason and OPENAI_KEY not in paused.status_reason
    failures = await last_failures(env, chat.id)
    assert any("upstream rejected key" in f for f in failures) and any("Incorrect API key" in f for f in failures)
    # Every failure the history holds, opened with the codec's key: whole chains, details included.
    recorded = [f.SerializeToString() for f in await history_failures(env.client, f"chat-{chat.id}")]
    assert any(b"upstream rejected key" in f for f in recorded) and any(b"Incorrect API key" in f for f in recorded)
    assert not [f for f in recorded if OPENAI_KEY.encode() in f or OPENAI_KEY[-10:].encode() in f]
    text = logs.text()
    assert "upstream rejected key" in text and "Traceback" in text  # the chains were logged (at debug) ...
    assert OPENAI_KEY not in text  # ... with the key masked
