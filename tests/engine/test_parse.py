"""YAML text -> the model, with every problem placed at its file:line:col."""

from __future__ import annotations

import textwrap

from reliant.engine import parse_definition, parse_preset
from reliant.engine.definition import (
    NO_DEFAULT,
    AgentNode,
    CallLlmNode,
    InputType,
    Join,
    LoopNode,
    ParallelNode,
    ThreadMode,
    ToolFilter,
    WorkflowNode,
)
from reliant.engine.expressions import Template


def problems(text: str) -> list[str]:
    return [str(p) for p in parse_definition(textwrap.dedent(text).lstrip(), "w.yaml").problems]


def test_a_full_definition_parses_into_typed_nodes() -> None:
    parsed = parse_definition(
        textwrap.dedent(
            """\
            name: full
            description: Everything at once.
            thread: fork
            inputs:
              task: {type: string, description: What to do}
              rounds: {type: integer, default: 3}
              ratio: {type: number, default: 1}
              go: {type: boolean, default: false}
              speed: {type: enum, values: [slow, fast], default: slow}
              model: {type: model, default: "anthropic:claude-x"}
            outputs: {text: "{{nodes.talk.text}}"}
            presets:
              quick: {model: "openai:gpt-x", temperature: 0.5, tools: none}
            entry: [talk]
            nodes:
              - {id: talk, type: agent, preset: quick, mode: plan, max_turns: 7, tools: {names: [view], tags: [read]}}
              - id: ask
                type: call_llm
                ephemeral: true
                response: {type: object, properties: {ok: {type: boolean}}}
                thread: side
              - id: fan
                type: parallel
                join: n
                n: 1
                branches:
                  a: {entry: a1, nodes: [{id: a1, type: compact, threshold: 5000}]}
                  b: {entry: b1, nodes: [{id: b1, type: execute_tools, source: ask}]}
              - id: again
                type: loop
                max_iterations: "{{inputs.rounds}}"
                while: "{{iter.iteration < 2}}"
                body: {entry: sub, nodes: [{id: sub, type: workflow, workflow: agent, thread: new, inputs: {n: 1}}]}
            edges:
              - {from: talk, default: [ask, fan]}
              - {from: fan, cases: [{to: again, condition: "true"}]}
            """
        ),
        "full.yaml",
    )
    assert parsed.problems == []
    d = parsed.definition
    assert d is not None
    assert (d.name, d.thread, d.graph.entry) == ("full", ThreadMode.FORK, ("talk",))
    kinds = {i.name: (i.type, i.default) for i in d.inputs}
    assert kinds == {
        "task": (InputType.STRING, NO_DEFAULT),
        "rounds": (InputType.INTEGER, 3),
        "ratio": (InputType.NUMBER, 1),
        "go": (InputType.BOOLEAN, False),
        "speed": (InputType.ENUM, "slow"),
        "model": (InputType.MODEL, "anthropic:claude-x"),
    }
    assert d.presets["quick"].settings.tools == ToolFilter.NONE
    talk, ask, fan, again = d.graph.nodes
    assert isinstance(talk, AgentNode) and talk.max_turns == 7 and talk.llm.preset == "quick"
    assert talk.llm.tools == ToolFilter(all=False, names=("view",), tags=("read",))
    assert isinstance(ask, CallLlmNode) and ask.ephemeral and ask.thread == "side" and ask.response is not None
    assert isinstance(fan, ParallelNode) and fan.join is Join.N and fan.needed() == 1
    assert [b.id for b in fan.branches] == ["a", "b"]
    assert isinstance(again, LoopNode) and isinstance(again.max_iterations, Template)
    assert again.condition is not None and again.condition.source == "iter.iteration < 2"  # {{…}} accepted
    sub = again.body.nodes[0]
    assert isinstance(sub, WorkflowNode) and sub.thread is ThreadMode.NEW and sub.inputs == {"n": 1}
    assert d.graph.edges[0].default == ("ask", "fan")


def test_every_problem_is_reported_with_its_position() -> None:
    assert problems(
        """
        name: many
        entry: a
        nodes:
          - id: a
            type: runn
          - id: b
            type: run
            comand: ls
          - {id: c, type: agent, max_turns: 0, ephemeral: true}
        """
    ) == [
        "w.yaml:5:11: node `a`: unknown node type `runn` (did you mean `run`?); the types are call_llm, "
        "execute_tools, agent, run, approval, loop, parallel, workflow, worktree, compact, save_message",
        "w.yaml:6:5: node `b` (run): `command` is required",
        "w.yaml:8:5: node `b` (run): unknown field `comand` (did you mean `command`?)",
        "w.yaml:9:37: node `c`: max_turns: must be at least 1",
        "w.yaml:9:40: node `c` (agent): unknown field `ephemeral`",
    ]


def test_yaml_syntax_errors_and_odd_documents() -> None:
    assert problems("name: x\nnodes: [a, b\n") == ["w.yaml:3:1: YAML: did not find expected ',' or ']'"]
    assert problems("") == ["w.yaml:1:1: the file is empty"]
    assert problems("- a\n- b\n") == ["w.yaml:1:1: workflow: expected a mapping, not a list"]
    assert problems("name: x\nentry: a\nnodes: [{id: a, type: run, command: x}]\n---\nname: y\n") == [
        "w.yaml:5:1: one YAML document per file"
    ]


