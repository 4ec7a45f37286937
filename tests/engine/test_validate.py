"""Validation: every problem at once, each at file:line:col, before anything runs."""

from __future__ import annotations

import textwrap

import pytest

from reliant.engine import Catalog, InvalidDefinition, check_definition, load_definition, parse_definition
from reliant.engine.definition import Definition, LlmSettings, Preset
from reliant.engine.problems import Position


def check(text: str, catalog: Catalog | None = None) -> list[str]:
    return [str(p) for p in check_definition(textwrap.dedent(text).lstrip(), "w.yaml", catalog)[1]]


def known(*texts: str) -> dict[str, Definition]:
    found: dict[str, Definition] = {}
    for text in texts:
        d = parse_definition(textwrap.dedent(text).lstrip(), "other.yaml").definition
        assert d is not None
        found[d.name] = d
    return found


def test_graph_problems_all_at_once() -> None:
    assert check(
        """
        name: graph
        entry: [a, ghost]
        nodes:
          - {id: a, type: run, command: a}
          - {id: b, type: run, command: b}
          - {id: c, type: run, command: c}
          - {id: lonely, type: run, command: x}
          - id: l
            type: loop
            max_iterations: 2
            body:
              entry: inner
              nodes: [{id: inner, type: run, command: x}]
          - {id: a, type: run, command: again}
        edges:
          - {from: a, default: b}
          - {from: b, cases: [{to: c, condition: "true"}], default: inner}
          - {from: c, default: [a, nowhere]}
          - {from: a, default: l}
        """
    ) == [
        "w.yaml:2:8: entry `ghost` is not a node of the workflow",
        "w.yaml:7:5: node `lonely` is never reached: it is not an entry and no edge leads to it",
        "w.yaml:8:5: node `l` is never reached: it is not an entry and no edge leads to it",
        "w.yaml:14:5: node id `a` is used twice (first at line 4); ids are unique",
        "w.yaml:17:5: edge from `b` goes to `inner`, which is not a node of the workflow (`inner` is in the body "
        "of loop `l`; edges stay within one graph)",
        "w.yaml:18:5: edge from `c` goes to `nowhere`, which is not a node of the workflow",
        "w.yaml:18:5: edges make a cycle a → b → c → a; to repeat steps, put them in a `loop` node (which has a bound)",
        "w.yaml:19:5: node `a` has a second edge entry; put all its cases in one",
    ]


def test_references_are_checked_against_inputs_nodes_and_their_outputs() -> None:
    assert check(
        """
        name: refs
        inputs: {task: {type: string}}
        entry: a
        nodes:
          - {id: a, type: run, command: "{{inputs.tsk}} {{nodes.b.stdout}} {{nodes.nope}} {{nodes.b.text}}"}
          - {id: b, type: agent, prompt: "{{inputs.task}} {{nodes.a.stdout}}"}
        edges:
          - {from: a, default: b}
        """
    ) == [
        "w.yaml:5:36: node `a`: command: unknown input `tsk` (did you mean `task`?) (in `inputs.tsk`)",
        "w.yaml:5:51: node `a`: command: node `b` (agent) has no output `stdout`; it has text, turns, message_id "
        "(in `nodes.b.stdout`)",
        "w.yaml:5:70: node `a`: command: unknown node `nope` (in `nodes.nope`)",
    ]


