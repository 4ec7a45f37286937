"""ScriptedProvider: turn selection, streaming, deterministic ids, scripted errors, the call log."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, Usage
from reliant.llm.base import BlockDelta, BlockStart, LlmRequest
from reliant.llm.errors import FatalLlmError, RetryableLlmError, UnknownModelError
from reliant.llm.script import DEFAULT_FINAL_TEXT, load_script
from reliant.llm.scripted import ScriptedProvider
from tests.llm.conftest import Events

SCRIPT = """
turns:
  - text: Looking at the code now.
    tools:
      - {name: view, input: {path: a.py}}
      - {name: glob, input: {pattern: "*.py"}}
  - thinking: Two files.
    text: Found them.
    tools:
      - {name: shell, input: {command: ls}}
  - text: All done.
    usage: {input_tokens: 100, output_tokens: 20, cache_read_tokens: 80}
"""


def write(tmp_path: Path, text: str, name: str = "script.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def user(text: str = "go") -> Message:
    return Message(Role.USER, (ContentBlock.of_text(text),))


def assistant(text: str = "ok") -> Message:
    return Message(Role.ASSISTANT, (ContentBlock.of_text(text),))


def results() -> Message:
    return Message(Role.TOOL, (ContentBlock(BlockType.TOOL_RESULT, tool_call_id="x", tool_name="view", text="r"),))


def conversation(turns_done: int) -> tuple[Message, ...]:
    messages = [user()]
    for _ in range(turns_done):
        messages += [assistant(), results()]
    return tuple(messages)


def request(model: str, turns_done: int = 0) -> LlmRequest:
    return LlmRequest(model=model, system="sys", messages=conversation(turns_done))


async def test_the_turn_is_the_number_of_assistant_messages(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, SCRIPT)
    provider = ScriptedProvider()

    first = await provider.stream(request(model, 0), events)
    second = await provider.stream(request(model, 1), events)
    third = await provider.stream(request(model, 2), events)
    after = await provider.stream(request(model, 3), events)

    assert first.stop_reason == "tool_use"
    assert [b.tool_name for b in first.blocks if b.type is BlockType.TOOL_CALL] == ["view", "glob"]
    assert first.blocks[1].tool_input == {"path": "a.py"}
    assert second.blocks[0] == ContentBlock(BlockType.THINKING, text="Two files.")
    assert second.blocks[1] == ContentBlock(BlockType.TEXT, text="Found them.")
    assert third.blocks == (ContentBlock(BlockType.TEXT, text="All done."),)
    assert third.stop_reason == "end_turn"
    assert third.usage == Usage(input_tokens=100, output_tokens=20, cache_read_tokens=80)
    assert after.blocks == (ContentBlock(BlockType.TEXT, text=DEFAULT_FINAL_TEXT),)
    assert after.model == model


async def test_text_streams_word_by_word_and_tool_calls_as_json(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, SCRIPT)

    await ScriptedProvider().stream(request(model, 0), events)

    assert events.events == [
        BlockStart(0, BlockType.TEXT),
        BlockDelta(0, BlockType.TEXT, "Looking "),
        BlockDelta(0, BlockType.TEXT, "at "),
        BlockDelta(0, BlockType.TEXT, "the "),
        BlockDelta(0, BlockType.TEXT, "code "),
        BlockDelta(0, BlockType.TEXT, "now."),
        BlockStart(1, BlockType.TOOL_CALL, tool_call_id="call_0_0", tool_name="view"),
        BlockDelta(1, BlockType.TOOL_CALL, '{"path": "a.py"}'),
        BlockStart(2, BlockType.TOOL_CALL, tool_call_id="call_0_1", tool_name="glob"),
        BlockDelta(2, BlockType.TOOL_CALL, '{"pattern": "*.py"}'),
    ]


async def test_tool_call_ids_are_the_same_when_a_turn_is_played_again(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, SCRIPT)

    once = await ScriptedProvider().stream(request(model, 1), events)
    again = await ScriptedProvider().stream(request(model, 1), events)

    assert once.blocks == again.blocks
    assert [b.tool_call_id for b in once.blocks if b.type is BlockType.TOOL_CALL] == ["call_1_0"]


async def test_estimated_usage_is_deterministic_and_nonzero(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, SCRIPT)

    a = await ScriptedProvider().stream(request(model, 1), events)
    b = await ScriptedProvider().stream(request(model, 1), events)

    assert a.usage == b.usage
    assert a.usage.input_tokens > 0
    assert a.usage.output_tokens > 0


async def test_a_scripted_error_fails_the_first_times_calls_of_its_turn(tmp_path: Path, events: Events) -> None:
    model = write(
        tmp_path,
        """
