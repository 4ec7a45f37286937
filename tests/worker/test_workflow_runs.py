"""Workflow definitions run by the interpreter, node kind by node kind: real services, a real daemon
running the commands, scripted models per node, project files read through the daemon as trusted."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

from reliant.db import approvals as approvals_db
from reliant.db import chats as chats_db
from reliant.db import messages as messages_db
from reliant.db import runs as runs_db
from reliant.db import threads as threads_db
from reliant.domain.chat import ChatInfo, Role
from reliant.domain.runs import RunOutcome
from reliant.domain.tools import INVALID_ARGUMENTS
from reliant.domain.workflows import ApprovalAnswer
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.agent_env import AgentEnv, agent_env, calls_in


@pytest.fixture
async def env(infra: Infra, tmp_path: Path) -> AgentEnv:
    async with agent_env(infra, tmp_path) as e:
        yield e


def write_flow(env: AgentEnv, name: str, text: str) -> Path:
    path = env.workspace / ".reliant" / "workflows" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


async def flow_chat(env: AgentEnv, name: str, inputs: dict[str, Any] | None = None) -> ChatInfo:
    """A chat in the workspace's project (trusted as it is now) that runs workflow `name`."""
    chat = await env.new_chat(env.script([{"text": "the chat's own model is not asked"}]))
    await env.trust_project()
    await chats_db.set_workflow(env.db, chat.id, name, inputs or {})
    return chat


async def kinds_of(env: AgentEnv, chat_id: str, kind: str) -> list[dict[str, Any]]:
    return [u.payload for u in await env.updates(chat_id) if u.kind == kind]


def contiguous(env_updates: list[Any]) -> bool:
    seqs = [u.seq for u in env_updates]
    return seqs == list(range(1, len(seqs) + 1))


async def test_a_loop_of_commands_runs_until_its_condition_and_a_message_reports_it(env: AgentEnv) -> None:
    write_flow(
        env,
        "retry",
        """
        name: retry
        inputs:
          needed: {type: integer, default: 3}
        outputs:
          rounds: "{{nodes.until.iterations}}"
          last: "{{nodes.until.last.check.stdout}}"
        entry: until
        nodes:
          - id: until
            type: loop
            max_iterations: 5
            while: "iter.iteration == 0 || iter.previous.check.exit_code != 0"
            body:
              entry: check
              nodes:
                - id: check
                  type: run
                  command: >-
                    echo ran >> runs.log; n=$(wc -l < runs.log); echo round $n; echo oops >&2;
                    test $n -ge {{inputs.needed}}
          - id: report
            type: save_message
            role: assistant
            content: "passed after {{nodes.until.iterations}} rounds: {{nodes.until.last.check.stdout}}"
        edges:
          - {from: until, default: report}
        """,
    )
    chat = await flow_chat(env, "retry")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    assert (env.workspace / "runs.log").read_text() == "ran\n" * 3, "each iteration's command ran once"
    transcript = await messages_db.transcript(env.db, chat.id)
    assert [(m.role, m.text() or m.blocks[0].text) for m in transcript] == [
        (Role.USER, "go"),
        (Role.ASSISTANT, "passed after 3 rounds: round 3\n"),
    ]
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert (run.status, run.outputs) == (RunOutcome.DONE, {"rounds": 3, "last": "round 3\n"})
    assert run.workflow == "retry" and run.source.endswith(".reliant/workflows/retry.yaml")
    assert "echo ran >> runs.log" in run.workflow_text.text and run.inputs == {"needed": 3}
    states = await kinds_of(env, chat.id, "node_state")
    checks = [(s["instance"], s["status"], s["iteration"]) for s in states if s["path"] == "until/check"]
    assert checks == [(f"until[{i}]/check", status, i) for i in range(3) for status in ("running", "done")]
    assert ("report", "done") in [(s["path"], s["status"]) for s in states]
    versions = [s["version"] for s in states]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    [started] = await kinds_of(env, chat.id, "run_started")
    [finished] = await kinds_of(env, chat.id, "run_finished")
    assert started["workflow"] == "retry" and started["inputs"] == {"needed": 3} and started["note"] == ""
    assert finished == {"run_id": run.id, "status": "done", "outputs": run.outputs, "error": ""}
    ran = [u for u in await kinds_of(env, chat.id, "tool_finished") if u["tool_name"] == "run_command"]
    assert len(ran) == 3 and ran[0]["data"]["stderr"] == "oops\n" and ran[0]["data"]["exit_code"] == 1
    assert contiguous(await env.updates(chat.id))


