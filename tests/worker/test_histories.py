"""Replay committed workflow histories against the current workflow code, to catch changes that
would break chats already running (non-determinism) before they ship.

- `histories/*.json`: the agent loop (Agent) before payloads were sealed: plaintext, as a data dir
  written then still holds them; they replay through the codec's rule for runs older than the key.
- `histories/sealed/`: the agent loop (Agent) as the release before workflows ran it, sealed with the
  tests' key. `histories/before-workflows/`: chats of that release caught waiting on an approval,
  paused and idle (recorded by test_upgrade.py). They replay with no plaintext allowed at all.
- `histories/engine/`: chats on the workflow engine (Chat, and WorkflowRun for a child): every
  built-in workflow, a loop, a parallel join, a child workflow, continue-as-new.

The engine scenarios below run for real on every test run and their fresh histories are replayed too
(that catches non-determinism within the current code, e.g. a branch on wall-clock time). With
`RELIANT_RECORD_HISTORIES=1` they are written to `histories/engine/` instead of a temp dir:
re-record only when a change is meant to be incompatible (and then version the workflow)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from reliant.clients.codec import CodecKey, RecordedBeforeTheKey, data_converter
from reliant.db import chats as chats_db
from reliant.db import runs as runs_db
from reliant.domain.workflows import ApprovalAnswer, ChatInput, run_workflow_id
from reliant.worker.chat_workflow import ChatWorkflow
from reliant.worker.run_workflow import WorkflowRun
from reliant.worker.workflows import AgentWorkflow, DoctorWorkflow
from tests.conftest import TEST_CODEC_KEY, Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env
from tests.worker.test_agents import make_repo

HISTORIES = Path(__file__).with_name("histories")
SEALED = HISTORIES / "sealed"
BEFORE_WORKFLOWS = HISTORIES / "before-workflows"
ENGINE = HISTORIES / "engine"
RECORD = os.environ.get("RELIANT_RECORD_HISTORIES") == "1"
KEY = CodecKey.parse(TEST_CODEC_KEY, "tests")
WORKFLOWS = [AgentWorkflow, DoctorWorkflow, ChatWorkflow, WorkflowRun]


def history_of(path: Path) -> WorkflowHistory:
    """A recorded history under its own workflow id: sealed payloads open only for the workflow
    they were sealed for."""
    text = path.read_text()
    started = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
    return WorkflowHistory.from_json(started.get("workflowId", path.stem), text)


def replayer(*, plaintext_runs: bool = False) -> Replayer:
    legacy = RecordedBeforeTheKey() if plaintext_runs else None
    return Replayer(workflows=WORKFLOWS, data_converter=data_converter(KEY, legacy))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_history_recorded_before_the_codec_replays(path: Path) -> None:
    assert '"encoding": "anNvbi9wbGFpbg=="' in path.read_text(), "plaintext (json/plain) payloads"
    await replayer(plaintext_runs=True).replay_workflow(history_of(path))


@pytest.mark.parametrize(
    "path",
    sorted([*SEALED.glob("*.json"), *BEFORE_WORKFLOWS.glob("*.json"), *ENGINE.glob("*.json")]),
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
async def test_sealed_history_replays(path: Path) -> None:
    await replayer().replay_workflow(history_of(path))


async def test_a_plaintext_history_is_refused_without_the_rule_for_old_runs() -> None:
    result = await replayer().replay_workflow(history_of(HISTORIES / "agent-text.json"), raise_on_replay_failure=False)
    assert result.replay_failure is not None


def test_histories_are_committed() -> None:
    for where in (HISTORIES, SEALED):
        assert len(list(where.glob("*.json"))) >= 4, "record them: RELIANT_RECORD_HISTORIES=1 pytest " + __file__
    assert {p.stem for p in BEFORE_WORKFLOWS.glob("*.json")} == {"waiting", "paused", "idle"}
    assert len(list(ENGINE.glob("*.json"))) >= 15


# -- the engine scenarios ------------------------------------------------------------------------------


class Recorder:
    def __init__(self, env: AgentEnv, target: Path) -> None:
        self.env = env
        self.target = target

    async def save(self, chat_id: str, name: str) -> None:
        handle = self.env.client.get_workflow_handle(f"chat-{chat_id}")
        (self.target / f"{name}.json").write_text((await handle.fetch_history()).to_json())

    async def save_runs(self, chat_id: str, name: str) -> None:
        """The first and the last run of a workflow that continued as new."""
        runs = [e async for e in self.env.client.list_workflows(f"WorkflowId = 'chat-{chat_id}'")]
        runs.sort(key=lambda e: e.start_time)
        assert len(runs) >= 2, "it continued as new"
        for suffix, execution in (("first", runs[0]), ("last", runs[-1])):
            handle = self.env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
            (self.target / f"{name}-{suffix}.json").write_text((await handle.fetch_history()).to_json())

    async def save_child(self, chat_id: str, name: str, *, index: int | None = None) -> None:
        """The chat's one child run (or its `index`-th, in the order they started)."""
        children = [r for r in await runs_db.for_chat(self.env.db, chat_id) if r.parent_id]
        [child] = children if index is None else [sorted(children, key=lambda r: r.created_at)[index]]
        handle = self.env.client.get_workflow_handle(run_workflow_id(chat_id, child.id))
        (self.target / f"{name}.json").write_text((await handle.fetch_history()).to_json())


