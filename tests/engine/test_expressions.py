"""CEL through templates: typed whole values, interpolation, and the path scan the validator uses."""

from __future__ import annotations

import pytest

from reliant.engine.expressions import (
    EvaluationFault,
    Expression,
    ExpressionSyntaxError,
    Template,
    interpolated,
    project,
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


@pytest.mark.parametrize(
    "source",
    [
        "nodes.red.exit_code != 0 && inputs.n > 2",
        "has(nodes.red) && !has(nodes.blue)",
        "has(nodes.red.stdout) ? nodes.red.stdout : 'none'",
        "inputs.flags.all(f, f.size() == 1) && inputs.flags.exists(f, f == 'b')",
        "nodes['red']['stdout'].startsWith('1')",
        "nodes[inputs.name == 'ada' ? 'red' : 'x'].exit_code",  # a dynamic key: all of `nodes`
        "size(nodes) + size(inputs)",
        "nodes.red",
        "nodes.blue.exit_code",  # missing: the same error
        "nodes.red.exit_code.x",  # through a scalar: the same error
        "inputs.ratio * 2",
    ],
)
def test_evaluating_only_the_paths_read_gives_the_same_result_as_everything(source: str) -> None:
    expr = Expression.compile(source, AT)
    full = Expression(expr.source, expr.at, expr.program, None)  # hands over every variable

    def outcome(e: Expression) -> object:
        try:
            return e.evaluate(VARIABLES)
        except EvaluationFault as fault:
            return ("fault", type(fault.__cause__).__name__)

    assert outcome(expr) == outcome(full)
    if "[inputs" in source or "size(nodes)" in source:
        assert expr.reads is not None and ("nodes",) in expr.reads


def test_only_the_paths_read_are_handed_over() -> None:
    expr = Expression.compile("nodes.red.exit_code != 0 && has(nodes.red.stdout) && inputs.n > 1", AT)
    assert expr.reads == (("inputs", "n"), ("nodes", "red", "exit_code"), ("nodes", "red", "stdout"))
    assert project(VARIABLES, expr.reads) == {
        "nodes": {"red": {"exit_code": 1, "stdout": "1 failed"}},
        "inputs": {"n": 3},
    }
    assert VARIABLES["nodes"] == {"red": {"exit_code": 1, "stdout": "1 failed"}}  # never changed


HUNDRED = "[" + ", ".join(["0"] * 100) + "]"


@pytest.mark.parametrize(
    "source",
    [
        f"{HUNDRED}.map(x, {HUNDRED}.map(y, {HUNDRED}.map(z, z))).size()",  # 10^6 steps: ~20 s
        "['ab']" + "".join(f".map(a{i}, a{i} + a{i})" for i in range(30)) + ".size()",  # a string of 2^31 characters
        "inputs.items.map(x, inputs.items.map(y, inputs.items.map(z, z)))",  # cubic in the data
    ],
)
def test_an_expression_that_could_run_away_is_refused_where_it_is_written(source: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as err:
        Expression.compile(source, AT)
    assert err.value.at == AT
    assert err.value.message.startswith("this expression could take up to ")
    assert "steps with lists of up to 100 items and strings of up to 8,000 characters; the limit is 1,000,000" in (
        err.value.message
    )


def test_an_expression_is_not_evaluated_over_data_too_large_for_it() -> None:
    expr = Expression.compile("nodes.a.response.items.map(x, x * 2)", AT)  # fine over 100 items
    small = {"nodes": {"a": {"response": {"items": list(range(100))}}}}
    assert expr.evaluate(small) == [2 * i for i in range(100)]
    large = {"nodes": {"a": {"response": {"items": list(range(20_000))}}}}  # the library took ~20 s
    with pytest.raises(EvaluationFault) as err:
        expr.evaluate(large)
    assert err.value.message == (
        "not evaluated: over this data (lists of up to 20,000 items and strings of up to 8 characters) it could "
        "take up to 25,081,254 steps; the limit is 1,000,000"
    )
