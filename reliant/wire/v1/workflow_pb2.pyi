from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "trust", "note", "problems")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[WorkflowSummary]
    trust: str
    note: str
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workflows: _Optional[_Iterable[_Union[WorkflowSummary, _Mapping]]] = ..., trust: _Optional[str] = ..., note: _Optional[str] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkflowSummary(_message.Message):
    __slots__ = ("name", "description", "source", "origin", "used", "shadows", "inputs", "problems", "error")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    source: str
    origin: str
    used: bool
    shadows: str
    inputs: _containers.RepeatedCompositeFieldContainer[WorkflowInput]
    problems: int
    error: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., source: _Optional[str] = ..., origin: _Optional[str] = ..., used: _Optional[bool] = ..., shadows: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[WorkflowInput, _Mapping]]] = ..., problems: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class WorkflowInput(_message.Message):
    __slots__ = ("name", "type", "description", "required", "default", "values")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    required: bool
    default: _struct_pb2.Value
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., required: _Optional[bool] = ..., default: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkflowOutput(_message.Message):
    __slots__ = ("name", "expression")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    expression: str
    def __init__(self, name: _Optional[str] = ..., expression: _Optional[str] = ...) -> None: ...

class WorkflowNode(_message.Message):
    __slots__ = ("id", "kind", "path", "description", "detail", "line", "next", "children", "branch", "entry", "preset", "max_iterations")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    MAX_ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    path: str
    description: str
    detail: str
    line: int
    next: _containers.RepeatedScalarFieldContainer[str]
    children: _containers.RepeatedCompositeFieldContainer[WorkflowNode]
    branch: str
    entry: bool
    preset: str
    max_iterations: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., path: _Optional[str] = ..., description: _Optional[str] = ..., detail: _Optional[str] = ..., line: _Optional[int] = ..., next: _Optional[_Iterable[str]] = ..., children: _Optional[_Iterable[_Union[WorkflowNode, _Mapping]]] = ..., branch: _Optional[str] = ..., entry: _Optional[bool] = ..., preset: _Optional[str] = ..., max_iterations: _Optional[str] = ...) -> None: ...

class Workflow(_message.Message):
    __slots__ = ("name", "description", "source", "origin", "inputs", "outputs", "nodes", "text", "problems", "presets", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    PRESETS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    source: str
    origin: str
    inputs: _containers.RepeatedCompositeFieldContainer[WorkflowInput]
    outputs: _containers.RepeatedCompositeFieldContainer[WorkflowOutput]
    nodes: _containers.RepeatedCompositeFieldContainer[WorkflowNode]
    text: str
    problems: _containers.RepeatedCompositeFieldContainer[WorkflowProblem]
    presets: _containers.RepeatedScalarFieldContainer[str]
    note: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., source: _Optional[str] = ..., origin: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[WorkflowInput, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[WorkflowOutput, _Mapping]]] = ..., nodes: _Optional[_Iterable[_Union[WorkflowNode, _Mapping]]] = ..., text: _Optional[str] = ..., problems: _Optional[_Iterable[_Union[WorkflowProblem, _Mapping]]] = ..., presets: _Optional[_Iterable[str]] = ..., note: _Optional[str] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("project_id", "name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class WorkflowProblem(_message.Message):
    __slots__ = ("source", "line", "column", "message")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    source: str
    line: int
    column: int
    message: str
    def __init__(self, source: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ValidateWorkflowRequest(_message.Message):
    __slots__ = ("text", "project_id", "name")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    text: str
    project_id: str
    name: str
    def __init__(self, text: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ValidateWorkflowResponse(_message.Message):
    __slots__ = ("valid", "problems", "name")
    VALID_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    problems: _containers.RepeatedCompositeFieldContainer[WorkflowProblem]
    name: str
    def __init__(self, valid: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[WorkflowProblem, _Mapping]]] = ..., name: _Optional[str] = ...) -> None: ...

class SaveWorkflowRequest(_message.Message):
    __slots__ = ("project_id", "text", "name")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    text: str
    name: str
    def __init__(self, project_id: _Optional[str] = ..., text: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SaveWorkflowResponse(_message.Message):
    __slots__ = ("path", "created", "trust", "trust_renewed", "note", "shadows")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    TRUST_RENEWED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SHADOWS_FIELD_NUMBER: _ClassVar[int]
    path: str
    created: bool
    trust: str
    trust_renewed: bool
    note: str
    shadows: str
    def __init__(self, path: _Optional[str] = ..., created: _Optional[bool] = ..., trust: _Optional[str] = ..., trust_renewed: _Optional[bool] = ..., note: _Optional[str] = ..., shadows: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("chat_id", "limit")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    limit: int
    def __init__(self, chat_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[Run]
    def __init__(self, runs: _Optional[_Iterable[_Union[Run, _Mapping]]] = ...) -> None: ...

class NodeState(_message.Message):
    __slots__ = ("path", "instance", "kind", "status", "iteration", "thread", "error", "version", "outputs")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    instance: str
    kind: str
    status: str
    iteration: int
    thread: str
    error: str
    version: int
    outputs: _struct_pb2.Struct
    def __init__(self, path: _Optional[str] = ..., instance: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., iteration: _Optional[int] = ..., thread: _Optional[str] = ..., error: _Optional[str] = ..., version: _Optional[int] = ..., outputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Run(_message.Message):
    __slots__ = ("id", "chat_id", "workflow", "source", "status", "inputs", "outputs", "error", "parent_id", "node", "message_id", "created_unix", "finished_unix", "nodes", "states", "last_seq", "text")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    chat_id: str
    workflow: str
    source: str
    status: str
    inputs: _struct_pb2.Struct
    outputs: _struct_pb2.Struct
    error: str
    parent_id: str
    node: str
    message_id: str
    created_unix: float
    finished_unix: float
    nodes: _containers.RepeatedCompositeFieldContainer[WorkflowNode]
    states: _containers.RepeatedCompositeFieldContainer[NodeState]
    last_seq: int
    text: str
    def __init__(self, id: _Optional[str] = ..., chat_id: _Optional[str] = ..., workflow: _Optional[str] = ..., source: _Optional[str] = ..., status: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., outputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ..., parent_id: _Optional[str] = ..., node: _Optional[str] = ..., message_id: _Optional[str] = ..., created_unix: _Optional[float] = ..., finished_unix: _Optional[float] = ..., nodes: _Optional[_Iterable[_Union[WorkflowNode, _Mapping]]] = ..., states: _Optional[_Iterable[_Union[NodeState, _Mapping]]] = ..., last_seq: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...
