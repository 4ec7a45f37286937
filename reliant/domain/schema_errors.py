"""A tool call's input checked against its JSON schema: the problems in words the model reads, and
never the whole of a large value it sent (a 1 MB string too long would otherwise come back whole
in the error, and be read again on every later call)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_PROBLEMS = 5
MAX_VALUE_SHOWN = 100  # characters of a value quoted in a problem; a longer one is described
MAX_PROBLEM_CHARS = 500


def in_words(errors: Sequence[Any]) -> str:
    """jsonschema ValidationErrors (the first few) as "path: problem; ..."."""
    return "; ".join(f"{'/'.join(map(str, e.path)) or 'input'}: {_problem(e)}" for e in errors[:MAX_PROBLEMS])


def _problem(error: Any) -> str:
    message = str(error.message)
    shown = repr(error.instance)
    if len(shown) > MAX_VALUE_SHOWN:
        message = message.replace(shown, _sized(error.instance))
    if len(message) > MAX_PROBLEM_CHARS:
        message = message[:MAX_PROBLEM_CHARS] + "…"
    return message


def _sized(value: Any) -> str:
    if isinstance(value, str):
        return f"a text of {len(value):,} characters"
    if isinstance(value, list):
        return f"a list of {len(value):,} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, dict):
        return f"an object of {len(value):,} key{'' if len(value) == 1 else 's'}"
    return f"a {type(value).__name__}"