turns:
  - text: first
  - text: second
    error: {status: 429, message: slow down, retry_after: 1.5, times: 2}
""",
    )
    provider = ScriptedProvider()

    assert (await provider.stream(request(model, 0), events)).blocks[0].text == "first"
    for _ in range(2):
        with pytest.raises(RetryableLlmError) as caught:
            await provider.stream(request(model, 1), events)
        assert caught.value.status == 429
        assert caught.value.retry_after == 1.5
        assert "slow down" in str(caught.value)
    assert (await provider.stream(request(model, 1), events)).blocks[0].text == "second"
    # The count lives in the provider instance: a new one fails again.
    with pytest.raises(RetryableLlmError):
        await ScriptedProvider().stream(request(model, 1), events)


@pytest.mark.parametrize(("status", "kind"), [(401, "auth"), (400, "invalid_request"), (403, "permission")])
async def test_scripted_client_errors_are_fatal(tmp_path: Path, events: Events, status: int, kind: str) -> None:
    model = write(tmp_path, f"turns:\n  - text: hi\n    error: {{status: {status}}}\n")

    with pytest.raises(FatalLlmError) as caught:
        await ScriptedProvider().stream(request(model), events)

    assert caught.value.kind == kind
    assert caught.value.status == status


async def test_scripted_server_errors_are_retryable_once_by_default(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, "turns:\n  - text: hi\n    error: {status: 529, message: overloaded}\n")
    provider = ScriptedProvider()

    with pytest.raises(RetryableLlmError) as caught:
        await provider.stream(request(model), events)
    assert caught.value.retry_after is None

    assert (await provider.stream(request(model), events)).blocks[0].text == "hi"


async def test_the_call_log_has_one_line_per_call(tmp_path: Path, events: Events) -> None:
    log = tmp_path / "logs" / "calls.jsonl"
    model = write(
        tmp_path,
        f"call_log: {log}\nturns:\n  - text: a\n    error: {{status: 500}}\n  - text: b\n",
    )
    provider = ScriptedProvider()
    before = time.time()

    with pytest.raises(RetryableLlmError):
        await provider.stream(request(model, 0), events)
    await provider.stream(request(model, 0), events)
    await provider.stream(request(model, 1), events)

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["turn"], line["error"]) for line in lines] == [(0, 500), (0, None), (1, None)]
    assert all(before <= line["time"] <= time.time() for line in lines)


async def test_a_relative_call_log_is_beside_the_script(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, "call_log: calls.jsonl\nturns:\n  - text: a\n")

    await ScriptedProvider().stream(request(model), events)

    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 1


async def test_delay_ms_paces_the_chunks(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, "turns:\n  - text: one two three four\n    delay_ms: 50\n")
    started = time.monotonic()

    await ScriptedProvider().stream(request(model), events)

    assert time.monotonic() - started >= 0.2  # four chunks, 50 ms before each
    assert len(events.deltas()) == 4


async def test_a_changed_script_is_read_again(tmp_path: Path, events: Events) -> None:
    model = write(tmp_path, "turns:\n  - text: old\n")
    provider = ScriptedProvider()
    assert (await provider.stream(request(model), events)).blocks[0].text == "old"

    Path(model).write_text("turns:\n  - text: new\n")
    stat = Path(model).stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert (await provider.stream(request(model), events)).blocks[0].text == "new"


def test_unknown_scripts_are_unknown_models(tmp_path: Path) -> None:
    provider = ScriptedProvider()
    for name in ("no-such-script", "../etc/passwd", "relative/path.yaml", str(tmp_path / "missing.yaml")):
        with pytest.raises(UnknownModelError) as caught:
            provider.script(name)
        assert "scripted:demo" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("turns: [\n", "invalid YAML"),
        ("- a list\n", "a script is a mapping"),
        ("turns:\n  - txt: typo\n", "turn 0 (line 2): unknown key (line 2, column 5)"),
        ("turns:\n  - tools: [{name: view, input: [1]}]\n", "`input` must be a mapping"),
        ("turns:\n  - error: {status: 200}\n", "HTTP error status"),
        ("turns:\n  - error: {status: 500, times: 0}\n", "`times`"),
        ("turns:\n  - delay_ms: -1\n", "`delay_ms`"),
        ("turns:\n  - usage: {input_tokens: many}\n", "token counts"),
        ("turns:\n  - on_error: nowhere\n", "'nowhere' is not the name of a turn"),
        ("turns:\n  - {name: a}\n  - {name: a}\n", "the name 'a' is taken by turn 0"),
        ("turns:\n  - {name: a, branches: [{when: {exit: 0}, to: a}]}\n", "when: unknown key (line 2, column 34)"),
        ("turns:\n  - {name: a, branches: [{when: {}, to: a}]}\n", "`when` must be a mapping"),
        ("turns:\n  - {name: a, branches: [{when: {error: yes please}, to: a}]}\n", "`when.error`"),
        ("turns:\n  - {end: 1}\n", "`end` must be true or false"),
        ("turns:\n  - {name: a, branches: [{when: {prompt: ''}, to: a}]}\n", "`when.prompt` must be a non-empty"),
        ("turns:\n  - {name: a, branches: [{when: {prompt: x, tool: y}, to: a}]}\n", "`when.prompt` goes alone"),
    ],
)
def test_invalid_scripts_say_where_and_why(tmp_path: Path, text: str, complaint: str) -> None:
    model = write(tmp_path, text)

    with pytest.raises(FatalLlmError) as caught:
        load_script(model)

    assert caught.value.kind == "invalid_script"
    assert complaint in str(caught.value)
    assert model in str(caught.value)


BRANCHING = """
turns:
  - text: Running the tests.
    tools: [{name: shell, input: {command: make test}}]
  - branches:
      - when: {tool: shell, contains: "[exit code 0]"}
        to: passing
    on_error: not-run
    text: Fixing.
    tools: [{name: edit, input: {path: a.py, old_string: x, new_string: y}}]
  - on_error: edit-failed
    text: Fixed.
    end: true
  - name: passing
    text: Nothing to fix.
    end: true
  - name: not-run
    text: "Could not run them: ${result}"
    end: true
  - name: edit-failed
    text: "The edit failed: ${result}"
    end: true