def test_messages_for_nodes_out_of_reach() -> None:
    found = check(
        """
        name: reach
        entry: l
        nodes:
          - id: l
            type: loop
            max_iterations: 2
            body:
              entry: step
              nodes: [{id: step, type: run, command: "{{nodes.l.iterations}} {{iter.previous.stp}} {{nodes.step.x}}"}]
          - id: p
            type: parallel
            branches: {left: {entry: lt, nodes: [{id: lt, type: run, command: x}]}}
          - {id: after, type: run, command: "{{nodes.step.stdout}} {{nodes.lt.stdout}} {{iter.iteration}}"}
        edges:
          - {from: l, default: p}
          - {from: p, default: after}
        """
    )
    assert found == [
        "w.yaml:9:49: node `step`: command: `l` is still running here: its outputs exist once it ends "
        "(in `nodes.l.iterations`)",
        "w.yaml:9:72: node `step`: command: `stp` is not a node in the body of loop `l` (did you mean `step`?) "
        "(in `iter.previous.stp`)",
        "w.yaml:9:94: node `step`: command: `step` cannot read its own outputs: they exist once it is done "
        "(in `nodes.step.x`)",
        "w.yaml:13:40: node `after`: command: `step` is in the body of loop `l`; read nodes.l.last.step after the "
        "loop, or iter.previous.step inside it (in `nodes.step.stdout`)",
        "w.yaml:13:62: node `after`: command: `lt` is in branch `left` of `p`; after it, read "
        "nodes.p.branches.left.lt (in `nodes.lt.stdout`)",
        "w.yaml:13:82: node `after`: command: `iter` is only set inside a loop (in `iter.iteration`)",
    ]


def test_output_fields_unknown_names_and_scalars() -> None:
    assert check(
        """
        name: fields
        entry: a
        nodes:
          - {id: a, type: run, command: x}
          - {id: b, type: agent, prompt: "{{nodes.a.exitcode}} {{nodes.a.exit_code.x}} {{chat.user}} {{env.HOME}}"}
        edges: [{from: a, default: b}]
        """
    ) == [
        "w.yaml:5:37: node `b`: prompt: node `a` (run) has no output `exitcode` (did you mean `exit_code`?); it has "
        "exit_code, stdout, stderr (in `nodes.a.exitcode`)",
        "w.yaml:5:58: node `b`: prompt: `nodes.a.exit_code` is an integer, which has no field `x` "
        "(in `nodes.a.exit_code.x`)",
        "w.yaml:5:82: node `b`: prompt: `chat` has no field `user`; it has id, mode, model, project (in `chat.user`)",
        "w.yaml:5:96: node `b`: prompt: unknown name `env` (in `env.HOME`); expressions read inputs.*, "
        "nodes.<id>.*, iter.* (in loops) and chat.*",
    ]


def test_type_errors_found_on_sample_values() -> None:
    assert check(
        """
        name: types
        inputs:
          ratio: {type: number, default: 0.5}
          rounds: {type: integer, default: 2}
        entry: a
        nodes:
          - {id: a, type: run, command: "{{inputs.ratio * 2}}", timeout_seconds: "{{inputs.ratio}}"}
          - id: l
            type: loop
            max_iterations: "{{inputs.rounds > 1}}"
            while: "nodes.a.stdout"
            body: {entry: s, nodes: [{id: s, type: run, command: "{{inputs.ratio * 2.0}} {{inputs.rounds + 1}}"}]}
        edges:
          - {from: a, cases: [{to: l, condition: "nodes.a.exit_code == 0 && nodes.a.stdout > 1"}]}
        """
    ) == [
        "w.yaml:7:36: node `a`: command: type error: Unsupported operation: float * int (in `inputs.ratio * 2`)",
        "w.yaml:7:77: node `a`: timeout_seconds: must be an integer, not double 0.0 (in `inputs.ratio`)",
        "w.yaml:10:24: node `l`: max_iterations: must be an integer, not bool False (in `inputs.rounds > 1`)",
        "w.yaml:11:13: node `l`: while: a condition must be true or false, not string '' (in `nodes.a.stdout`)",
        "w.yaml:14:43: node `a`: condition: type error: No such overload: the operation is not defined for the given "
        "operand types (in `nodes.a.exit_code == 0 && nodes.a.stdout > 1`)",
    ]