async def test_an_approval_node_waits_for_a_choice_and_the_run_keeps_its_pinned_definition(env: AgentEnv) -> None:
    flow = write_flow(
        env,
        "ask",
        """
        name: ask
        entry: gate
        nodes:
          - id: gate
            type: approval
            question: "Ship it?"
            choices: [ship, hold]
          - id: shipped
            type: save_message
            role: assistant
            content: "shipping: {{nodes.gate.note}}"
          - id: held
            type: save_message
            role: assistant
            content: held
        edges:
          - from: gate
            cases:
              - {to: shipped, condition: "nodes.gate.choice == 'ship'"}
            default: held
        """,
    )
    chat = await flow_chat(env, "ask")
    await env.chats.send(chat.id, "ship?")
    pending = await env.pending_approval(chat.id)
    assert (pending.kind, pending.question, pending.choices) == ("node", "Ship it?", ("ship", "hold"))
    waiting = await env.status(chat.id, "waiting")
    assert "Ship it?" in waiting.status_reason
    # Editing the file now changes nothing for the run that goes on.
    flow.write_text(flow.read_text().replace("shipping:", "EDITED"))
    handle = env.client.get_workflow_handle(f"chat-{chat.id}")
    assert (await handle.query("state"))["waiting_approvals"] == [pending.tool_call_id]
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("answer_approval", ApprovalAnswer(pending.tool_call_id, "approve"))
    await handle.execute_update("answer_approval", ApprovalAnswer(pending.tool_call_id, "ship", "go ahead"))
    await env.finished(chat.id)
    transcript = await messages_db.transcript(env.db, chat.id)
    assert transcript[-1].text() == "shipping: go ahead"
    answered = await approvals_db.get(env.db, pending.id)
    assert answered is not None and (answered.status, answered.choice, answered.message) == (
        "answered",
        "ship",
        "go ahead",
    )
    [resolved] = await kinds_of(env, chat.id, "approval_resolved")
    assert resolved["choice"] == "ship" and resolved["status"] == "answered"


async def test_parallel_branches_run_together_and_a_response_tool_decides_the_edge(env: AgentEnv) -> None:
    log = env.workspace / ".scripts" / "judge.jsonl"
    judge = env.script(
        [{"tools": [{"name": "respond", "input": {"verdict": "ok", "why": "both ran"}}]}],
        in_project=True,
        call_log=str(log),
    )
    write_flow(
        env,
        "fanout",
        f"""
        name: fanout
        outputs:
          verdict: "{{{{nodes.judge.response.verdict}}}}"
        entry: both
        nodes:
          - id: both
            type: parallel
            join: all
            branches:
              left:
                entry: slow_a
                nodes:
                  - {{id: slow_a, type: run, command: "date +%s.%N > a.start; sleep 1; date +%s.%N > a.end"}}
              right:
                entry: slow_b
                nodes:
                  - {{id: slow_b, type: run, command: "date +%s.%N > b.start; sleep 1; date +%s.%N > b.end"}}
          - id: judge
            type: call_llm
            model: "{judge}"
            thread: judge
            tools: none
            prompt: "Did both branches run? {{{{nodes.both.completed}}}}"
            response:
              type: object
              properties:
                verdict: {{type: string, enum: [ok, bad]}}
                why: {{type: string}}
              required: [verdict]
          - id: good
            type: save_message
            role: assistant
            content: "verdict: {{{{nodes.judge.response.verdict}}}} because {{{{nodes.judge.response.why}}}}"
        edges:
          - {{from: both, default: judge}}
          - from: judge
            cases:
              - {{to: good, condition: "nodes.judge.response.verdict == 'ok'"}}
        """,
    )
    chat = await flow_chat(env, "fanout")
    await env.chats.send(chat.id, "fan out")
    await env.finished(chat.id)

    def at(name: str) -> float:
        return float((env.workspace / name).read_text())

    assert at("a.start") < at("b.end") and at("b.start") < at("a.end"), "the branches overlapped"
    main = await threads_db.main(env.db, chat.id)
    assert main is not None
    said = await messages_db.thread_transcript(env.db, main.id)
    assert [m.text() or m.blocks[0].text for m in said] == ["fan out", "verdict: ok because both ran"]
    [call] = calls_in(log)
    assert call["tools"] == ["respond"], "tools: none offers only the response tool"
    # The judge works on a thread of its own: it sees its prompt, not the chat.
    assert [m["role"] for m in call["messages"]] == ["user"]
    assert "Did both branches run?" in call["messages"][0]["blocks"][0]["text"]
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.outputs == {"verdict": "ok"}