"""


def result(tool: str, text: str, *, error: bool = False, call: str = "c") -> Message:
    return Message(
        Role.TOOL, (ContentBlock(BlockType.TOOL_RESULT, tool_call_id=call, tool_name=tool, text=text, is_error=error),)
    )


async def play(model: str, *messages: Message) -> str:
    response = await ScriptedProvider().stream(
        LlmRequest(model=model, system="", messages=(user(), *messages)), Events()
    )
    return "".join(b.text for b in response.blocks if b.type is BlockType.TEXT)


async def test_branches_follow_what_the_tools_returned(tmp_path: Path) -> None:
    model = write(tmp_path, BRANCHING)
    ran = assistant("Running the tests.")

    assert await play(model, ran, result("shell", "1 failed\n[exit code 1]")) == "Fixing."
    assert await play(model, ran, result("shell", "all ok\n[exit code 0]")) == "Nothing to fix."
    denied = result("shell", "The user denied this tool call.", error=True)
    assert await play(model, ran, denied) == "Could not run them: The user denied this tool call."
    # The script replays its own choices: after the edit, the turn below "Fixing." comes next...
    fixing = (ran, result("shell", "[exit code 1]"), assistant("Fixing."))
    assert await play(model, *fixing, result("edit", "edited")) == "Fixed."
    missing = result("edit", "old_string not found   in\na.py", error=True)
    assert await play(model, *fixing, missing) == "The edit failed: old_string not found in a.py"
    # ...and once a turn with `end` has played, every later request gets the final text.
    done = (*fixing, result("edit", "edited"), assistant("Fixed."), user("thanks"))
    assert await play(model, *done) == DEFAULT_FINAL_TEXT
    passing = (ran, result("shell", "[exit code 0]"), assistant("Nothing to fix."), user("thanks"))
    assert await play(model, *passing) == DEFAULT_FINAL_TEXT


PROMPTED = """
turns:
  - name: plan
    text: The plan.
  - name: asked-again
    branches:
      - {when: {prompt: approved}, to: build}
      - {when: {prompt: Write a plan}, to: plan}
    text: I have only the one plan.
  - name: build
    branches: [{when: {prompt: Revise}, to: asked-again}]
    text: Building.
    tools: [{name: shell, input: {command: make}}]
  - branches: [{when: {prompt: approved}, to: plan}]
    text: Built.
    end: true