def test_iter_previous_read_without_a_guard_in_the_first_iteration() -> None:
    found = check(
        """
        name: first
        entry: l
        nodes:
          - id: l
            type: loop
            max_iterations: 3
            while: "iter.iteration == 0 || iter.previous.s.exit_code != 0"
            body:
              entry: s
              nodes:
                - {id: s, type: run, command: "{{iter.previous.s.stdout}}"}
                - {id: t, type: run, command: "{{iter.iteration > 0 ? iter.previous.s.stdout : 'first'}}"}
              edges: [{from: s, default: t}]
        """
    )
    assert found == [
        "w.yaml:11:42: node `s`: command: `iter.previous` is empty in the first iteration, so this fails there; "
        "guard it, e.g. `iter.iteration == 0 ? … : iter.previous…` (in `iter.previous.s.stdout`)"
    ]


def test_presets_workflows_and_child_inputs() -> None:
    other = known(
        """
        name: helper
        inputs: {goal: {type: string}, level: {type: integer, default: 1}}
        outputs: {summary: "x"}
        entry: a
        nodes: [{id: a, type: run, command: x}]
        """
    )
    text = """
        name: parent
        presets: {mine: {temperature: 0.1}}
        entry: a
        nodes:
          - {id: a, type: agent, preset: mine}
          - {id: b, type: agent, preset: planer}
          - {id: c, type: workflow, workflow: helper, inputs: {levl: 2}}
          - {id: d, type: workflow, workflow: helpr}
          - {id: e, type: run, command: "{{nodes.c.summary}} {{nodes.c.other}}"}
        edges:
          - {from: a, default: [b, c, d]}
          - {from: c, default: e}
        """
    presets = {"planner": Preset("planner", LlmSettings(), Position("p.yaml", 1, 1))}
    assert check(text, Catalog(workflows=other, presets=presets)) == [
        "w.yaml:6:5: node `b`: unknown preset `planer` (did you mean `planner`?); the presets are mine, planner",
        "w.yaml:7:5: node `c`: workflow `helper` has no input `levl` (did you mean `level`?)",
        "w.yaml:7:5: node `c`: workflow `helper` needs input `goal`",
        "w.yaml:8:5: node `d`: unknown workflow `helpr` (did you mean `helper`?)",
        "w.yaml:9:56: node `e`: command: node `c` (workflow) has no output `other`; it has summary "
        "(in `nodes.c.other`)",
    ]
    # without a catalog of workflows, names of other workflows are not checked
    assert "unknown workflow" not in " ".join(check(text))


def test_execute_tools_needs_a_reachable_call_llm_source() -> None:
    assert check(
        """
        name: tools
        entry: think
        nodes:
          - {id: think, type: call_llm}
          - {id: act, type: execute_tools, source: think}
          - {id: bad, type: execute_tools, source: act}
          - {id: worse, type: execute_tools, source: nothing}
        edges: [{from: think, default: [act, bad, worse]}]
        """
    ) == [
        "w.yaml:6:5: node `bad`: source `act` is a execute_tools node, not call_llm",
        "w.yaml:7:5: node `worse`: source `nothing` is not a node",
    ]


def test_a_workflow_that_calls_itself_directly_or_through_another() -> None:
    direct = """
        name: again
        entry: a
        nodes: [{id: a, type: workflow, workflow: again}]
        """
    assert check(direct, Catalog(workflows={})) == [
        "w.yaml:3:9: node `a`: workflow `again` calls itself (again → again) with nothing to stop it"
    ]
    via = known(
        """
        name: middle
        entry: m
        nodes: [{id: m, type: workflow, workflow: top}]
        """
    )
    text = """
        name: top
        entry: a
        nodes:
          - id: l
            type: loop
            max_iterations: 3
            body: {entry: a, nodes: [{id: a, type: workflow, workflow: middle}]}
        """
    assert check(text.replace("entry: a\n        nodes:", "entry: l\n        nodes:"), Catalog(workflows=via)) == [
        "w.yaml:7:30: node `a`: workflow `top` calls itself (top → middle → top) with nothing to stop it"
    ]