async def test_a_child_workflow_on_a_fork_sees_the_chat_and_returns_its_outputs(env: AgentEnv) -> None:
    log = env.workspace / ".scripts" / "helper.jsonl"
    helper = env.script([{"text": "from the child"}], in_project=True, call_log=str(log))
    write_flow(
        env,
        "helper",
        f"""
        name: helper
        inputs:
          word: {{type: string}}
        outputs:
          said: "{{{{nodes.talk.text}}}}"
        entry: talk
        nodes:
          - id: talk
            type: agent
            model: "{helper}"
            prompt: "say {{{{inputs.word}}}}"
        """,
    )
    write_flow(
        env,
        "parent",
        """
        name: parent
        entry: kid
        nodes:
          - id: kid
            type: workflow
            workflow: helper
            thread: fork
            inputs: {word: "{{chat.mode}}"}
          - id: after
            type: save_message
            role: assistant
            content: "child said: {{nodes.kid.said}}"
        edges:
          - {from: kid, default: after}
        """,
    )
    chat = await flow_chat(env, "parent")
    await env.chats.send(chat.id, "delegate")
    await env.finished(chat.id)
    [call] = calls_in(log)
    said = [b["text"] for m in call["messages"] for b in m["blocks"] if b["type"] == "text"]
    assert said == ["delegate", "say auto"], "the fork reads the chat, then the child's own prompt"
    main = await threads_db.main(env.db, chat.id)
    assert main is not None
    texts = [m.text() or m.blocks[0].text for m in await messages_db.thread_transcript(env.db, main.id)]
    assert texts == ["delegate", "child said: from the child"], "the child's messages stay on its fork"
    parent, child = sorted(await runs_db.for_chat(env.db, chat.id), key=lambda r: r.parent_id is not None)
    assert child.parent_id == parent.id and child.node == "kid" and child.workflow == "helper"
    assert (child.status, child.outputs) == (RunOutcome.DONE, {"said": "from the child"})
    assert child.thread_id != main.id


async def test_a_call_llm_nodes_tool_calls_run_through_the_manual_gate_and_ephemeral_calls_stay_off_the_thread(
    env: AgentEnv,
) -> None:
    planner = env.script(
        [{"text": "writing", "tools": [{"name": "shell", "input": {"command": "echo gated >> gated.log"}}]}],
        in_project=True,
    )
    write_flow(
        env,
        "gated",
        f"""
        name: gated
        outputs:
          executed: "{{{{nodes.apply.executed}}}}"
          denied: "{{{{nodes.apply.denied}}}}"
        entry: plan
        nodes:
          - id: plan
            type: call_llm
            model: "{planner}"
            ephemeral: true
            prompt: "make the change"
          - id: apply
            type: execute_tools
            source: plan
            mode: manual
        edges:
          - {{from: plan, default: apply}}
        """,
    )
    chat = await flow_chat(env, "gated")
    await env.chats.send(chat.id, "go")
    pending = await env.pending_approval(chat.id)
    assert pending.tool_name == "shell" and pending.kind == "tool"
    await env.gates.approve(pending.id)
    await env.finished(chat.id)
    assert (env.workspace / "gated.log").read_text() == "gated\n"
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.outputs == {"executed": 1, "denied": 0}
    main = await threads_db.main(env.db, chat.id)
    assert main is not None
    assert [m.role for m in await messages_db.thread_transcript(env.db, main.id)] == [Role.USER]


