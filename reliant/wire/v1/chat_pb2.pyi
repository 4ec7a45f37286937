from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Project(_message.Message):
    __slots__ = ("id", "name", "path", "daemon_id", "created_unix")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    path: str
    daemon_id: str
    created_unix: float
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., path: _Optional[str] = ..., daemon_id: _Optional[str] = ..., created_unix: _Optional[float] = ...) -> None: ...

class CreateProjectRequest(_message.Message):
    __slots__ = ("path", "name", "daemon_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    daemon_id: str
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., daemon_id: _Optional[str] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects",)
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[Project]
    def __init__(self, projects: _Optional[_Iterable[_Union[Project, _Mapping]]] = ...) -> None: ...

class GetProjectRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteProjectRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteProjectResponse(_message.Message):
    __slots__ = ("chats_deleted", "daemon_released")
    CHATS_DELETED_FIELD_NUMBER: _ClassVar[int]
    DAEMON_RELEASED_FIELD_NUMBER: _ClassVar[int]
    chats_deleted: int
    daemon_released: bool
    def __init__(self, chats_deleted: _Optional[int] = ..., daemon_released: _Optional[bool] = ...) -> None: ...

class GetProjectTrustRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class TrustProjectRequest(_message.Message):
    __slots__ = ("project_id", "fingerprint")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    fingerprint: str
    def __init__(self, project_id: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class UntrustProjectRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class TrustStep(_message.Message):
    __slots__ = ("step", "command")
    STEP_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    step: str
    command: str
    def __init__(self, step: _Optional[str] = ..., command: _Optional[str] = ...) -> None: ...

class TrustItem(_message.Message):
    __slots__ = ("kind", "name", "source", "transport", "command_line", "env_names", "cwd", "url", "header_names", "error", "disabled", "steps")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_LINE_FIELD_NUMBER: _ClassVar[int]
    ENV_NAMES_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADER_NAMES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    source: str
    transport: str
    command_line: str
    env_names: _containers.RepeatedScalarFieldContainer[str]
    cwd: str
    url: str
    header_names: _containers.RepeatedScalarFieldContainer[str]
    error: str
    disabled: bool
    steps: _containers.RepeatedCompositeFieldContainer[TrustStep]
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., source: _Optional[str] = ..., transport: _Optional[str] = ..., command_line: _Optional[str] = ..., env_names: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ..., url: _Optional[str] = ..., header_names: _Optional[_Iterable[str]] = ..., error: _Optional[str] = ..., disabled: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[TrustStep, _Mapping]]] = ...) -> None: ...

