from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RoleStatus(_message.Message):
    __slots__ = ("role", "instance", "host", "pid", "online", "started_unix", "last_seen_unix", "detail")
    class DetailEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ROLE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_UNIX_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    role: str
    instance: str
    host: str
    pid: int
    online: bool
    started_unix: float
    last_seen_unix: float
    detail: _containers.ScalarMap[str, str]
    def __init__(self, role: _Optional[str] = ..., instance: _Optional[str] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., online: _Optional[bool] = ..., started_unix: _Optional[float] = ..., last_seen_unix: _Optional[float] = ..., detail: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ServiceStatus(_message.Message):
    __slots__ = ("name", "ok", "address", "error", "latency_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    ok: bool
    address: str
    error: str
    latency_ms: float
    def __init__(self, name: _Optional[str] = ..., ok: _Optional[bool] = ..., address: _Optional[str] = ..., error: _Optional[str] = ..., latency_ms: _Optional[float] = ...) -> None: ...

class DaemonStatus(_message.Message):
    __slots__ = ("id", "name", "workspaces", "online", "gateway", "connected_unix", "last_seen_unix", "version", "hostname")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_UNIX_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    workspaces: _containers.RepeatedScalarFieldContainer[str]
    online: bool
    gateway: str
    connected_unix: float
    last_seen_unix: float
    version: str
    hostname: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., workspaces: _Optional[_Iterable[str]] = ..., online: _Optional[bool] = ..., gateway: _Optional[str] = ..., connected_unix: _Optional[float] = ..., last_seen_unix: _Optional[float] = ..., version: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("version", "roles", "services", "ports", "daemons", "api_url", "temporal_ui_url")
    class PortsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    DAEMONS_FIELD_NUMBER: _ClassVar[int]
    API_URL_FIELD_NUMBER: _ClassVar[int]
    TEMPORAL_UI_URL_FIELD_NUMBER: _ClassVar[int]
    version: str
    roles: _containers.RepeatedCompositeFieldContainer[RoleStatus]
    services: _containers.RepeatedCompositeFieldContainer[ServiceStatus]
    ports: _containers.ScalarMap[str, int]
    daemons: _containers.RepeatedCompositeFieldContainer[DaemonStatus]
    api_url: str
    temporal_ui_url: str
    def __init__(self, version: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[RoleStatus, _Mapping]]] = ..., services: _Optional[_Iterable[_Union[ServiceStatus, _Mapping]]] = ..., ports: _Optional[_Mapping[str, int]] = ..., daemons: _Optional[_Iterable[_Union[DaemonStatus, _Mapping]]] = ..., api_url: _Optional[str] = ..., temporal_ui_url: _Optional[str] = ...) -> None: ...

class RunDoctorRequest(_message.Message):
    __slots__ = ("daemon_id",)
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    daemon_id: str
    def __init__(self, daemon_id: _Optional[str] = ...) -> None: ...

class DoctorHop(_message.Message):
    __slots__ = ("name", "ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    ms: float
    def __init__(self, name: _Optional[str] = ..., ms: _Optional[float] = ...) -> None: ...

class DoctorDaemonResult(_message.Message):
    __slots__ = ("daemon_id", "daemon_name", "ok", "error", "hops", "total_ms")
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    DAEMON_NAME_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HOPS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    daemon_id: str
    daemon_name: str
    ok: bool
    error: str
    hops: _containers.RepeatedCompositeFieldContainer[DoctorHop]
    total_ms: float
    def __init__(self, daemon_id: _Optional[str] = ..., daemon_name: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ..., hops: _Optional[_Iterable[_Union[DoctorHop, _Mapping]]] = ..., total_ms: _Optional[float] = ...) -> None: ...

class RunDoctorResponse(_message.Message):
    __slots__ = ("ok", "workflow_id", "results", "error")
    OK_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    workflow_id: str
    results: _containers.RepeatedCompositeFieldContainer[DoctorDaemonResult]
    error: str
    def __init__(self, ok: _Optional[bool] = ..., workflow_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[DoctorDaemonResult, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...