async def test_a_long_thread_is_compacted_and_the_agent_goes_on_from_the_summary(env: AgentEnv) -> None:
    summary_log = env.workspace / ".scripts" / "summary.jsonl"
    agent_log = env.workspace / ".scripts" / "agent.jsonl"
    summariser = env.script([{"text": "unused"}, {"text": "THE SUMMARY"}], in_project=True, call_log=str(summary_log))
    talker = env.script(
        [{"text": "a long first answer " * 20, "usage": {"input_tokens": 500, "output_tokens": 100}}],
        in_project=True,
        call_log=str(agent_log),
        final_text="after the summary",
    )
    write_flow(
        env,
        "compacting",
        f"""
        name: compacting
        entry: compact
        nodes:
          - {{id: compact, type: compact, threshold: 400, model: "{summariser}"}}
          - {{id: agent, type: agent, model: "{talker}"}}
        edges:
          - {{from: compact, default: agent}}
        """,
    )
    chat = await flow_chat(env, "compacting")
    await env.chats.send(chat.id, "first")
    await env.finished(chat.id)
    await env.chats.send(chat.id, "second")
    await env.finished(chat.id)
    [summarised] = calls_in(summary_log)
    assert [m["role"] for m in summarised["messages"]] == ["user", "assistant", "user"], "first exchange, then the ask"
    second = calls_in(agent_log)[-1]
    texts = [b["text"] for m in second["messages"] for b in m["blocks"] if b["type"] == "text"]
    assert len(texts) == 2 and "THE SUMMARY" in texts[0] and texts[1] == "second"
    runs = await runs_db.for_chat(env.db, chat.id)
    states = [s for s in await kinds_of(env, chat.id, "node_state") if s["path"] == "compact"]
    assert [s["status"] for s in states] == ["running", "done"] * 2
    assert all(r.status is RunOutcome.DONE for r in runs) and len(runs) == 2


async def test_an_expression_that_fails_at_run_time_pauses_with_the_node_and_expression(env: AgentEnv) -> None:
    write_flow(
        env,
        "divide",
        """
        name: divide
        inputs:
          by: {type: integer, default: 0}
        entry: say
        nodes:
          - id: say
            type: save_message
            role: assistant
            content: "{{string(10 / inputs.by)}}"
        """,
    )
    chat = await flow_chat(env, "divide")
    await env.chats.send(chat.id, "divide")
    paused = await env.status(chat.id, "paused")
    assert "node say" in paused.status_reason and "10 / inputs.by" in paused.status_reason
    assert await env.chats.cancel(chat.id)
    done = await env.finished(chat.id)
    assert done.status_reason == "cancelled by the user"
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.status is RunOutcome.CANCELLED