class ProjectTrust(_message.Message):
    __slots__ = ("project_id", "state", "fingerprint", "files", "items", "note", "problems")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    state: str
    fingerprint: str
    files: _containers.RepeatedScalarFieldContainer[str]
    items: _containers.RepeatedCompositeFieldContainer[TrustItem]
    note: str
    problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_id: _Optional[str] = ..., state: _Optional[str] = ..., fingerprint: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ..., items: _Optional[_Iterable[_Union[TrustItem, _Mapping]]] = ..., note: _Optional[str] = ..., problems: _Optional[_Iterable[str]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_WRITE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_tokens: _Optional[int] = ..., cache_write_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class Chat(_message.Message):
    __slots__ = ("id", "project_id", "title", "model", "status", "status_reason", "usage", "last_seq", "created_unix", "updated_unix", "queued", "mode", "pending_gates", "workflow", "workflow_inputs")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    UPDATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PENDING_GATES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_INPUTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    title: str
    model: str
    status: str
    status_reason: str
    usage: Usage
    last_seq: int
    created_unix: float
    updated_unix: float
    queued: int
    mode: str
    pending_gates: int
    workflow: str
    workflow_inputs: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., title: _Optional[str] = ..., model: _Optional[str] = ..., status: _Optional[str] = ..., status_reason: _Optional[str] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., last_seq: _Optional[int] = ..., created_unix: _Optional[float] = ..., updated_unix: _Optional[float] = ..., queued: _Optional[int] = ..., mode: _Optional[str] = ..., pending_gates: _Optional[int] = ..., workflow: _Optional[str] = ..., workflow_inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CreateChatRequest(_message.Message):
    __slots__ = ("project_id", "model", "title", "workflow", "inputs")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    model: str
    title: str
    workflow: str
    inputs: _struct_pb2.Struct
    def __init__(self, project_id: _Optional[str] = ..., model: _Optional[str] = ..., title: _Optional[str] = ..., workflow: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListChatsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ListChatsResponse(_message.Message):
    __slots__ = ("chats",)
    CHATS_FIELD_NUMBER: _ClassVar[int]
    chats: _containers.RepeatedCompositeFieldContainer[Chat]
    def __init__(self, chats: _Optional[_Iterable[_Union[Chat, _Mapping]]] = ...) -> None: ...

class GetChatRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RenameChatRequest(_message.Message):
    __slots__ = ("id", "title")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class DeleteChatRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteChatResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ("chat_id", "text", "model", "images")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    text: str
    model: str
    images: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, chat_id: _Optional[str] = ..., text: _Optional[str] = ..., model: _Optional[str] = ..., images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("media_type", "data")
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    media_type: str
    data: bytes
    def __init__(self, media_type: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ("message_id", "seq", "queued", "attachments")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    seq: int
    queued: bool
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    def __init__(self, message_id: _Optional[str] = ..., seq: _Optional[int] = ..., queued: _Optional[bool] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ("path", "kind", "error", "truncated", "size")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: str
    error: str
    truncated: bool
    size: int
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[str] = ..., error: _Optional[str] = ..., truncated: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class ContentBlock(_message.Message):
    __slots__ = ("type", "text", "tool_call_id", "tool_name", "tool_input", "is_error", "media_type", "tool_state", "duration_ms", "tool_data", "path", "tool_outcome")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_INPUT_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOOL_STATE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TOOL_DATA_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOOL_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    type: str
    text: str
    tool_call_id: str
    tool_name: str
    tool_input: _struct_pb2.Struct
    is_error: bool
    media_type: str
    tool_state: str
    duration_ms: float
    tool_data: _struct_pb2.Struct
    path: str
    tool_outcome: str
    def __init__(self, type: _Optional[str] = ..., text: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., tool_input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., is_error: _Optional[bool] = ..., media_type: _Optional[str] = ..., tool_state: _Optional[str] = ..., duration_ms: _Optional[float] = ..., tool_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., path: _Optional[str] = ..., tool_outcome: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("id", "chat_id", "ordinal", "role", "model", "blocks", "usage", "created_unix", "queued", "turn", "step", "thread_id", "cut")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    ORDINAL_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    CUT_FIELD_NUMBER: _ClassVar[int]
    id: str
    chat_id: str
    ordinal: int
    role: str
    model: str
    blocks: _containers.RepeatedCompositeFieldContainer[ContentBlock]
    usage: Usage
    created_unix: float
    queued: bool
    turn: int
    step: str
    thread_id: str
    cut: str
    def __init__(self, id: _Optional[str] = ..., chat_id: _Optional[str] = ..., ordinal: _Optional[int] = ..., role: _Optional[str] = ..., model: _Optional[str] = ..., blocks: _Optional[_Iterable[_Union[ContentBlock, _Mapping]]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., created_unix: _Optional[float] = ..., queued: _Optional[bool] = ..., turn: _Optional[int] = ..., step: _Optional[str] = ..., thread_id: _Optional[str] = ..., cut: _Optional[str] = ...) -> None: ...

class ListMessagesRequest(_message.Message):
    __slots__ = ("chat_id", "agent_id")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    agent_id: str
    def __init__(self, chat_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class ListMessagesResponse(_message.Message):
    __slots__ = ("messages", "resume_seq", "instructions")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RESUME_SEQ_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    resume_seq: int
    instructions: _containers.RepeatedCompositeFieldContainer[InstructionFile]
    def __init__(self, messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., resume_seq: _Optional[int] = ..., instructions: _Optional[_Iterable[_Union[InstructionFile, _Mapping]]] = ...) -> None: ...

class InstructionFile(_message.Message):
    __slots__ = ("path", "shown", "scope", "directory", "truncated")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHOWN_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    path: str
    shown: str
    scope: str
    directory: str
    truncated: bool
    def __init__(self, path: _Optional[str] = ..., shown: _Optional[str] = ..., scope: _Optional[str] = ..., directory: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class CancelChatRequest(_message.Message):
    __slots__ = ("chat_id",)
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    def __init__(self, chat_id: _Optional[str] = ...) -> None: ...

class CancelChatResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class ResumeChatRequest(_message.Message):
    __slots__ = ("chat_id",)
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    def __init__(self, chat_id: _Optional[str] = ...) -> None: ...

class ResumeChatResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PauseChatRequest(_message.Message):
    __slots__ = ("chat_id",)
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    def __init__(self, chat_id: _Optional[str] = ...) -> None: ...

class PauseChatResponse(_message.Message):
    __slots__ = ("paused",)
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    def __init__(self, paused: _Optional[bool] = ...) -> None: ...

class InterruptChatRequest(_message.Message):
    __slots__ = ("chat_id", "text")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    text: str
    def __init__(self, chat_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class SetModeRequest(_message.Message):
    __slots__ = ("chat_id", "mode")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    mode: str
    def __init__(self, chat_id: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class StreamUpdatesRequest(_message.Message):
    __slots__ = ("chat_id", "since_seq")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    since_seq: int
    def __init__(self, chat_id: _Optional[str] = ..., since_seq: _Optional[int] = ...) -> None: ...

class ChatUpdate(_message.Message):
    __slots__ = ("chat_id", "seq", "kind", "payload", "created_unix")
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    chat_id: str
    seq: int
    kind: str
    payload: _struct_pb2.Struct
    created_unix: float
    def __init__(self, chat_id: _Optional[str] = ..., seq: _Optional[int] = ..., kind: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_unix: _Optional[float] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "default_model")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MODEL_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedScalarFieldContainer[str]
    default_model: str
    def __init__(self, models: _Optional[_Iterable[str]] = ..., default_model: _Optional[str] = ...) -> None: ...
