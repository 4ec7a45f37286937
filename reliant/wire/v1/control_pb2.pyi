from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Approval(_message.Message):
    __slots__ = ("id", "chat_id", "tool_call_id", "tool_name", "input", "status", "created_unix", "chat_title", "turn", "kind", "question", "choices", "run_id", "node", "agent")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    CHAT_TITLE_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    chat_id: str
    tool_call_id: str
    tool_name: str
    input: _struct_pb2.Struct
    status: str
    created_unix: float
    chat_title: str
    turn: int
    kind: str
    question: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    run_id: str
    node: str
    agent: AgentTag
    def __init__(self, id: _Optional[str] = ..., chat_id: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[str] = ..., created_unix: _Optional[float] = ..., chat_title: _Optional[str] = ..., turn: _Optional[int] = ..., kind: _Optional[str] = ..., question: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ..., run_id: _Optional[str] = ..., node: _Optional[str] = ..., agent: _Optional[_Union[AgentTag, _Mapping]] = ...) -> None: ...

class AgentTag(_message.Message):
    __slots__ = ("agent_id", "name", "task")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    name: str
    task: str
    def __init__(self, agent_id: _Optional[str] = ..., name: _Optional[str] = ..., task: _Optional[str] = ...) -> None: ...

class ListPendingApprovalsRequest(_message.Message):
    __slots__ = ("chat_id",)
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    def __init__(self, chat_id: _Optional[str] = ...) -> None: ...

class ListPendingApprovalsResponse(_message.Message):
    __slots__ = ("approvals",)
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[Approval]
    def __init__(self, approvals: _Optional[_Iterable[_Union[Approval, _Mapping]]] = ...) -> None: ...

class ApproveRequest(_message.Message):
    __slots__ = ("approval_id", "scope", "command_prefix")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    COMMAND_PREFIX_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    scope: str
    command_prefix: str
    def __init__(self, approval_id: _Optional[str] = ..., scope: _Optional[str] = ..., command_prefix: _Optional[str] = ...) -> None: ...

class DenyRequest(_message.Message):
    __slots__ = ("approval_id", "message")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    message: str
    def __init__(self, approval_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ChooseRequest(_message.Message):
    __slots__ = ("approval_id", "choice", "note")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    choice: str
    note: str
    def __init__(self, approval_id: _Optional[str] = ..., choice: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class AnswerResponse(_message.Message):
    __slots__ = ("ok", "error")
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    error: str
    def __init__(self, ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class AnswerBatchRequest(_message.Message):
    __slots__ = ("items",)
    class Item(_message.Message):
        __slots__ = ("approve", "deny", "choose")
        APPROVE_FIELD_NUMBER: _ClassVar[int]
        DENY_FIELD_NUMBER: _ClassVar[int]
        CHOOSE_FIELD_NUMBER: _ClassVar[int]
        approve: ApproveRequest
        deny: DenyRequest
        choose: ChooseRequest
        def __init__(self, approve: _Optional[_Union[ApproveRequest, _Mapping]] = ..., deny: _Optional[_Union[DenyRequest, _Mapping]] = ..., choose: _Optional[_Union[ChooseRequest, _Mapping]] = ...) -> None: ...
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AnswerBatchRequest.Item]
    def __init__(self, items: _Optional[_Iterable[_Union[AnswerBatchRequest.Item, _Mapping]]] = ...) -> None: ...

class AnswerBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AnswerResponse]
    def __init__(self, results: _Optional[_Iterable[_Union[AnswerResponse, _Mapping]]] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ("id", "chat_id", "tool_call_id", "questions", "created_unix", "chat_title", "agent")
    class Item(_message.Message):
        __slots__ = ("question", "choices")
        QUESTION_FIELD_NUMBER: _ClassVar[int]
        CHOICES_FIELD_NUMBER: _ClassVar[int]
        question: str
        choices: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, question: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    CHAT_TITLE_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    id: str
    chat_id: str
    tool_call_id: str
    questions: _containers.RepeatedCompositeFieldContainer[Question.Item]
    created_unix: float
    chat_title: str
    agent: AgentTag
    def __init__(self, id: _Optional[str] = ..., chat_id: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., questions: _Optional[_Iterable[_Union[Question.Item, _Mapping]]] = ..., created_unix: _Optional[float] = ..., chat_title: _Optional[str] = ..., agent: _Optional[_Union[AgentTag, _Mapping]] = ...) -> None: ...

class ListPendingQuestionsRequest(_message.Message):
    __slots__ = ("chat_id",)
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    def __init__(self, chat_id: _Optional[str] = ...) -> None: ...

class ListPendingQuestionsResponse(_message.Message):
    __slots__ = ("questions",)
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    def __init__(self, questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ...) -> None: ...

class AnswerQuestionRequest(_message.Message):
    __slots__ = ("question_id", "answers")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    answers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, question_id: _Optional[str] = ..., answers: _Optional[_Iterable[str]] = ...) -> None: ...
