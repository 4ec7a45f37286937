"""The run-state machine, driven without Temporal: linear graphs, branches, loops, parallel joins,
outputs, failures and the errors that name the node and the expression."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from reliant.engine import (
    ChatInfo,
    ExpressionError,
    InvalidInputs,
    NodeStatus,
    OutputsMismatch,
    Run,
    RunStatus,
    Task,
    TaskStateError,
)
from tests.engine.driver import definition, drive, outputs

LINEAR = """
    name: linear
    inputs:
      who: {type: string}
      times: {type: integer, default: 2}
    outputs:
      greeting: "{{nodes.c.stdout}}"
      code: "{{nodes.c.exit_code}}"
      summary: "{{inputs.who}} x{{inputs.times}}"
    entry: a
    nodes:
      - {id: a, type: run, command: "echo {{inputs.who}}"}
      - {id: b, type: run, command: "echo {{nodes.a.stdout}} again"}
      - {id: c, type: run, command: "true"}
    edges:
      - {from: a, default: b}
      - {from: b, default: c}
"""


def test_linear_run_hands_out_one_task_at_a_time_and_ends_with_its_outputs() -> None:
    run = Run.start(definition(LINEAR), {"who": "ada"})
    [a] = run.take_ready()
    assert (a.path, a.instance, a.thread) == ("a", "a", "main")
    assert run.text(a, "command") == "echo ada"
    assert run.take_ready() == []  # handed out once
    assert run.status("a") is NodeStatus.RUNNING and run.status("b") is NodeStatus.WAITING
    run.finish(a, outputs(a, stdout="ada"))
    [b] = run.take_ready()
    assert run.text(b, "command") == "echo ada again"
    run.finish(b, outputs(b))
    [c] = run.take_ready()
    assert not run.done
    run.finish(c, outputs(c, stdout="hi", exit_code=0))
    assert run.done and not run.failed
    assert run.outputs() == {"greeting": "hi", "code": 0, "summary": "ada x2"}  # a whole {{…}} keeps its type


def test_inputs_are_checked_and_defaulted() -> None:
    d = definition(LINEAR)
    with pytest.raises(InvalidInputs) as err:
        Run.start(d, {"times": "3", "whom": "x"})
    assert err.value.problems == {
        "whom": "no such input (did you mean `who`?)",
        "times": "must be an integer, not str",
        "who": "required",
    }
    assert Run.start(d, {"who": "x"}).state.inputs == {"who": "x", "times": 2}


BRANCHES = """
    name: branches
    inputs:
      n: {type: integer}
    outputs:
      took: "{{has(nodes.small) ? 'small' : has(nodes.big) ? 'big' : 'other'}}"
    entry: check
    nodes:
      - {id: check, type: run, command: "test {{inputs.n}}"}
      - {id: small, type: run, command: small}
      - {id: big, type: run, command: big}
      - {id: also_big, type: run, command: big too}
      - {id: other, type: run, command: other}
    edges:
      - from: check
        cases:
          - {to: small, condition: "inputs.n < 10"}
          - {to: [big, also_big], condition: "inputs.n < 100"}
          - {to: other, condition: "inputs.n < 1000"}
