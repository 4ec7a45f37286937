"""CEL through templates: typed whole values, interpolation, and the path scan the validator uses."""

from __future__ import annotations

import pytest

from reliant.engine.expressions import (
    EvaluationFault,
    Expression,
    ExpressionSyntaxError,
    Template,
    interpolated,
)
from reliant.engine.problems import Position
from reliant.engine.references import scan

AT = Position("f.yaml", 3, 10)


def template(text: str) -> Template:
    return Template.parse(text, lambda offset: Position("f.yaml", 3, 10 + offset))


VARIABLES = {
    "inputs": {"n": 3, "name": "ada", "ratio": 0.5, "flags": ["a", "b"]},
    "nodes": {"red": {"exit_code": 1, "stdout": "1 failed"}},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{{inputs.n}}", 3),  # a whole {{expr}} keeps its type
        ("  {{inputs.n + 1}}\n", 4),  # blanks around it aside
        ("{{inputs.ratio}}", 0.5),
        ("{{nodes.red.exit_code != 0}}", True),
        ("{{inputs.flags}}", ["a", "b"]),
        ("{{ {'a': {'b': inputs.n}} }}", {"a": {"b": 3}}),  # a map literal may end in }}
        ("n={{inputs.n}}", "n=3"),
        ("{{inputs.name}} has {{inputs.flags}} ok={{nodes.red.exit_code == 0}}", 'ada has ["a", "b"] ok=false'),
        ("{{'}}' + inputs.name}}", "}}ada"),  # }} inside a string literal is not the end
        ("no expressions here", "no expressions here"),
        ("", ""),
    ],
)
def test_template_values(text: str, value: object) -> None:
    assert template(text).evaluate(VARIABLES) == value


def test_interpolation_formats_values_as_json_except_strings() -> None:
    assert [interpolated(v) for v in ("x", 1, 1.5, True, None, [1, "a"], {"k": False})] == [
        "x",
        "1",
        "1.5",
        "true",
        "null",
        '[1, "a"]',
        '{"k": false}',
    ]


def test_expression_positions_point_into_the_text() -> None:
    t = template("go {{ inputs.n }} then {{nodes.red}}")
    assert [(e.source, e.at.column) for e in t.expressions()] == [("inputs.n", 16), ("nodes.red", 35)]
    with pytest.raises(ExpressionSyntaxError) as err:
        template("ok {{inputs.n +}}")
    assert (err.value.at.column, err.value.message) == (25, "syntax error: the expression ends too early")
    with pytest.raises(ExpressionSyntaxError, match=r"`\{\{` without a matching `\}\}`"):
        template("ok {{inputs.n")
    with pytest.raises(ExpressionSyntaxError, match="empty expression"):
        template("{{ }}")


def test_evaluation_faults_say_what_went_wrong() -> None:
    def fault(source: str) -> str:
        with pytest.raises(EvaluationFault) as err:
            Expression.compile(source, AT).evaluate(VARIABLES)
        return err.value.message

    assert fault("nodes.blue.exit_code") == "no value named 'blue' (not there yet, or misspelled)"
    assert fault("inputs.n / 0") == "division by zero in CEL expression"
    assert fault("inputs.ratio * 2").startswith("Unsupported operation: float * int")
    with pytest.raises(EvaluationFault, match="a condition must be true or false, not int 1"):
        Expression.compile("nodes.red.exit_code", AT).condition(VARIABLES)


def test_scan_finds_paths_and_skips_strings_calls_and_macro_variables() -> None:
    refs, bound = scan(
        "nodes.red.exit_code != 0 && inputs['task'].startsWith('nodes.fake.x') "
        "&& inputs.flags.all(f, f != iter.previous.check.stdout) && size(chat.id) > 0 && r\"inputs.no\" != ''"
    )
    assert [r.path for r in refs] == [
        ("nodes", "red", "exit_code"),
        ("inputs", "task"),
        ("inputs", "flags"),
        ("iter", "previous", "check", "stdout"),
        ("chat", "id"),
    ]
    assert bound == {"f"}
    assert refs[0].offset == 0 and refs[1].offset == 28
