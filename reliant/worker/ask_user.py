"""ask_user: the model asks the user 1-4 questions; the workflow waits for the answers, which
become the tool's result. The tool is offered by the worker, not run by a daemon."""

from __future__ import annotations

import functools
from typing import Any

from reliant.domain.chat import ToolDefinition
from reliant.domain.schema_errors import in_words
from reliant.domain.workflows import ASK_USER_TOOL

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 4,
            "items": {
                "type": "object",
                "properties": {
                    "question": {"type": "string", "minLength": 1, "maxLength": 2000},
                    "choices": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 500},
                        "maxItems": 10,
                    },
                },
                "required": ["question"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["questions"],
    "additionalProperties": False,
}

DEFINITION = ToolDefinition(
    name=ASK_USER_TOOL,
    description=(
        "Ask the user 1-4 questions when you need a decision or information only they have. "
        "Give `choices` when the answer is one of a few options. Wait for the answers: they come back "
        "as this tool's result."
    ),
    input_schema=SCHEMA,
    read_only=True,
)


@functools.cache
def _validator() -> Any:
    import jsonschema  # on first use: it is a sizeable import for every worker start

    return jsonschema.Draft202012Validator(SCHEMA)


def problems(tool_input: dict[str, Any]) -> str:
    """Why the input is not a valid ask_user call ("" if it is)."""
    errors = sorted(_validator().iter_errors(tool_input), key=lambda e: list(e.path))
    return in_words(errors)


def result_text(questions: list[dict[str, Any]], answers: list[str]) -> str:
    lines = []
    for i, question in enumerate(questions):
        answer = answers[i] if i < len(answers) else "(no answer)"
        lines.append(f"Q: {question.get('question', '')}\nA: {answer}")
    return "\n\n".join(lines)