def test_load_pins_the_catalog_presets_it_uses_and_refuses_problems() -> None:
    presets = {
        name: Preset(name, LlmSettings(temperature=0.5), Position("p.yaml", 1, 1)) for name in ("used", "unused")
    }
    d = load_definition(
        "name: p\nentry: a\nnodes: [{id: a, type: agent, preset: used}]\n", "p.yaml", Catalog(None, presets)
    )
    assert set(d.presets) == {"used"}
    with pytest.raises(InvalidDefinition) as err:
        load_definition("name: p\nentry: b\nnodes: [{id: a, type: agent}]\n", "p.yaml")
    assert str(err.value) == (
        "p.yaml: 2 problems\np.yaml:2:8: entry `b` is not a node of the workflow\n"
        "p.yaml:3:9: node `a` is never reached: it is not an entry and no edge leads to it"
    )


DETERMINISM_PROBE = """
from reliant import workflow_library as lib
from reliant.engine import check_definition, pin, Run
text = '''
name: cycles
entry: a
nodes: [{id: a, type: run, command: a}, {id: b, type: run, command: b}, {id: c, type: run, command: c},
        {id: d, type: run, command: d}, {id: e, type: run, command: e}, {id: f, type: run, command: f}]
edges: [{from: b, default: c}, {from: c, default: d}, {from: d, default: b}, {from: e, default: f},
        {from: f, default: e}]
'''
for problem in check_definition(text, 'w.yaml')[1]:
    print(problem)
[review] = [w for w in lib.builtin_workflows() if w.name == 'review']
definition = pin(review, lib.builtin_presets()).load(lib.catalog(lib.builtin_workflows(), lib.builtin_presets()))
loops = [n.condition.reads for _, n in definition.walk() if getattr(n, 'condition', None)]
print(sorted(definition.presets), loops)
"""