def write_flow(env: AgentEnv, name: str, text: str) -> None:
    path = env.workspace / ".reliant" / "workflows" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


async def answer_node(env: AgentEnv, chat_id: str, choice: str) -> None:
    pending = await env.pending_approval(chat_id)
    handle = env.client.get_workflow_handle(pending.workflow_id or f"chat-{chat_id}")
    await handle.execute_update("answer_approval", ApprovalAnswer(pending.tool_call_id, choice))


async def on(env: AgentEnv, workflow: str, turns: list[dict[str, Any]], inputs: dict[str, Any] | None = None) -> str:
    chat = await env.new_chat(env.script(turns))
    await chats_db.set_workflow(env.db, chat.id, workflow, inputs or {})
    return chat.id


async def test_the_scenarios_record_histories_that_replay(infra: Infra, tmp_path: Path) -> None:
    target = ENGINE if RECORD else tmp_path / "histories"
    target.mkdir(exist_ok=True)
    async with agent_env(infra, tmp_path) as env:
        rec = Recorder(env, target)
        (env.workspace / "a.txt").write_text("alpha\n")
        view = {"name": "view", "input": {"path": "a.txt"}}
        shell = {"name": "shell", "input": {"command": "echo hi >> out"}}

        # The built-in agent workflow: today's chats.
        chat = await env.new_chat(env.script([{"text": "hello"}]))
        await env.chats.send(chat.id, "hi")
        await env.finished(chat.id)
        await rec.save(chat.id, "agent-text")

        chat = await env.new_chat(env.script([{"tools": [view, view]}, {"tools": [shell]}, {"text": "done"}]))
        await env.chats.send(chat.id, "work")
        await env.finished(chat.id)
        await rec.save(chat.id, "agent-tools")

        chat = await env.new_chat(env.script([{"tools": [shell]}, {"tools": [shell]}, {"text": "done"}]))
        await env.chats.set_mode(chat.id, "manual")
        await env.chats.send(chat.id, "ask me")
        first = await env.pending_approval(chat.id)
        await env.gates.approve(first.id)
        second = await env.pending_approval(chat.id, after=first)
        await env.gates.deny(second.id, "not twice")
        await env.finished(chat.id)
        await rec.save(chat.id, "agent-approvals")

        question = {"questions": [{"question": "Which?", "choices": ["a", "b"]}]}
        chat = await env.new_chat(env.script([{"tools": [{"name": "ask_user", "input": question}]}, {"text": "ok"}]))
        await env.chats.send(chat.id, "ask")

        async def asked() -> object:
            found = await env.gates.pending_questions(chat.id)
            return found[0] if found else None

        pending = await eventually(asked)
        await env.gates.answer(pending.id, ["a"])
        await env.finished(chat.id)
        await rec.save(chat.id, "agent-question")

        chat = await env.new_chat(env.script([{"tools": [{"name": "shell", "input": {"command": "sleep 30"}}]}]))
        await env.chats.send(chat.id, "sleep")
        await eventually(lambda: _started(env, chat.id))
        await env.chats.cancel(chat.id)
        await env.finished(chat.id)
        await rec.save(chat.id, "agent-cancel")

        # Continue-as-new in the middle of an agent node's turns (a low history limit).
        chat = await env.new_chat(env.script([{"tools": [view, shell]}] * 8 + [{"text": "done"}]))
        await env.client.start_workflow(
            "Chat",
            ChatInput(chat.id, history_limit=60),
            id=f"chat-{chat.id}",
            task_queue=env.settings.temporal_task_queue,
        )
        await env.chats.send(chat.id, "go on and on")
        await env.finished(chat.id, timeout=60)
        await rec.save_runs(chat.id, "continue-as-new")

        # The other built-ins: an approval in a loop, a command in a loop, threads and a response tool.
        chat_id = await on(env, "plan-then-build", [{"text": "1. do it"}, {"text": "built"}])
        await env.chats.send(chat_id, "plan it")
        await answer_node(env, chat_id, "build")
        await env.finished(chat_id)
        assert await outputs(env, chat_id) == {"approved": True, "revisions": 0}
        await rec.save(chat_id, "builtin-plan-then-build")

        script = [{"text": "wrote a test"}, {"tools": [{"name": "shell", "input": {"command": "touch ok"}}]}]
        chat_id = await on(env, "tdd", [*script, {"text": "done"}], {"task": "make ok", "test_command": "test -f ok"})
        await env.chats.send(chat_id, "test first")
        await env.finished(chat_id)
        assert await outputs(env, chat_id) == {"passed": True, "rounds": 1}
        await rec.save(chat_id, "builtin-tdd")

        verdict = {"name": "respond", "input": {"verdict": "approve", "notes": ""}}
        chat_id = await on(env, "review", [{"text": "work done"}, {"tools": [verdict]}], {"task": "x"})
        await env.chats.send(chat_id, "review it")
        await env.finished(chat_id)
        assert await outputs(env, chat_id) == {"approved": True, "rounds": 1, "notes": ""}
        await rec.save(chat_id, "builtin-review")

        # A parallel join and a child workflow, from the project's own (trusted) files.
        write_flow(
            env,
            "fanout",
            """
            name: fanout
            entry: both
            nodes:
              - id: both
                type: parallel
                join: all
                branches:
                  left: {entry: a, nodes: [{id: a, type: run, command: "echo a"}]}
                  right: {entry: b, nodes: [{id: b, type: run, command: "echo b"}]}
              - {id: joined, type: save_message, role: assistant, content: "{{nodes.both.completed}}"}
            edges:
              - {from: both, default: joined}
            """,
        )
        write_flow(
            env,
            "helper",
            """
            name: helper
            outputs: {said: "{{nodes.talk.text}}"}
            entry: talk
            nodes:
              - {id: talk, type: agent, prompt: "help"}
            """,
        )
        write_flow(
            env,
            "parent",
            """
            name: parent
            entry: kid
            nodes:
              - {id: kid, type: workflow, workflow: helper, thread: fork}
              - {id: after, type: save_message, role: assistant, content: "{{nodes.kid.said}}"}
            edges:
              - {from: kid, default: after}
            """,
        )
        chat_id = await on(env, "fanout", [{"text": "unused"}])
        await env.trust_project()
        await env.chats.send(chat_id, "fan out")
        await env.finished(chat_id)
        await rec.save(chat_id, "parallel-join")

        chat_id = await on(env, "parent", [{"text": "helped"}])
        await env.chats.send(chat_id, "delegate")
        await env.finished(chat_id)
        await rec.save(chat_id, "child-workflow")
        await rec.save_child(chat_id, "child-workflow-run")

        # Runs side by side in git worktrees, a judge, a merge and a removal (best-of-n).
        make_repo(env.workspace)
        solve = [
            env.script([{"tools": [{"name": "write", "input": {"path": f"{n}.txt", "content": n}}]}, {"text": n}])
            for n in ("one", "two")
        ]
        judge = [{"tools": [{"name": "respond", "input": {"winner": 2, "reason": "two"}}]}]
        inputs = {"task": "write a file", "n": 2, "test_command": "true", "models": ",".join(solve)}
        chat_id = await on(env, "best-of-n", judge, inputs)
        await env.chats.send(chat_id, "try twice")
        await env.finished(chat_id, timeout=60)
        done = await outputs(env, chat_id)
        assert (done["winner"], done["merged"], done["removed"]) == (2, True, 1)
        await rec.save(chat_id, "builtin-best-of-n")
        await rec.save_child(chat_id, "best-of-n-solve-run", index=1)

    recorded = sorted(p.stem for p in target.glob("*.json"))
    assert recorded == sorted(p.stem for p in ENGINE.glob("*.json"))
    for path in sorted(target.glob("*.json")):
        await replayer().replay_workflow(history_of(path))


async def outputs(env: AgentEnv, chat_id: str) -> dict[str, Any]:
    [run] = [r for r in await runs_db.for_chat(env.db, chat_id) if r.parent_id is None]
    return run.outputs


async def _started(env: AgentEnv, chat_id: str) -> bool:
    return any(u.kind == "tool_started" for u in await env.updates(chat_id))
