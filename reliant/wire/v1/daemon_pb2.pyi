from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Register(_message.Message):
    __slots__ = ("daemon_id", "name", "workspaces", "token", "version", "hostname", "boot_id")
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    BOOT_ID_FIELD_NUMBER: _ClassVar[int]
    daemon_id: str
    name: str
    workspaces: _containers.RepeatedScalarFieldContainer[str]
    token: str
    version: str
    hostname: str
    boot_id: str
    def __init__(self, daemon_id: _Optional[str] = ..., name: _Optional[str] = ..., workspaces: _Optional[_Iterable[str]] = ..., token: _Optional[str] = ..., version: _Optional[str] = ..., hostname: _Optional[str] = ..., boot_id: _Optional[str] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("gateway_id", "heartbeat_interval", "heartbeat_timeout")
    GATEWAY_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    gateway_id: str
    heartbeat_interval: float
    heartbeat_timeout: float
    def __init__(self, gateway_id: _Optional[str] = ..., heartbeat_interval: _Optional[float] = ..., heartbeat_timeout: _Optional[float] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("sent_unix_ms",)
    SENT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    sent_unix_ms: int
    def __init__(self, sent_unix_ms: _Optional[int] = ...) -> None: ...

class Request(_message.Message):
    __slots__ = ("id", "subject", "payload", "wants_reply")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WANTS_REPLY_FIELD_NUMBER: _ClassVar[int]
    id: int
    subject: str
    payload: bytes
    wants_reply: bool
    def __init__(self, id: _Optional[int] = ..., subject: _Optional[str] = ..., payload: _Optional[bytes] = ..., wants_reply: _Optional[bool] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("id", "payload")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    id: int
    payload: bytes
    def __init__(self, id: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("subject", "payload")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    subject: str
    payload: bytes
    def __init__(self, subject: _Optional[str] = ..., payload: _Optional[bytes] = ...) -> None: ...

class Workspaces(_message.Message):
    __slots__ = ("workspaces",)
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    workspaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workspaces: _Optional[_Iterable[str]] = ...) -> None: ...

class DaemonMessage(_message.Message):
    __slots__ = ("register", "heartbeat", "response", "event", "workspaces")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    register: Register
    heartbeat: Heartbeat
    response: Response
    event: Event
    workspaces: Workspaces
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., response: _Optional[_Union[Response, _Mapping]] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., workspaces: _Optional[_Union[Workspaces, _Mapping]] = ...) -> None: ...

class GatewayMessage(_message.Message):
    __slots__ = ("registered", "heartbeat", "request")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    heartbeat: Heartbeat
    request: Request
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., request: _Optional[_Union[Request, _Mapping]] = ...) -> None: ...