async def test_a_reference_to_a_node_whose_branch_was_not_taken_pauses_saying_so(env: AgentEnv) -> None:
    """`fix` runs only when the check fails; the check passes, and `report` reads `nodes.fix.stdout`.
    The run used to pause with "no value named 'fix' (not there yet, or misspelled)": it is spelled
    right, and it never will be there. The reason names the node, says why it has no value and how
    to guard the reference; a run's outputs read after its graph ended say the node was skipped."""
    write_flow(
        env,
        "branches",
        """
        name: branches
        inputs:
          guarded: {type: boolean, default: false}
        outputs:
          fixed: "{{nodes.fix.stdout}}"
        entry: check
        nodes:
          - id: check
            type: run
            command: "true"
          - id: fix
            type: run
            command: echo fixed
          - id: report
            type: save_message
            role: assistant
            content: "{{inputs.guarded ? 'checked' : nodes.fix.stdout}}"
        edges:
          - from: check
            cases:
              - {to: fix, condition: "nodes.check.exit_code != 0"}
            default: report
          - {from: fix, default: report}
        """,
    )
    chat = await flow_chat(env, "branches")
    await env.chats.send(chat.id, "check")
    paused = await env.status(chat.id, "paused")
    assert "node report" in paused.status_reason
    assert "misspelled" not in paused.status_reason
    assert "node `fix` has not run (its branch was not taken" in paused.status_reason
    assert "`nodes.fix.stdout` has no value; guard it with `has(nodes.fix)`" in paused.status_reason
    assert await env.chats.cancel(chat.id)
    await env.finished(chat.id)

    guarded = await flow_chat(env, "branches", {"guarded": True})
    await env.chats.send(guarded.id, "check")
    paused = await env.status(guarded.id, "paused")
    assert "outputs.fixed" in paused.status_reason
    assert "node `fix` was skipped (its branch was not taken), so `nodes.fix.stdout` has no value" in (
        paused.status_reason
    )


async def test_a_missing_input_pauses_naming_it_and_a_fixed_input_goes_on_when_resumed(env: AgentEnv) -> None:
    write_flow(
        env,
        "needs",
        """
        name: needs
        inputs:
          task: {type: string, description: What to do}
        entry: say
        nodes:
          - {id: say, type: save_message, role: assistant, content: "doing {{inputs.task}}"}
        """,
    )
    chat = await flow_chat(env, "needs")
    await env.chats.send(chat.id, "go")
    paused = await env.status(chat.id, "paused")
    assert "task: required (What to do)" in paused.status_reason
    await chats_db.set_workflow(env.db, chat.id, "needs", {"task": "the dishes"})
    await env.chats.resume(chat.id)
    await env.finished(chat.id)
    assert (await messages_db.transcript(env.db, chat.id))[-1].text() == "doing the dishes"


async def test_an_untrusted_projects_workflow_files_are_not_used_and_the_run_says_why(env: AgentEnv) -> None:
    write_flow(
        env,
        "agent",
        """
        name: agent
        entry: evil
        nodes:
          - {id: evil, type: run, command: "touch pwned"}
        """,
    )
    chat = await env.new_chat(env.script([{"text": "the built-in agent answered"}]))
    await env.chats.send(chat.id, "hello")
    await env.finished(chat.id)
    assert not (env.workspace / "pwned").exists()
    assert (await messages_db.transcript(env.db, chat.id))[-1].text() == "the built-in agent answered"
    [started] = await kinds_of(env, chat.id, "run_started")
    assert started["source"] == "builtin/agent.yaml" and "not trusted" in started["note"]
    # Trusted, the project's file shadows the built-in.
    await env.trust_project()
    await env.chats.send(chat.id, "again")
    await env.finished(chat.id)
    assert (env.workspace / "pwned").exists()
    started = (await kinds_of(env, chat.id, "run_started"))[-1]
    assert started["source"].endswith(".reliant/workflows/agent.yaml") and started["note"] == ""


CHECKED_FLOW = """
    name: checked
    entry: first
    nodes:
      - {id: first, type: run, command: "%s"}
      - {id: check, type: run, command: "bash scripts/check.sh"}
    edges:
      - {from: first, default: check}
    """


CHANGED_SCRIPT = (
    "the workspace's trusted files changed since this workflow was read: scripts/check.sh; review them and "
    "trust it again to run this step (`reliant trust`, or the trust step on the project's page) (node check)"
)


async def paused_for(env: AgentEnv, chat_id: str, times: int) -> list[str]:
    """The reasons of the chat's pauses, once it has paused `times` times."""

    async def reasons() -> list[str] | None:
        paused = [u["reason"] for u in await kinds_of(env, chat_id, "chat_status") if u["status"] == "paused"]
        return paused if len(paused) >= times else None

    return await eventually(reasons, timeout=30, interval=0.05)