"""


@pytest.mark.parametrize(
    ("n", "ran", "took"),
    [
        (5, ["check", "small"], "small"),  # the first true case wins, not the later ones
        (50, ["check", "big", "also_big"], "big"),  # `to` a list: both start together
        (500, ["check", "other"], "other"),
        (5000, ["check"], "other"),  # no case, no default: the branch ends
    ],
)
def test_edges_take_the_first_true_case_then_the_default(n: int, ran: list[str], took: str) -> None:
    run = Run.start(definition(BRANCHES), {"n": n})
    assert drive(run) == ran
    assert run.outputs() == {"took": took}
    for node in ("small", "big", "also_big", "other"):
        assert run.status(node) is (NodeStatus.DONE if node in ran else NodeStatus.SKIPPED)


def test_default_and_several_entries() -> None:
    d = definition(
        """
        name: fan
        entry: [a, b]
        nodes:
          - {id: a, type: run, command: a}
          - {id: b, type: run, command: b}
          - {id: c, type: run, command: c}
          - {id: d, type: run, command: d}
        edges:
          - {from: a, cases: [{to: c, condition: "nodes.a.exit_code != 0"}], default: d}
        """
    )
    run = Run.start(d, {})
    assert [t.path for t in run.take_ready()] == ["a", "b"]  # entries start together
    assert [t.path for t in run.running()] == ["a", "b"]
    assert drive(Run.start(d, {})) == ["a", "b", "d"]


def test_a_node_runs_once_per_graph_even_when_two_edges_reach_it() -> None:
    d = definition(
        """
        name: twice
        entry: [a, b]
        nodes:
          - {id: a, type: run, command: a}
          - {id: b, type: run, command: b}
          - {id: c, type: run, command: c}
        edges:
          - {from: a, default: c}
          - {from: b, default: c}
        """
    )
    assert drive(Run.start(d, {})) == ["a", "b", "c"]


TDD = """
    name: tdd
    inputs:
      rounds: {type: integer, default: 5}
    outputs:
      passed: "{{nodes.fix.last.check.exit_code == 0}}"
      iterations: "{{nodes.fix.iterations}}"
    entry: fix
    nodes:
      - id: fix
        type: loop
        max_iterations: "{{inputs.rounds}}"
        while: "iter.iteration == 0 || iter.previous.check.exit_code != 0"
        body:
          entry: implement
          nodes:
            - id: implement
              type: agent
              prompt: >-
                {{iter.iteration == 0 ? 'start'
                  : 'round ' + string(iter.iteration) + ': ' + iter.previous.check.stdout}}
            - {id: check, type: run, command: "pytest  # {{nodes.implement.text}}"}
          edges:
            - {from: implement, default: check}
      - {id: report, type: save_message, content: "{{nodes.fix.iterations}} rounds"}
    edges:
      - {from: fix, default: report}
"""


def test_loop_repeats_its_body_while_the_condition_holds_and_sees_the_previous_iteration() -> None:
    prompts: list[str] = []
    commands: list[str] = []

    def answer(run: Run, task: Task) -> dict[str, object] | None:
        if task.node.kind == "agent":
            prompts.append(run.text(task, "prompt"))
            return {"text": f"try {len(prompts)}"}
        if task.node.kind == "run":
            commands.append(run.text(task, "command"))
            return {"exit_code": 0 if len(commands) == 3 else 1, "stdout": f"failures {len(commands)}"}
        return None

    run = Run.start(definition(TDD), {})
    ran = drive(run, answer)
    assert ran == [
        "fix[0]/implement",
        "fix[0]/check",
        "fix[1]/implement",
        "fix[1]/check",
        "fix[2]/implement",
        "fix[2]/check",
        "report",
    ]
    assert prompts == ["start", "round 1: failures 1", "round 2: failures 2"]
    assert commands == ["pytest  # try 1", "pytest  # try 2", "pytest  # try 3"]  # nodes.* of this iteration
    assert run.outputs() == {"passed": True, "iterations": 3}
    loop = run.node_outputs("fix")
    assert loop["iterations"] == 3 and loop["last"]["check"]["stdout"] == "failures 3"


def test_loop_stops_at_max_iterations() -> None:
    run = Run.start(definition(TDD), {"rounds": 2})
    ran = drive(run, lambda r, t: {"exit_code": 1} if t.node.kind == "run" else None)
    assert ran == ["fix[0]/implement", "fix[0]/check", "fix[1]/implement", "fix[1]/check", "report"]
    assert run.outputs() == {"passed": False, "iterations": 2}


def test_a_2000_iteration_loop_keeps_state_bounded() -> None:
    d = definition(
        """
        name: long
        outputs: {count: "{{nodes.spin.iterations}}", last: "{{nodes.spin.last.step.stdout}}"}
        entry: spin
        nodes:
          - id: spin
            type: loop
            max_iterations: 2000
            body:
              entry: step
              nodes:
                - {id: step, type: run, command: "echo {{iter.iteration}}"}
        """
    )
    run = Run.start(d, {})
    sizes = []
    steps = 0
    while not run.done:
        [task] = run.take_ready()
        assert task.instance == f"spin[{steps}]/step" == run.instance("spin/step")
        run.finish(task, outputs(task, stdout=run.text(task, "command")))
        steps += 1
        if steps in (2, 1000, 1999):
            sizes.append(len(repr(run.state)))
    assert steps == 2000
    assert run.outputs() == {"count": 2000, "last": "echo 1999"}
    assert run.instance("spin/step") == "spin[1999]/step", "a done loop's body: as it last ran"
    assert max(sizes) - min(sizes) <= 8  # only the digits of the iteration number grow


def test_while_false_at_first_runs_no_iteration() -> None:
    d = definition(
        """
        name: never
        outputs: {n: "{{nodes.l.iterations}}", last: "{{nodes.l.last}}"}
        entry: l
        nodes:
          - id: l
            type: loop
            max_iterations: 3
            while: "false"
            body: {entry: x, nodes: [{id: x, type: run, command: x}]}
        """
    )
    run = Run.start(d, {})
    assert run.done and run.outputs() == {"n": 0, "last": {}}
    assert run.status("l/x") is NodeStatus.WAITING


PARALLEL = """
    name: par
    outputs:
      done: "{{nodes.reviews.completed}}"
      security: "{{has(nodes.reviews.branches.security) ? nodes.reviews.branches.security.sec.text : ''}}"
    entry: reviews
    nodes:
      - id: reviews
        type: parallel
        join: JOIN
        branches:
          security:
            entry: sec
            nodes: [{id: sec, type: agent, prompt: security}]
          style:
            entry: sty
            nodes:
              - {id: sty, type: agent, prompt: style}
              - {id: sty2, type: run, command: lint}
            edges: [{from: sty, default: sty2}]
          tests:
            entry: tst
            nodes: [{id: tst, type: run, command: pytest}]
      - {id: after, type: run, command: "echo {{nodes.reviews.completed}}"}
    edges:
      - {from: reviews, default: after}
