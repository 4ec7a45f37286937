from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentDiff(_message.Message):
    __slots__ = ("diff", "files", "truncated")
    DIFF_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    diff: str
    files: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    def __init__(self, diff: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class AgentWorktree(_message.Message):
    __slots__ = ("path", "branch", "state", "into")
    PATH_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INTO_FIELD_NUMBER: _ClassVar[int]
    path: str
    branch: str
    state: str
    into: str
    def __init__(self, path: _Optional[str] = ..., branch: _Optional[str] = ..., state: _Optional[str] = ..., into: _Optional[str] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("agent_id", "parent_agent_id", "depth", "name", "task", "workflow", "model", "thread_mode", "status", "worktree", "error", "cost_usd", "input_tokens", "output_tokens", "created_unix", "finished_unix", "text", "outputs")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    THREAD_MODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    parent_agent_id: str
    depth: int
    name: str
    task: str
    workflow: str
    model: str
    thread_mode: str
    status: str
    worktree: AgentWorktree
    error: str
    cost_usd: float
    input_tokens: int
    output_tokens: int
    created_unix: float
    finished_unix: float
    text: str
    outputs: _struct_pb2.Struct
    def __init__(self, agent_id: _Optional[str] = ..., parent_agent_id: _Optional[str] = ..., depth: _Optional[int] = ..., name: _Optional[str] = ..., task: _Optional[str] = ..., workflow: _Optional[str] = ..., model: _Optional[str] = ..., thread_mode: _Optional[str] = ..., status: _Optional[str] = ..., worktree: _Optional[_Union[AgentWorktree, _Mapping]] = ..., error: _Optional[str] = ..., cost_usd: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., created_unix: _Optional[float] = ..., finished_unix: _Optional[float] = ..., text: _Optional[str] = ..., outputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("chat_id",)
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    def __init__(self, chat_id: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "spent_usd", "budget_usd", "budget_in_force_usd", "budget_source")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    SPENT_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_IN_FORCE_USD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_SOURCE_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    spent_usd: float
    budget_usd: float
    budget_in_force_usd: float
    budget_source: str
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., spent_usd: _Optional[float] = ..., budget_usd: _Optional[float] = ..., budget_in_force_usd: _Optional[float] = ..., budget_source: _Optional[str] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("chat_id", "agent_id")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    agent_id: str
    def __init__(self, chat_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class SetWorktreeRequest(_message.Message):
    __slots__ = ("chat_id", "agent_id", "action", "force")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    agent_id: str
    action: str
    force: bool
    def __init__(self, chat_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., action: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...
