"""The shipped JSON Schema agrees with the parser: the built-ins pass both, bad files fail both."""

from __future__ import annotations

import textwrap

import jsonschema
import pytest
import yaml

from reliant import workflow_library
from reliant.engine import check_definition, parse_definition
from reliant.engine.parse import COMMON_FIELDS, KIND_FIELDS, TOP_FIELDS
from reliant.engine.values import CEL_RESERVED, ID, NAME


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = workflow_library.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_schema_lists_exactly_the_fields_the_parser_knows() -> None:
    schema = workflow_library.schema()
    assert set(schema["properties"]) == set(TOP_FIELDS)
    assert schema["$defs"]["node"]["properties"]["type"]["enum"] == list(KIND_FIELDS)
    for kind, fields in KIND_FIELDS.items():
        assert set(schema["$defs"][kind]["properties"]) == {*COMMON_FIELDS, *fields}, kind
    assert set(schema["$defs"]["id"]["not"]["enum"]) == CEL_RESERVED
    assert schema["$defs"]["id"]["pattern"] == f"^{ID.pattern}$"
    assert schema["$defs"]["name"]["pattern"] == f"^{NAME.pattern}$"


@pytest.mark.parametrize("item", workflow_library.builtin_workflows(), ids=lambda i: i.name)
def test_every_builtin_validates_against_the_schema_and_the_validator(
    item: workflow_library.SourceText, validator: jsonschema.Draft202012Validator
) -> None:
    assert list(validator.iter_errors(yaml.safe_load(item.text))) == []
    catalog = workflow_library.catalog(workflow_library.builtin_workflows(), workflow_library.builtin_presets())
    definition, problems = check_definition(item.text, item.source, catalog)
    assert problems == []
    assert definition is not None and definition.name == item.name


def test_the_builtins_are_the_ones_the_issues_name_with_the_children_they_run() -> None:
    assert [w.name for w in workflow_library.builtin_workflows()] == [
        "agent",
        "best-of-n",
        "plan-then-build",
        "review-changes",
        "review",
        "solve",
        "tdd",
    ]


def test_builtin_presets_fit_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    presets = {p.name: yaml.safe_load(p.text) for p in workflow_library.builtin_presets()}
    assert set(presets) == {"implementer", "planner", "reviewer", "test-writer"}
    doc = {"name": "p", "entry": "a", "nodes": [{"id": "a", "type": "run", "command": "x"}], "presets": presets}
    assert list(validator.iter_errors(doc)) == []


GOOD_NODE = "{id: a, type: run, command: x}"
HEADER = "name: bad\nentry: a\n"
LOOP = "nodes: [{{id: a, type: loop, {bound}body: {{entry: b, nodes: [{{id: b, type: run, command: x}}]}}}}]"
BAD_FILES = {
    "unknown node type": "nodes: [{id: a, type: shell, command: x}]",
    "unknown node field": "nodes: [{id: a, type: run, command: x, cwd: /tmp}]",
    "unknown top-level field": f"nodes: [{GOOD_NODE}]\nversion: 2",
    "missing name": f"description: no name\nnodes: [{GOOD_NODE}]",
    "loop without max_iterations": LOOP.format(bound=""),
    "loop bound zero": LOOP.format(bound="max_iterations: 0, "),
    "loop bound as plain text": LOOP.format(bound="max_iterations: five, "),
    "input default of the wrong type": f"inputs: {{n: {{type: integer, default: many}}}}\nnodes: [{GOOD_NODE}]",
    "enum input without values": f"inputs: {{m: {{type: enum}}}}\nnodes: [{GOOD_NODE}]",
    "values on a non-enum input": f"inputs: {{m: {{type: string, values: [a]}}}}\nnodes: [{GOOD_NODE}]",
    "bad model default": f"inputs: {{m: {{type: model, default: gpt4}}}}\nnodes: [{GOOD_NODE}]",
    "join n without n": (
        "nodes: [{id: a, type: parallel, join: n, branches: {x: {entry: b, nodes: [{id: b, type: run, command: x}]}}}]"
    ),
    "n without join n": (
        "nodes: [{id: a, type: parallel, n: 1, branches: {x: {entry: b, nodes: [{id: b, type: run, command: x}]}}}]"
    ),
    "id with a dash": "nodes: [{id: run-tests, type: run, command: x}]",
    "id that is a CEL word": "nodes: [{id: in, type: run, command: x}]",
    "tools neither all nor none": "nodes: [{id: a, type: call_llm, tools: some}]",
    "approval choices twice": "nodes: [{id: a, type: approval, question: ok, choices: [go, go]}]",
    "approval choices as booleans": "nodes: [{id: a, type: approval, question: ok, choices: [yes, no]}]",
    "response without properties": "nodes: [{id: a, type: call_llm, response: {type: object}}]",
    "edge with nowhere to go": f"nodes: [{GOOD_NODE}]\nedges: [{{from: a}}]",
    "case without a condition": f"nodes: [{GOOD_NODE}]\nedges: [{{from: a, cases: [{{to: a}}]}}]",
    "temperature too high": "nodes: [{id: a, type: agent, temperature: 3}]",
    "mode that is not a mode": "nodes: [{id: a, type: agent, mode: yolo}]",
    "child thread mode": "nodes: [{id: a, type: workflow, workflow: agent, thread: borrow}]",
    "save_message role": "nodes: [{id: a, type: save_message, role: system, content: hi}]",
    "no nodes": "nodes: []",
    "node without type": "nodes: [{id: a, command: x}]",
}


@pytest.mark.parametrize("body", BAD_FILES.values(), ids=list(BAD_FILES))
def test_bad_files_fail_the_schema_and_the_parser(body: str, validator: jsonschema.Draft202012Validator) -> None:
    text = HEADER + textwrap.dedent(body) + "\n"
    if body.startswith("description: no name"):
        text = text.replace("name: bad\n", "")
    assert list(validator.iter_errors(yaml.safe_load(text))), "the schema accepts it"
    assert parse_definition(text, "bad.yaml").problems, "the parser accepts it"