def test_duplicate_keys_are_problems_not_silently_overwritten() -> None:
    assert problems(
        """
        name: dup
        entry: a
        nodes: [{id: a, type: run, command: x, command: y}]
        inputs: {n: {type: string}, n: {type: integer}}
        """
    ) == ["w.yaml:3:40: node `a` (run): `command` is given twice", "w.yaml:4:29: inputs: `n` is given twice"]


def test_expression_syntax_errors_point_into_the_string() -> None:
    assert problems(
        """
        name: cel
        entry: a
        nodes:
          - {id: a, type: run, command: "echo {{inputs.x +}} and {{ok"}
          - id: b
            type: agent
            prompt: |
              Line one
                and then {{nodes.a.stdout ==}}
        """
    ) == [
        # the first error of a string is reported (at the end of `inputs.x +`, where it ends too early)
        "w.yaml:4:51: node `a`: command: syntax error: the expression ends too early (in `inputs.x +`)",
        "w.yaml:9:37: node `b`: prompt: syntax error: the expression ends too early (in `nodes.a.stdout ==`)",
    ]
    assert problems('name: x\nentry: a\nnodes: [{id: a, type: run, command: "go {{ok"}]\n') == [
        "w.yaml:3:41: node `a`: command: `{{` without a matching `}}` (in `{{ok`)"
    ]


def test_strings_are_strings() -> None:
    assert problems("name: x\nentry: a\nnodes: [{id: a, type: run, command: 42}]\n") == [
        'w.yaml:3:37: node `a`: command: expected a string, not an integer (quote it: "42")'
    ]


def test_preset_files() -> None:
    preset, found = parse_preset("model: anthropic:claude-x\ntemperature: 0.3\nsystem: Be brief.\n", "p.yaml", "brief")
    assert found == []
    assert preset is not None and preset.name == "brief" and preset.settings.temperature == 0.3
    _, found = parse_preset("model: x\npreset: other\n", "p.yaml", "bad")
    assert [str(p) for p in found] == ["p.yaml:2:1: preset `bad`: unknown field `preset`"]


def test_a_text_parsed_again_gives_the_same_definition_and_problems_of_its_own() -> None:
    text = "name: w\nentry: a\nnodes:\n  - {id: a, type: run, command: 'true', bogus: 1}\n"
    first, second = parse_definition(text, "w.yaml"), parse_definition(text, "w.yaml")
    assert first.definition is second.definition, "parsed once: definitions are frozen"
    assert first.problems and first.problems == second.problems
    first.problems.clear()
    first.broken.add("not-a-node")
    third = parse_definition(text, "w.yaml")
    assert third.problems == second.problems and "not-a-node" not in third.broken
    preset_text = "model: scripted:echo\nbogus: 1\n"
    one, two = parse_preset(preset_text, "p.yaml", "p"), parse_preset(preset_text, "p.yaml", "p")
    one[1].clear()
    assert two[1] and parse_preset(preset_text, "p.yaml", "p")[1] == two[1]


def test_an_alias_that_contains_itself_is_a_problem_not_a_recursion_error() -> None:
    assert problems(
        """
        name: cycle
        entry: l
        nodes: &n
          - {id: l, type: loop, max_iterations: 2, body: {entry: l, nodes: *n}}
        """
    ) == ["w.yaml:3:8: YAML: this value (anchor `&n`) holds an alias to itself; the workflow would never end"]
    assert problems(  # where nothing walks it while validating, a run would fail to send it
        """
        name: cycle
        entry: a
        nodes:
          - {id: a, type: workflow, workflow: other, inputs: &k {x: [1, *k]}}
        """
    ) == ["w.yaml:4:54: YAML: this value (anchor `&k`) holds an alias to itself; the workflow would never end"]


def test_aliases_that_repeat_a_billion_values_are_a_problem() -> None:
    lines = ["    l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "name: laughs\nentry: a\nnodes:\n  - id: a\n    type: workflow\n    workflow: other\n    inputs:\n"
    text += "      bomb:\n" + "\n".join("  " + line for line in lines) + "\n"
    assert [str(p) for p in parse_definition(text, "w.yaml").problems] == [
        "w.yaml:16:11: YAML: aliases repeat 1,234,567,880 values (this one, of 111,111,111 values, is used 11 "
        "times); at most 100,000 may be repeats"
    ]


def test_a_tag_that_yaml_cannot_read_safely_is_a_problem_not_a_crash() -> None:
    assert problems(
        """
        name: !!python/object/apply:os.system [echo hi]
        entry: a
        nodes:
          - {id: a, type: run, command: !custom x}
        """
    ) == [
        "w.yaml:1:7: YAML: unknown tag `!!python/object/apply:os.system`; a workflow is plain YAML data",
        "w.yaml:4:33: YAML: unknown tag `!custom`; a workflow is plain YAML data",
    ]


def test_values_a_run_cannot_send_are_problems_where_they_are_written() -> None:
    assert problems(
        """
        name: dated
        entry: a
        nodes:
          - {id: a, type: workflow, workflow: agent, inputs: {task: 2001-12-14, note: !!binary aGVsbG8=}}
          - id: b
            type: call_llm
            response: {type: object, properties: {when: {type: string, default: 2001-12-14}}}
        """
    ) == [
        "w.yaml:4:61: node `a`: inputs.task: a date is not JSON data; quote it to pass a string",
        "w.yaml:4:79: node `a`: inputs.note: bytes are not JSON data; quote it to pass a string",
        "w.yaml:7:73: node `b`: response: a date is not JSON data; quote it to pass a string",
    ]