async def changed_script_chat(env: AgentEnv) -> ChatInfo:
    """A chat whose run's first step rewrites the script the second one runs (trusted as it was, not
    as it is now), paused at the second."""
    scripts = env.workspace / "scripts"
    scripts.mkdir()
    (scripts / "check.sh").write_text("echo checked >> checked.txt\n")
    write_flow(env, "checked", CHECKED_FLOW % "echo 'echo pwned >> pwned.txt' >> scripts/check.sh")
    chat = await flow_chat(env, "checked")
    await env.chats.send(chat.id, "go")
    # A question for the user, not a failed step: the run pauses saying which file changed.
    assert (await env.status(chat.id, "paused")).status_reason == CHANGED_SCRIPT
    assert "pwned" in (scripts / "check.sh").read_text(), "the first step ran"
    assert not (env.workspace / "pwned.txt").exists(), "the changed script never ran"
    assert not (env.workspace / "checked.txt").exists(), "no part of it ran"
    return chat


async def test_a_run_step_whose_script_changed_since_the_workflow_was_read_is_refused(env: AgentEnv) -> None:
    chat = await changed_script_chat(env)
    # Resumed without trusting it again: asked again, refused again, paused again for the same reason.
    await env.chats.resume(chat.id)
    assert await paused_for(env, chat.id, 2) == [CHANGED_SCRIPT, CHANGED_SCRIPT]
    assert (await env.status(chat.id, "paused")).status_reason == CHANGED_SCRIPT
    assert not (env.workspace / "checked.txt").exists() and not (env.workspace / "pwned.txt").exists()
    # Reviewed and trusted as it is now, then resumed: the same step runs, once, and the run ends well.
    await env.trust_project()
    await env.chats.resume(chat.id)
    await env.finished(chat.id)
    assert (env.workspace / "checked.txt").read_text() == "checked\n", "the step ran once"
    assert (env.workspace / "pwned.txt").read_text() == "pwned\n", "the script as trusted now"
    ran = [u for u in await kinds_of(env, chat.id, "tool_finished") if u["tool_name"] == "run_command"]
    assert [r["status"] for r in ran] == ["ok", "ok"], "the refusals were no outcome of the step"
    check = next(
        s for s in await kinds_of(env, chat.id, "node_state") if s["path"] == "check" and s["status"] == "done"
    )
    assert check["outputs"]["exit_code"] == 0, check
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.status is RunOutcome.DONE
    assert len(await paused_for(env, chat.id, 2)) == 2, "no more pauses"


async def test_a_run_paused_for_a_changed_script_is_cancelled_as_usual(env: AgentEnv) -> None:
    chat = await changed_script_chat(env)
    assert await env.chats.cancel(chat.id)
    assert (await env.finished(chat.id)).status_reason == "cancelled by the user"
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.status is RunOutcome.CANCELLED
    ran = [u for u in await kinds_of(env, chat.id, "tool_finished") if u["tool_name"] == "run_command"]
    assert [r["status"] for r in ran if r["status"] == "ok"] == ["ok"], "only the first step ran"
    assert not (env.workspace / "checked.txt").exists() and not (env.workspace / "pwned.txt").exists()


async def test_a_run_step_whose_script_is_as_trusted_runs_it(env: AgentEnv) -> None:
    scripts = env.workspace / "scripts"
    scripts.mkdir()
    (scripts / "check.sh").write_text("echo checked > checked.txt\n")
    write_flow(env, "checked", CHECKED_FLOW % "echo notes > notes.txt")  # no trusted file changes
    chat = await flow_chat(env, "checked")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    assert (env.workspace / "notes.txt").exists() and (env.workspace / "checked.txt").exists()
    ran = [u for u in await kinds_of(env, chat.id, "tool_finished") if u["tool_name"] == "run_command"]
    assert [r["status"] for r in ran] == ["ok", "ok"]