def test_problems_and_loading_do_not_depend_on_hash_order() -> None:
    import os
    import subprocess
    import sys

    outputs = {
        subprocess.run(
            [sys.executable, "-c", DETERMINISM_PROBE],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1, outputs
    assert "edges make a cycle" in outputs.pop()


def test_a_chain_of_thousands_of_nodes_validates() -> None:
    count = 3000  # deeper than Python's recursion limit: the graph walks must not recurse
    nodes = "\n".join(f"  - {{id: n{i}, type: run, command: 'step {i}'}}" for i in range(count))
    edges = "\n".join(f"  - {{from: n{i}, default: n{i + 1}}}" for i in range(count - 1))
    text = f"name: long\nentry: n0\nnodes:\n{nodes}\nedges:\n{edges}\n  - {{from: n{count - 1}, default: n0}}\n"
    [problem] = check_definition(text, "long.yaml")[1]
    assert str(problem) == (
        f"long.yaml:{2 * count + 4}:5: edges make a cycle n0 → n1 → n2 → n3 → …(2994 more)… → n2998 → n2999 → n0; "
        "to repeat steps, put them in a `loop` node (which has a bound)"
    )


CHILD = """
name: attempt
inputs:
  task: {type: string}
outputs:
  text: "{{inputs.task}}"
entry: a
nodes:
  - {id: a, type: run, command: x}
"""


def test_runs_side_by_side_and_worktree_nodes_are_checked_with_their_positions() -> None:
    catalog = Catalog(workflows=known(CHILD))
    assert check(
        """
        name: many
        inputs:
          n: {type: string, default: "2"}
        outputs:
          first: "{{nodes.solve.runs[0].outputs.text}}"
          typo: "{{nodes.solve.runs[0].outputz}}"
          flat: "{{nodes.solve.done[1]}}"
          diff: "{{nodes.solve.report + 1}}"
        entry: solve
        nodes:
          - id: solve
            type: workflow
            workflow: attempt
            count: "{{inputs.n}}"
            worktree: yes please
            thread: inherit
            inputs: {task: do it}
          - id: single
            type: workflow
            workflow: attempt
            models: [a, b]
            inputs: {task: x}
          - id: merge
            type: worktree
            action: squash
            of: "{{nodes.solve.runs}}"
          - id: keep
            type: worktree
            action: keep
          - id: zero
            type: workflow
            workflow: attempt
            count: 0
            inputs: {task: x}
        edges:
          - {from: solve, default: [merge, single, keep, zero]}
        """,
        catalog,
    ) == [
        "w.yaml:6:12: outputs.typo: `nodes.solve.runs[]` has no field `outputz` (did you mean `outputs`?); it has "
        "index, agent_id, status, error, outputs, worktree, diff, files (in `nodes.solve.runs[0].outputz`)",
        "w.yaml:7:12: outputs.flat: `nodes.solve.done` is an integer, not a list to index (in `nodes.solve.done[1]`)",
        "w.yaml:8:12: outputs.diff: type error: Unsupported operation: string + int (in `nodes.solve.report + 1`)",
        "w.yaml:14:15: node `solve`: count: must be an integer, not string '' (in `inputs.n`)",
        "w.yaml:15:15: node `solve`: worktree: expected true or false, not a string",
        "w.yaml:16:13: node `solve`: runs side by side (`count`/`worktree`) cannot share the caller's thread; use "
        "`thread: new` or `fork`",
        "w.yaml:21:13: node `single`: `models` goes with `count` (or `worktree`): one model per run",
        "w.yaml:25:13: node `merge`: action must be one of merge, keep, remove (or an expression)",
        "w.yaml:27:5: node `keep` (worktree): `of` is required",
        "w.yaml:33:12: node `zero`: count: must be at least 1",
    ]


DEEP_EXPRESSION_PROBE = """
from reliant.engine import check_definition
chain = "1" + " + 1" * 30000  # the CEL library recurses once per operator while it parses
text = "name: deep\\nentry: a\\nnodes:\\n  - {id: a, type: run, command: '{{" + chain + "}}'}\\n"
for problem in check_definition(text, "deep.yaml")[1]:
    print(str(problem)[:160])
"""


def test_an_expression_too_long_to_parse_safely_is_a_problem_not_a_crash() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", DEEP_EXPRESSION_PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]  # it used to overflow the stack: SIGSEGV, the process gone
    assert done.stdout.startswith(
        "deep.yaml:4:36: node `a`: command: an expression may have at most 1,000 tokens (names, numbers, operators); "
        "this one has 60,001"
    ), done.stdout


def test_an_expression_that_could_freeze_reliant_is_a_problem_at_its_place() -> None:
    hundred = "[" + ", ".join(["0"] * 100) + "]"
    found = check(
        f"""
        name: runaway
        entry: a
        nodes:
          - id: a
            type: run
            command: "echo {{{{{hundred}.map(x, {hundred}.map(y, {hundred}.map(z, z))).size()}}}}"
        """
    )
    [problem] = found
    assert problem.startswith("w.yaml:6:22: node `a`: command: this expression could take up to 10,414,133 steps")


def test_thousands_of_nodes_with_expressions_validate_in_linear_time() -> None:
    import time

    def definition(count: int) -> str:
        nodes = "\n".join(f"  - {{id: n{i}, type: run, command: 'echo {{{{inputs.x}}}} {i}'}}" for i in range(count))
        edges = "\n".join(f"  - {{from: n{i}, default: n{i + 1}}}" for i in range(count - 1))
        return f"name: long\ninputs:\n  x: {{type: string, default: a}}\nentry: n0\nnodes:\n{nodes}\nedges:\n{edges}\n"

    def seconds(count: int) -> float:
        text = definition(count)
        started = time.perf_counter()
        assert check_definition(text, "long.yaml")[1] == []
        return time.perf_counter() - started

    small, large = seconds(300), seconds(3000)  # each expression used to be tried on a sample of every node
    assert large < 30 * small + 1.0, (small, large)  # linear: ~10x; quadratic was ~100x (minutes for 5,000)
