"""reliant's workflow engine core: workflows as data. Deterministic and free of I/O, so Temporal
workflow code can use it (pass it through the sandbox): callers read files and hand over text.

    definition = pin(workflow_text, preset_texts).load()  # or InvalidDefinition, every problem
    run = Run.start(definition, inputs, ChatInfo(...))
    for task in run.take_ready(): ...                      # see run.py

- definition.py  the typed model (workflow, graph, edges, node kinds)
- parse.py       YAML text -> model, every problem with file:line:col (source.py, values.py)
- validate.py    graph, references, types, recursion; `check_definition`, `load_definition`
- expressions.py CEL expressions and `{{…}}` templates; references.py the paths they read
- outputs.py     what each node kind leaves in `nodes.<id>.*`
- run.py         the run-state machine; state.py its serialisable state
- pinned.py      a definition with its presets' texts, as a run pins it
- named_models.py the models a definition's nodes name literally (checked before it runs)
"""

from reliant.engine.definition import Definition, Preset
from reliant.engine.expressions import ExpressionError
from reliant.engine.inputs import InvalidInputs, inputs_from_text, resolve_inputs
from reliant.engine.parse import parse_definition, parse_preset
from reliant.engine.pinned import Pinned, SourceText, pin
from reliant.engine.problems import InvalidDefinition, Position, Problem
from reliant.engine.run import LlmCall, OutputsMismatch, Run, Task, TaskStateError
from reliant.engine.state import ChatInfo, NodeStatus, RunState, RunStatus
from reliant.engine.validate import Catalog, check_definition, load_definition

__all__ = [
    "Catalog",
    "ChatInfo",
    "Definition",
    "ExpressionError",
    "InvalidDefinition",
    "InvalidInputs",
    "LlmCall",
    "NodeStatus",
    "OutputsMismatch",
    "Pinned",
    "Position",
    "Preset",
    "Problem",
    "Run",
    "RunState",
    "RunStatus",
    "SourceText",
    "Task",
    "TaskStateError",
    "check_definition",
    "inputs_from_text",
    "load_definition",
    "parse_definition",
    "parse_preset",
    "pin",
    "resolve_inputs",
]