async def test_node_states_and_outputs_stay_small_in_history(env: AgentEnv) -> None:
    write_flow(
        env,
        "loud",
        """
        name: loud
        outputs:
          size: "{{size(nodes.shout.stdout)}}"
        entry: shout
        nodes:
          - {id: shout, type: run, command: "head -c 300000 /dev/zero | tr '\\\\0' x"}
        """,
    )
    chat = await flow_chat(env, "loud")
    await env.chats.send(chat.id, "shout")
    await env.finished(chat.id)
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert 0 < run.outputs["size"] <= 10_000, "a command's output is capped in the node's outputs"
    history = await env.client.get_workflow_handle(f"chat-{chat.id}").fetch_history()
    assert len(history.to_json()) < 100_000, "the output stays in Postgres, out of the workflow's history"


@pytest.mark.timeout(900)
async def test_a_loop_of_two_thousand_iterations_continues_as_new_without_a_history_warning(env: AgentEnv) -> None:
    write_flow(
        env,
        "spin",
        """
        name: spin
        outputs:
          count: "{{nodes.spin.iterations}}"
        entry: spin
        nodes:
          - id: spin
            type: loop
            max_iterations: 2000
            body:
              entry: tick
              nodes:
                - {id: tick, type: save_message, role: user, thread: ticks, content: "tick {{iter.iteration}}"}
        """,
    )
    chat = await flow_chat(env, "spin")
    await env.chats.send(chat.id, "spin")
    await env.finished(chat.id, timeout=840)
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert (run.status, run.outputs) == (RunOutcome.DONE, {"count": 2000})
    ticks = await threads_db.by_key(env.db, chat.id, f"{run.id}/ticks")
    assert ticks is not None
    said = await messages_db.thread_transcript(env.db, ticks.id)
    assert [m.blocks[0].text for m in said] == [f"tick {i}" for i in range(2000)], "each iteration's message once"
    lengths = []
    async for execution in env.client.list_workflows(f"WorkflowId = 'chat-{chat.id}'"):
        description = await env.client.get_workflow_handle(execution.id, run_id=execution.run_id).describe()
        lengths.append(description.raw_description.workflow_execution_info.history_length)
    assert len(lengths) > 1 and max(lengths) < 10_240, f"a run reached Temporal's history warning: {lengths}"


async def test_a_projects_preset_shadows_the_builtin_one_and_a_node_overrides_its_fields(env: AgentEnv) -> None:
    log = env.workspace / ".scripts" / "reviewer.jsonl"
    model = env.script([{"text": "first"}, {"text": "second"}], in_project=True, call_log=str(log), own_turns=True)
    presets = env.workspace / ".reliant" / "presets"
    presets.mkdir(parents=True)
    (presets / "reviewer.yaml").write_text(f'model: "{model}"\ntemperature: 0.7\nsystem: THE PROJECT REVIEWER\n')
    write_flow(
        env,
        "judged",
        """
        name: judged
        entry: plain
        nodes:
          - {id: plain, type: call_llm, preset: reviewer, prompt: look}
          - {id: tuned, type: call_llm, preset: reviewer, temperature: 0.1, system: "OVERRIDDEN", prompt: again}
        edges:
          - {from: plain, default: tuned}
        """,
    )
    chat = await flow_chat(env, "judged")
    await env.chats.send(chat.id, "go")
    await env.finished(chat.id)
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.status is RunOutcome.DONE, run.error
    [pinned] = run.presets
    assert pinned.name == "reviewer" and "THE PROJECT REVIEWER" in pinned.text, "the run pins the project's preset"
    plain, tuned = calls_in(log)
    assert "THE PROJECT REVIEWER" in plain["system"] and plain["temperature"] == 0.7
    assert "You are reviewing a change" not in plain["system"], "the project's file shadows the built-in preset"
    assert "OVERRIDDEN" in tuned["system"] and "THE PROJECT REVIEWER" not in tuned["system"]
    assert tuned["temperature"] == 0.1