"""


async def test_a_branch_on_the_prompt_follows_what_the_turn_was_asked_back_or_forward(tmp_path: Path) -> None:
    """A workflow's nodes on one thread, told apart by their prompts: a branch on `prompt` looks at
    the user messages the turn answers (all of them since the last answer), never at tool results."""
    model = write(tmp_path, PROMPTED)
    planned = (user("Fix it\nWrite a plan."), assistant("The plan."))

    assert await play(model, *planned, user("The plan is approved.")) == "Building."
    assert await play(model, *planned, user("Revise the plan: smaller.")) == "I have only the one plan."
    revised = (*planned, user("Revise it"), assistant("I have only the one plan."))
    assert await play(model, *revised, user("Revise it")) == "I have only the one plan.", "a jump back"
    assert await play(model, *revised, user("approved")) == "Building."
    assert await play(model, *planned, user("Stop."), user("Write a plan.")) == "The plan.", "every message counts"
    building = (*planned, user("approved"), assistant("Building."))
    # A turn that answers tool results answers no prompt: the result saying "approved" is no prompt.
    assert await play(model, *building, result("shell", "approved")) == "Built."


async def test_a_branch_turn_keeps_deterministic_tool_call_ids(tmp_path: Path) -> None:
    model = write(tmp_path, BRANCHING)
    request_ = LlmRequest(model=model, system="", messages=(user(), assistant(), result("shell", "[exit code 1]")))

    once = await ScriptedProvider().stream(request_, Events())
    again = await ScriptedProvider().stream(request_, Events())

    assert once.blocks == again.blocks
    assert [b.tool_call_id for b in once.blocks if b.type is BlockType.TOOL_CALL] == ["call_1_0"]


async def test_the_call_log_records_the_prompt_and_the_messages(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    model = write(tmp_path, f"call_log: {log}\n{BRANCHING}")
    image = ContentBlock(BlockType.IMAGE, text="aGVsbG8=", media_type="image/png")
    request_ = LlmRequest(
        model=model,
        system="stable part",
        context="per-chat part",
        messages=(
            Message(Role.USER, (ContentBlock.of_text("look"), image)),
            assistant(),
            result("shell", "[exit code 0]"),
        ),
    )

    await ScriptedProvider().stream(request_, Events())

    [line] = [json.loads(text) for text in log.read_text().splitlines()]
    assert line["turn"] == 3, "the branch target played"
    assert line["system"] == "stable part\n\nper-chat part" and line["context"] == "per-chat part"
    assert line["messages"] == [
        {
            "role": "user",
            "blocks": [{"type": "text", "text": "look"}, {"type": "image", "media_type": "image/png", "bytes": 5}],
        },
        {"role": "assistant", "blocks": [{"type": "text", "text": "ok"}]},
        {
            "role": "tool",
            "blocks": [{"type": "tool_result", "text": "[exit code 0]", "tool_call_id": "c", "tool_name": "shell"}],
        },
    ]


async def test_scripts_with_own_turns_share_a_thread_each_playing_its_own_turns(tmp_path: Path, events: Events) -> None:
    """Two nodes of a workflow on one conversation, each with its script: each answer counts only for
    the script that gave it, also after the other's answers and in a later round."""
    writer = write(
        tmp_path,
        "own_turns: true\nturns:\n  - {text: 'writing', tools: [{name: write, input: {path: t.py}}]}\n"
        "  - text: test written\n  - text: 'second round: ${result}'\n",
        "writer.yaml",
    )
    fixer = write(tmp_path, "own_turns: true\nturns:\n  - text: fixed\n  - text: fixed again\n", "fixer.yaml")
    plain = write(tmp_path, "turns:\n  - text: one\n  - text: two\n  - text: three\n", "plain.yaml")
    provider = ScriptedProvider()

    async def answer(model: str, messages: list[Message]) -> Message:
        response = await provider.stream(LlmRequest(model=model, system="s", messages=tuple(messages)), events)
        return Message(Role.ASSISTANT, response.blocks)

    thread = [user("write a test")]
    thread.append(await answer(writer, thread))
    assert thread[-1].tool_calls()[0].tool_input == {"path": "t.py"}
    thread.append(
        Message(
            Role.TOOL, (ContentBlock(BlockType.TOOL_RESULT, tool_call_id="call_0_0", tool_name="write", text="ok"),)
        )
    )
    thread.append(await answer(writer, thread))
    assert thread[-1].text() == "test written"
    thread.append(user("now fix it"))
    thread.append(await answer(fixer, thread))
    assert thread[-1].text() == "fixed", "the writer's two answers are not the fixer's"
    thread.append(user("again"))
    thread.append(
        Message(Role.TOOL, (ContentBlock(BlockType.TOOL_RESULT, tool_call_id="r", tool_name="run", text="exit 1"),))
    )
    thread.append(await answer(writer, thread))
    assert thread[-1].text() == "second round: exit 1", "the writer goes on from its own third turn"
    thread.append(user("last"))
    assert (await answer(fixer, thread)).text() == "fixed again"
    again = await answer(fixer, thread)  # a retried call plays the same turn: the request decides
    assert again.text() == "fixed again"
    # Without own_turns every answer counts, whoever gave it (as before).
    assert (await answer(plain, thread[:4])).text() == "three"


def test_own_turns_must_be_a_flag(tmp_path: Path) -> None:
    with pytest.raises(FatalLlmError) as caught:
        load_script(write(tmp_path, "own_turns: yes please\nturns: []\n"))
    assert "`own_turns` must be true or false" in str(caught.value)
