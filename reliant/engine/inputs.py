"""A run's inputs: checked against the definition's declared types, defaults filled in."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from reliant.engine.definition import Definition, InputType
from reliant.engine.source import suggestion
from reliant.errors import ReliantError

MODEL = re.compile(r"[a-z][a-z0-9_-]*:\S.*")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # CEL's int: a larger integer reaches an expression as a double


class InvalidInputs(ReliantError):
    """Inputs a run cannot start with; `problems` maps each input name to what is wrong with it."""

    def __init__(self, workflow: str, problems: Mapping[str, str]) -> None:
        self.workflow = workflow
        self.problems = dict(problems)
        details = "; ".join(f"{name}: {message}" for name, message in self.problems.items())
        super().__init__(f"workflow {workflow}: bad inputs: {details}")


def resolve_inputs(definition: Definition, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared input with its value (given, else the default); numbers become floats."""
    problems: dict[str, str] = {}
    names = [spec.name for spec in definition.inputs]
    for name in given:
        if definition.input(name) is None:
            problems[name] = "no such input" + (
                suggestion(name, names) or f" (the inputs are {', '.join(names)})" if names else ""
            )
    values: dict[str, Any] = {}
    for spec in definition.inputs:
        if spec.name in given:
            value = given[spec.name]
            if error := input_type_error(spec.type, value, spec.values):
                problems[spec.name] = error
                continue
            values[spec.name] = float(value) if spec.type is InputType.NUMBER else value
        elif spec.required:
            problems[spec.name] = "required" + (f" ({spec.description})" if spec.description else "")
        else:
            values[spec.name] = float(spec.default) if spec.type is InputType.NUMBER else spec.default
    if problems:
        raise InvalidInputs(definition.name, problems)
    return values


def inputs_from_text(definition: Definition, texts: Mapping[str, str]) -> dict[str, Any]:
    """Inputs typed on a command line (`--input rounds=5`), converted by their declared types; a text
    that does not convert stays text, and `resolve_inputs` then says what is wrong with it."""
    values: dict[str, Any] = {}
    for name, text in texts.items():
        spec = definition.input(name)
        kind = spec.type if spec is not None else InputType.STRING
        values[name] = _convert(kind, text)
    return values


def _convert(kind: InputType, text: str) -> Any:
    try:
        if kind is InputType.INTEGER:
            return int(text)
        if kind is InputType.NUMBER:
            return float(text)
    except ValueError:
        return text
    if kind is InputType.BOOLEAN and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def input_type_error(kind: InputType, value: Any, values: tuple[str, ...] = ()) -> str:
    """Why `value` is not a valid value of an input of this type ("" when it is)."""
    if kind in (InputType.STRING, InputType.ENUM, InputType.MODEL) and not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if kind is InputType.INTEGER and type(value) is not int:
        return f"must be an integer, not {type(value).__name__}"
    if kind is InputType.INTEGER and not INT_MIN <= value <= INT_MAX:
        return f"must be an integer from {INT_MIN} to {INT_MAX} (an expression's integers are 64-bit)"
    if kind is InputType.NUMBER and type(value) is int and not _fits_a_float(value):
        return "must be a finite number, not an integer too large for one"
    if kind is InputType.NUMBER and (type(value) not in (int, float) or not math.isfinite(value)):
        return f"must be a finite number, not {value!r}"
    if kind is InputType.BOOLEAN and not isinstance(value, bool):
        return f"must be true or false, not {type(value).__name__}"
    if kind is InputType.ENUM and value not in values:
        return f"{value!r} is not one of {', '.join(values)}"
    if kind is InputType.MODEL and not MODEL.fullmatch(value):
        return f"{value!r} is not a model (`<provider>:<model>`, e.g. anthropic:claude-sonnet-4-5)"
    return ""


def _fits_a_float(value: int) -> bool:
    """JSON may hold an integer of any length; a number input is a float."""
    try:
        float(value)
    except OverflowError:
        return False
    return True