async def judged(env: AgentEnv, turns: list[dict[str, Any]], tools: str) -> list[dict[str, Any]]:
    """Run a flow of one `call_llm` node (`tools` its tool filter) that answers through `respond`,
    its model scripted by `turns`; the model's calls (it must answer verdict ok)."""
    log = env.workspace / ".scripts" / "judge.jsonl"
    judge = env.script(turns, in_project=True, call_log=str(log))
    write_flow(
        env,
        "judged",
        f"""
        name: judged
        outputs:
          verdict: "{{{{nodes.judge.response.verdict}}}}"
        entry: judge
        nodes:
          - id: judge
            type: call_llm
            model: "{judge}"
            thread: judge
            tools: {tools}
            prompt: "Is it ok?"
            response:
              type: object
              properties:
                verdict: {{type: string, enum: [ok, bad]}}
              required: [verdict]
        """,
    )
    chat = await flow_chat(env, "judged")
    await env.chats.send(chat.id, "judge it")
    await env.finished(chat.id)
    [run] = await runs_db.for_chat(env.db, chat.id)
    assert run.outputs == {"verdict": "ok"}
    return calls_in(log)


async def test_an_expression_too_costly_over_the_data_it_meets_pauses_the_run_saying_why(env: AgentEnv) -> None:
    picker = env.script([{"tools": [{"name": "respond", "input": {"items": list(range(20_000))}}]}], in_project=True)
    write_flow(
        env,
        "many",
        f"""
        name: many
        entry: pick
        nodes:
          - id: pick
            type: call_llm
            model: "{picker}"
            tools: none
            prompt: list some numbers
            response: {{type: object, properties: {{items: {{type: array, items: {{type: integer}}}}}}}}
          - id: double
            type: save_message
            role: assistant
            content: "{{{{nodes.pick.response.items.map(x, x * 2)}}}}"
        edges:
          - {{from: pick, default: double}}
        """,
    )
    chat = await flow_chat(env, "many")
    await env.chats.send(chat.id, "go")
    paused = await env.status(chat.id, "paused", timeout=30)  # the library would hold the GIL ~20 s (more, loaded)
    assert "node double" in paused.status_reason
    assert "not evaluated: over this data (lists of up to 20,000 items" in paused.status_reason
    assert "the limit is 1,000,000" in paused.status_reason
    assert await env.chats.cancel(chat.id)
    assert (await env.finished(chat.id)).status_reason == "cancelled by the user"


async def test_a_response_whose_arguments_are_not_json_is_no_answer_and_the_model_is_told_why(env: AgentEnv) -> None:
    """A `respond` call whose arguments were not a JSON object (kept marked, as a provider keeps
    them) is not the node's response: its result tells the model, which answers again."""
    turns = [
        {"tools": [{"name": "respond", "input": {INVALID_ARGUMENTS: "{verdict: ok"}}]},
        {"tools": [{"name": "respond", "input": {"verdict": "ok"}}]},
    ]
    [_, second] = await judged(env, turns, tools="none")

    results = [b for m in second["messages"] for b in m["blocks"] if b["type"] == "tool_result"]
    assert [(r["text"], r["is_error"]) for r in results] == [
        (
            'the arguments of respond were not a JSON object: "{verdict: ok"; nothing was run. '
            "Call it again with arguments that are one.",
            True,
        )
    ]


async def test_a_call_the_node_went_on_without_running_has_its_result_before_the_nodes_next_prompt(
    env: AgentEnv,
) -> None:
    """A `call_llm` node whose model called another tool instead of `respond` asks again: the call
    it did not run is answered as such, right after the answer and before the nudge, so the model
    is never sent a tool call without a result (which the providers' APIs refuse)."""
    (env.workspace / "a.txt").write_text("alpha\n")
    turns = [
        {"tools": [{"name": "view", "input": {"path": "a.txt"}}]},
        {"tools": [{"name": "respond", "input": {"verdict": "ok"}}]},
    ]
    [_, second] = await judged(env, turns, tools="all")

    shape = [(m["role"], [b["type"] for b in m["blocks"]]) for m in second["messages"]]
    assert shape == [
        ("user", ["text"]),
        ("assistant", ["tool_call"]),
        ("tool", ["tool_result"]),
        ("user", ["text"]),
    ], shape