"""


def _parallel(join: str) -> Run:
    return Run.start(definition(PARALLEL.replace("JOIN", join)), {})


def test_parallel_all_waits_for_every_branch_and_shows_their_outputs_to_the_join() -> None:
    run = _parallel("all")
    tasks = run.take_ready()
    assert [t.instance for t in tasks] == ["reviews/security/sec", "reviews/style/sty", "reviews/tests/tst"]
    by = {t.node.id: t for t in tasks}
    run.finish(by["tst"], outputs(by["tst"]))
    run.finish(by["sec"], outputs(by["sec"], text="no secrets"))
    run.finish(by["sty"], outputs(by["sty"]))
    assert run.status("reviews") is NodeStatus.RUNNING
    [sty2] = run.take_ready()
    run.finish(sty2, outputs(sty2))
    [after] = run.take_ready()
    assert run.text(after, "command") == 'echo ["tests", "security", "style"]'  # in the order they finished
    run.finish(after, outputs(after))
    assert run.outputs() == {"done": ["tests", "security", "style"], "security": "no secrets"}
    assert run.node_outputs("reviews")["branches"]["style"]["sty2"]["exit_code"] == 0


def test_parallel_any_finishes_with_the_first_branch_and_cancels_the_others() -> None:
    run = _parallel("any")
    by = {t.node.id: t for t in run.take_ready()}
    cancelled = run.finish(by["tst"], outputs(by["tst"]))
    assert sorted(t.instance for t in cancelled) == ["reviews/security/sec", "reviews/style/sty"]
    assert run.status("reviews/security/sec") is NodeStatus.CANCELLED
    assert run.status("reviews/style/sty2") is NodeStatus.SKIPPED
    assert run.status("reviews") is NodeStatus.DONE
    with pytest.raises(TaskStateError, match="is not running \\(it is cancelled\\)"):
        run.finish(by["sec"], outputs(by["sec"]))  # a late result of a cancelled task
    [after] = run.take_ready()
    run.finish(after, outputs(after))
    assert run.outputs() == {"done": ["tests"], "security": ""}


def test_parallel_n_finishes_with_n_branches() -> None:
    run = Run.start(definition(PARALLEL.replace("join: JOIN", "join: n\n        n: 2")), {})
    by = {t.node.id: t for t in run.take_ready()}
    assert run.finish(by["sec"], outputs(by["sec"])) == []
    cancelled = run.finish(by["tst"], outputs(by["tst"]))
    assert [t.instance for t in cancelled] == ["reviews/style/sty"]
    assert run.node_outputs("reviews")["completed"] == ["security", "tests"]


def test_a_failed_branch_fails_an_all_join_but_not_an_any_join_that_can_still_be_met() -> None:
    run = _parallel("all")
    by = {t.node.id: t for t in run.take_ready()}
    cancelled = run.fail(by["sec"], "model refused")
    assert sorted(t.instance for t in cancelled) == ["reviews/style/sty", "reviews/tests/tst"]
    assert run.done and run.failed
    assert run.error == "reviews/security/sec: model refused"
    assert run.status("reviews") is NodeStatus.FAILED and run.status("after") is NodeStatus.SKIPPED

    run = _parallel("any")
    by = {t.node.id: t for t in run.take_ready()}
    assert run.fail(by["sec"], "boom") == []
    assert run.fail(by["tst"], "boom") == []
    assert not run.done
    run.finish(by["sty"], outputs(by["sty"]))
    [sty2] = run.take_ready()
    run.finish(sty2, outputs(sty2))
    assert run.node_outputs("reviews")["completed"] == ["style"]


def test_nested_loop_in_parallel_in_loop() -> None:
    d = definition(
        """
        name: nested
        outputs:
          rounds: "{{nodes.outer.iterations}}"
          inner: "{{nodes.outer.last.par.branches.a.inner.iterations}}"
        entry: outer
        nodes:
          - id: outer
            type: loop
            max_iterations: 2
            body:
              entry: par
              nodes:
                - id: par
                  type: parallel
                  branches:
                    a:
                      entry: inner
                      nodes:
                        - id: inner
                          type: loop
                          max_iterations: 3
                          while: "iter.iteration < 2"
                          body:
                            entry: step
                            nodes:
                              - {id: step, type: run, command: "{{iter.iteration}}"}
                    b:
                      entry: solo
                      nodes: [{id: solo, type: approval, question: "ok?"}]
        """
    )
    run = Run.start(d, {})
    ran = drive(run)
    assert ran == [
        "outer[0]/par/a/inner[0]/step",
        "outer[0]/par/b/solo",
        "outer[0]/par/a/inner[1]/step",
        "outer[1]/par/a/inner[0]/step",
        "outer[1]/par/b/solo",
        "outer[1]/par/a/inner[1]/step",
    ]
    assert run.outputs() == {"rounds": 2, "inner": 2}
    assert Run.start(d, {}).take_ready()[0].key(3) == "main:outer[0]/par/a/inner[0]/step#3"


def test_keys_differ_per_thread_iteration_and_call() -> None:
    d = definition(
        """
        name: keys
        entry: l
        nodes:
          - id: l
            type: loop
            max_iterations: 2
            body:
              entry: [talk, side]
              nodes:
                - {id: talk, type: call_llm, prompt: hi}
                - {id: side, type: call_llm, prompt: hi, thread: reviewer}
        """
    )
    keys: list[str] = []

    def record(run: Run, task: Task) -> None:
        keys.extend([task.key(0), task.key(1)])

    drive(Run.start(d, {}), record)
    assert keys == [
        "main:l[0]/talk#0",
        "main:l[0]/talk#1",
        "reviewer:l[0]/side#0",
        "reviewer:l[0]/side#1",
        "main:l[1]/talk#0",
        "main:l[1]/talk#1",
        "reviewer:l[1]/side#0",
        "reviewer:l[1]/side#1",
    ]
    assert len(set(keys)) == len(keys)


def test_a_failed_task_fails_the_run_and_its_loop() -> None:
    run = Run.start(definition(TDD), {})
    [implement] = run.take_ready()
    run.finish(implement, outputs(implement))
    [check] = run.take_ready()
    assert run.fail(check, "daemon gone") == []
    assert run.failed and run.error == "fix[0]/check: daemon gone"
    assert run.status("fix") is NodeStatus.FAILED and run.status("report") is NodeStatus.SKIPPED
    assert run.take_ready() == []


def test_abort_cancels_what_runs() -> None:
    run = _parallel("all")
    tasks = run.take_ready()
    cancelled = run.abort("cancelled by the user")
    assert sorted(cancelled, key=lambda t: t.instance) == sorted(tasks, key=lambda t: t.instance)
    assert run.state.status is RunStatus.FAILED and run.error == "cancelled by the user"
    assert run.abort("again") == []


def test_an_expression_error_names_file_node_field_and_expression_and_changes_nothing() -> None:
    d = definition(
        """
        name: broken
        inputs: {n: {type: integer}}
        entry: a
        nodes:
          - {id: a, type: run, command: "x"}
          - {id: b, type: run, command: "{{10 / inputs.n}}"}
        edges:
          - from: a
            cases:
              - {to: b, condition: "nodes.a.stdout.startsWith('ok') && 10 / inputs.n > 1"}
        """,
        source="flows/broken.yaml",
    )
    run = Run.start(d, {"n": 0})
    [a] = run.take_ready()
    before = copy.deepcopy(run.state)
    with pytest.raises(ExpressionError) as err:
        run.finish(a, outputs(a, stdout="ok"))
    assert (err.value.node, err.value.field) == ("a", "condition")
    assert err.value.expression == "nodes.a.stdout.startsWith('ok') && 10 / inputs.n > 1"
    assert str(err.value) == (
        "flows/broken.yaml:11:29: node a: condition: division by zero in CEL expression "
        "(in `nodes.a.stdout.startsWith('ok') && 10 / inputs.n > 1`)"
    )
    assert run.state == before  # all or nothing: a is still running, nothing reached
    assert run.status("a") is NodeStatus.RUNNING
    run.finish(a, outputs(a, stdout="no"))  # the same task can still be reported (e.g. after a fix of input)
    assert run.done


def test_a_template_error_names_the_field() -> None:
    d = definition(
        """
        name: t
        inputs: {n: {type: integer}}
        entry: b
        nodes:
          - {id: b, type: run, command: "echo {{10 / inputs.n}}", timeout_seconds: "{{inputs.n}}"}
        """
    )
    run = Run.start(d, {"n": 0})
    [b] = run.take_ready()
    with pytest.raises(ExpressionError, match=r"test.yaml:6:41: node b: command: division by zero"):
        run.text(b, "command")
    assert run.integer(b, "timeout_seconds") == 0


def test_a_runtime_loop_bound_must_be_a_positive_integer() -> None:
    with pytest.raises(ExpressionError, match="node fix: max_iterations: must be a positive integer, not int 0"):
        Run.start(definition(TDD), {"rounds": 0})


def test_outputs_that_are_not_the_kinds_are_refused() -> None:
    d = definition(
        """
        name: o
        entry: [r, q]
        nodes:
          - {id: r, type: run, command: x}
          - {id: q, type: approval, question: "ok?", choices: [yes_do, no_stop]}
        """
    )
    run = Run.start(d, {})
    r, q = run.take_ready()
    with pytest.raises(OutputsMismatch, match="missing stderr; unexpected extra"):
        run.finish(r, {"exit_code": 0, "stdout": "", "extra": 1})
    with pytest.raises(OutputsMismatch, match="exit_code: bool True is not the right type"):
        run.finish(r, {"exit_code": True, "stdout": "", "stderr": ""})
    with pytest.raises(OutputsMismatch, match="JSON data"):
        run.finish(r, {"exit_code": 0, "stdout": b"bytes", "stderr": ""})
    with pytest.raises(OutputsMismatch, match="choice 'maybe' is not one of yes_do, no_stop"):
        run.finish(q, {"choice": "maybe", "note": ""})
    run.finish(q, {"choice": "no_stop", "note": "later"})
    assert run.node_outputs("q") == {"choice": "no_stop", "note": "later"}


def test_a_response_tool_outputs_must_match_its_schema_and_feed_conditions() -> None:
    d = definition(
        """
        name: verdict
        outputs: {ok: "{{nodes.judge.response.verdict == 'approve'}}"}
        entry: judge
        nodes:
          - id: judge
            type: call_llm
            tools: none
            response:
              type: object
              properties:
                verdict: {type: string, enum: [approve, reject]}
                score: {type: integer}
        """
    )
    run = Run.start(d, {})
    [judge] = run.take_ready()
    with pytest.raises(OutputsMismatch, match="response does not match"):
        run.finish(judge, outputs(judge, response={"verdict": "approve", "score": "high"}))
    run.finish(judge, outputs(judge, response={"verdict": "approve", "score": 9}))
    assert run.outputs() == {"ok": True}


def test_stale_task_from_an_earlier_iteration_is_refused() -> None:
    run = Run.start(definition(TDD), {})
    [implement] = run.take_ready()
    run.finish(implement, outputs(implement))
    [check] = run.take_ready()
    with pytest.raises(TaskStateError, match="is not running \\(it is done\\)"):
        run.finish(implement, outputs(implement))
    run.finish(check, outputs(check, exit_code=1))
    [implement1] = run.take_ready()
    stale = dataclasses.replace(implement1, instance="fix[0]/implement")
    with pytest.raises(TaskStateError, match="earlier iteration; fix\\[1\\]/implement runs now"):
        run.finish(stale, outputs(stale))


def test_chat_namespace_and_presets_with_overrides() -> None:
    d = definition(
        """
        name: chatty
        presets:
          careful: {model: "anthropic:claude-x", system: "Be careful in {{chat.mode}} mode.", temperature: 0.2,
                    tools: {names: ["view", "mcp__git__*"]}}
        entry: a
        nodes:
          - {id: a, type: agent, preset: careful, model: "{{chat.model}}", prompt: "chat {{chat.id}}"}
          - {id: b, type: call_llm, prompt: hi}
        edges: [{from: a, default: b}]
        """
    )
    run = Run.start(d, {}, ChatInfo(id="c1", mode="plan", model="openai:gpt-x"))
    [a] = run.take_ready()
    call = run.llm(a)
    assert (call.model, call.system, call.temperature) == ("openai:gpt-x", "Be careful in plan mode.", 0.2)
    assert call.tools.allows("mcp__git__log") and call.tools.allows("view") and not call.tools.allows("shell")
    assert run.text(a, "prompt") == "chat c1"
    run.finish(a, outputs(a))
    [b] = run.take_ready()
    default = run.llm(b)
    assert (default.model, default.system, default.temperature) == (None, None, None)
    assert default.tools.allows("anything")


def test_workflow_node_inputs_keep_types_and_its_outputs_are_free_form() -> None:
    d = definition(
        """
        name: parent
        inputs: {rounds: {type: integer, default: 4}}
        outputs: {child: "{{nodes.sub.approved}}"}
        entry: sub
        nodes:
          - {id: sub, type: workflow, workflow: review, thread: fork,
             inputs: {task: "do {{inputs.rounds}}", max_rounds: "{{inputs.rounds}}", tags: [a, b]}}
        """
    )
    run = Run.start(d, {})
    [sub] = run.take_ready()
    assert sub.thread == "main", "`thread: fork` says how the child's thread relates to the caller's (main)"
    assert run.child_inputs(sub) == {"task": "do 4", "max_rounds": 4, "tags": ["a", "b"]}
    run.finish(sub, {"approved": True, "rounds": 2})
    assert run.outputs() == {"child": True}


def test_an_error_deep_in_a_step_undoes_the_whole_step() -> None:
    d = definition(
        """
        name: undo
        inputs: {zero: {type: integer, default: 0}}
        entry: l
        nodes:
          - id: l
            type: loop
            max_iterations: 3
            while: "iter.iteration == 0 || 10 / (iter.previous.b.exit_code * inputs.zero) > 1"
            body:
              entry: a
              nodes:
                - {id: a, type: run, command: a}
                - {id: b, type: run, command: b}
                - {id: never, type: run, command: c}
              edges:
                - {from: a, default: b}
                - {from: b, cases: [{to: never, condition: "nodes.b.exit_code == 99"}]}
        """
    )
    run = Run.start(d, {})
    [a] = run.take_ready()
    run.finish(a, outputs(a))
    [b] = run.take_ready()
    before = copy.deepcopy(run.state)
    with pytest.raises(ExpressionError, match="node l: while: division by zero"):
        run.finish(b, outputs(b, exit_code=1))  # b done, the body ends, `never` skipped, `while` fails
    assert run.state == before
    assert list(run.state.nodes) == list(before.nodes)  # the order too (it decides hand-out order)
    assert run.status("l/b") is NodeStatus.RUNNING and run.state.nodes["l"].iteration == 0
