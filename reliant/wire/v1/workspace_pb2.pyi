from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AddMcpServerRequest(_message.Message):
    __slots__ = ("project_id", "name", "command", "args", "env", "url", "headers", "local")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    LOCAL_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    command: str
    args: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    url: str
    headers: _containers.ScalarMap[str, str]
    local: bool
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., command: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., local: _Optional[bool] = ...) -> None: ...

class AddMcpServerResponse(_message.Message):
    __slots__ = ("file", "trust", "trust_note")
    FILE_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    TRUST_NOTE_FIELD_NUMBER: _ClassVar[int]
    file: str
    trust: str
    trust_note: str
    def __init__(self, file: _Optional[str] = ..., trust: _Optional[str] = ..., trust_note: _Optional[str] = ...) -> None: ...

class McpServer(_message.Message):
    __slots__ = ("name", "transport", "target", "source", "status", "error", "tools", "pid", "restarts", "next_retry_unix", "connected_unix", "server_info")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RESTARTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RETRY_UNIX_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    SERVER_INFO_FIELD_NUMBER: _ClassVar[int]
    name: str
    transport: str
    target: str
    source: str
    status: str
    error: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    pid: int
    restarts: int
    next_retry_unix: float
    connected_unix: float
    server_info: str
    def __init__(self, name: _Optional[str] = ..., transport: _Optional[str] = ..., target: _Optional[str] = ..., source: _Optional[str] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., pid: _Optional[int] = ..., restarts: _Optional[int] = ..., next_retry_unix: _Optional[float] = ..., connected_unix: _Optional[float] = ..., server_info: _Optional[str] = ...) -> None: ...

class ListMcpServersRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ...) -> None: ...

class ListMcpServersResponse(_message.Message):
    __slots__ = ("servers", "errors", "files", "trust", "trust_note", "untrusted")
    SERVERS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TRUST_FIELD_NUMBER: _ClassVar[int]
    TRUST_NOTE_FIELD_NUMBER: _ClassVar[int]
    UNTRUSTED_FIELD_NUMBER: _ClassVar[int]
    servers: _containers.RepeatedCompositeFieldContainer[McpServer]
    errors: _containers.RepeatedScalarFieldContainer[str]
    files: _containers.RepeatedScalarFieldContainer[str]
    trust: str
    trust_note: str
    untrusted: _containers.RepeatedCompositeFieldContainer[McpServer]
    def __init__(self, servers: _Optional[_Iterable[_Union[McpServer, _Mapping]]] = ..., errors: _Optional[_Iterable[str]] = ..., files: _Optional[_Iterable[str]] = ..., trust: _Optional[str] = ..., trust_note: _Optional[str] = ..., untrusted: _Optional[_Iterable[_Union[McpServer, _Mapping]]] = ...) -> None: ...

class McpServerRequest(_message.Message):
    __slots__ = ("project_id", "name", "worktree_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    worktree_id: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., worktree_id: _Optional[str] = ...) -> None: ...

class SetMcpServerEnabledRequest(_message.Message):
    __slots__ = ("project_id", "name", "enabled", "worktree_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    name: str
    enabled: bool
    worktree_id: str
    def __init__(self, project_id: _Optional[str] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., worktree_id: _Optional[str] = ...) -> None: ...

class Terminal(_message.Message):
    __slots__ = ("id", "project_id", "workspace", "pid", "cols", "rows", "state", "exit_code", "created_unix", "command", "output_bytes")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    workspace: str
    pid: int
    cols: int
    rows: int
    state: str
    exit_code: int
    created_unix: float
    command: _containers.RepeatedScalarFieldContainer[str]
    output_bytes: int
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., workspace: _Optional[str] = ..., pid: _Optional[int] = ..., cols: _Optional[int] = ..., rows: _Optional[int] = ..., state: _Optional[str] = ..., exit_code: _Optional[int] = ..., created_unix: _Optional[float] = ..., command: _Optional[_Iterable[str]] = ..., output_bytes: _Optional[int] = ...) -> None: ...

class OpenTerminalRequest(_message.Message):
    __slots__ = ("project_id", "chat_id", "cols", "rows", "command")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    chat_id: str
    cols: int
    rows: int
    command: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_id: _Optional[str] = ..., chat_id: _Optional[str] = ..., cols: _Optional[int] = ..., rows: _Optional[int] = ..., command: _Optional[_Iterable[str]] = ...) -> None: ...

class ListTerminalsRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class ListTerminalsResponse(_message.Message):
    __slots__ = ("terminals",)
    TERMINALS_FIELD_NUMBER: _ClassVar[int]
    terminals: _containers.RepeatedCompositeFieldContainer[Terminal]
    def __init__(self, terminals: _Optional[_Iterable[_Union[Terminal, _Mapping]]] = ...) -> None: ...

class AttachTerminalRequest(_message.Message):
    __slots__ = ("terminal_id", "offset")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    offset: int
    def __init__(self, terminal_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class TerminalOutput(_message.Message):
    __slots__ = ("data", "offset", "closed", "exit_code", "reason", "keepalive")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    closed: bool
    exit_code: int
    reason: str
    keepalive: bool
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., closed: _Optional[bool] = ..., exit_code: _Optional[int] = ..., reason: _Optional[str] = ..., keepalive: _Optional[bool] = ...) -> None: ...

class TerminalInputRequest(_message.Message):
    __slots__ = ("terminal_id", "data")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    data: bytes
    def __init__(self, terminal_id: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ResizeTerminalRequest(_message.Message):
    __slots__ = ("terminal_id", "cols", "rows")
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    COLS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    cols: int
    rows: int
    def __init__(self, terminal_id: _Optional[str] = ..., cols: _Optional[int] = ..., rows: _Optional[int] = ...) -> None: ...

class CloseTerminalRequest(_message.Message):
    __slots__ = ("terminal_id",)
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    terminal_id: str
    def __init__(self, terminal_id: _Optional[str] = ...) -> None: ...

class TerminalAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Process(_message.Message):
    __slots__ = ("id", "daemon_id", "pid", "command", "workspace", "chat_id", "state", "exit_code", "has_exit_code", "ports", "output_bytes", "started_unix", "finished_unix")
    ID_FIELD_NUMBER: _ClassVar[int]
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    HAS_EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PORTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    STARTED_UNIX_FIELD_NUMBER: _ClassVar[int]
    FINISHED_UNIX_FIELD_NUMBER: _ClassVar[int]
    id: str
    daemon_id: str
    pid: int
    command: str
    workspace: str
    chat_id: str
    state: str
    exit_code: int
    has_exit_code: bool
    ports: _containers.RepeatedScalarFieldContainer[int]
    output_bytes: int
    started_unix: float
    finished_unix: float
    def __init__(self, id: _Optional[str] = ..., daemon_id: _Optional[str] = ..., pid: _Optional[int] = ..., command: _Optional[str] = ..., workspace: _Optional[str] = ..., chat_id: _Optional[str] = ..., state: _Optional[str] = ..., exit_code: _Optional[int] = ..., has_exit_code: _Optional[bool] = ..., ports: _Optional[_Iterable[int]] = ..., output_bytes: _Optional[int] = ..., started_unix: _Optional[float] = ..., finished_unix: _Optional[float] = ...) -> None: ...

class ListProcessesRequest(_message.Message):
    __slots__ = ("project_id", "chat_id")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    chat_id: str
    def __init__(self, project_id: _Optional[str] = ..., chat_id: _Optional[str] = ...) -> None: ...

class ListProcessesResponse(_message.Message):
    __slots__ = ("processes",)
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[Process]
    def __init__(self, processes: _Optional[_Iterable[_Union[Process, _Mapping]]] = ...) -> None: ...

class StreamProcessOutputRequest(_message.Message):
    __slots__ = ("process_id", "offset", "follow")
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    offset: int
    follow: bool
    def __init__(self, process_id: _Optional[str] = ..., offset: _Optional[int] = ..., follow: _Optional[bool] = ...) -> None: ...

class ProcessOutput(_message.Message):
    __slots__ = ("data", "offset", "process")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    process: Process
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., process: _Optional[_Union[Process, _Mapping]] = ...) -> None: ...

class KillProcessRequest(_message.Message):
    __slots__ = ("process_id",)
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    def __init__(self, process_id: _Optional[str] = ...) -> None: ...

class FileEntry(_message.Message):
    __slots__ = ("name", "path", "type", "size", "mtime_unix", "ignored", "target_type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    type: str
    size: int
    mtime_unix: float
    ignored: bool
    target_type: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., type: _Optional[str] = ..., size: _Optional[int] = ..., mtime_unix: _Optional[float] = ..., ignored: _Optional[bool] = ..., target_type: _Optional[str] = ...) -> None: ...

class ListDirectoryRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "path", "show_ignored")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHOW_IGNORED_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    path: str
    show_ignored: bool
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., path: _Optional[str] = ..., show_ignored: _Optional[bool] = ...) -> None: ...

class ListDirectoryResponse(_message.Message):
    __slots__ = ("path", "entries", "truncated")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    path: str
    entries: _containers.RepeatedCompositeFieldContainer[FileEntry]
    truncated: bool
    def __init__(self, path: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[FileEntry, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "path", "max_bytes")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    path: str
    max_bytes: int
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., path: _Optional[str] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class ReadFileResponse(_message.Message):
    __slots__ = ("path", "size", "sha256", "mtime_unix", "binary", "mime", "text", "data", "truncated")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MTIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    BINARY_FIELD_NUMBER: _ClassVar[int]
    MIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    sha256: str
    mtime_unix: float
    binary: bool
    mime: str
    text: str
    data: bytes
    truncated: bool
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., mtime_unix: _Optional[float] = ..., binary: _Optional[bool] = ..., mime: _Optional[str] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ..., truncated: _Optional[bool] = ...) -> None: ...

class SaveFileRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "path", "text", "data", "base_sha256", "force")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    BASE_SHA256_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    path: str
    text: str
    data: bytes
    base_sha256: str
    force: bool
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., path: _Optional[str] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ..., base_sha256: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class SaveFileResponse(_message.Message):
    __slots__ = ("path", "sha256", "size", "created")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    path: str
    sha256: str
    size: int
    created: bool
    def __init__(self, path: _Optional[str] = ..., sha256: _Optional[str] = ..., size: _Optional[int] = ..., created: _Optional[bool] = ...) -> None: ...

class CreatePathRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "path", "directory", "text")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    path: str
    directory: bool
    text: str
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., path: _Optional[str] = ..., directory: _Optional[bool] = ..., text: _Optional[str] = ...) -> None: ...

class DeletePathRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "path", "recursive")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    path: str
    recursive: bool
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ...) -> None: ...

class RenamePathRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "path", "to", "overwrite")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    path: str
    to: str
    overwrite: bool
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., path: _Optional[str] = ..., to: _Optional[str] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class PathResponse(_message.Message):
    __slots__ = ("path", "to")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    path: str
    to: str
    def __init__(self, path: _Optional[str] = ..., to: _Optional[str] = ...) -> None: ...

class SearchFilesRequest(_message.Message):
    __slots__ = ("project_id", "worktree_id", "query", "content", "regex", "case_sensitive", "path", "max_results")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    CASE_SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    worktree_id: str
    query: str
    content: bool
    regex: bool
    case_sensitive: bool
    path: str
    max_results: int
    def __init__(self, project_id: _Optional[str] = ..., worktree_id: _Optional[str] = ..., query: _Optional[str] = ..., content: _Optional[bool] = ..., regex: _Optional[bool] = ..., case_sensitive: _Optional[bool] = ..., path: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class SearchMatch(_message.Message):
    __slots__ = ("path", "line", "text")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    path: str
    line: int
    text: str
    def __init__(self, path: _Optional[str] = ..., line: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class SearchFilesResponse(_message.Message):
    __slots__ = ("matches", "truncated")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[SearchMatch]
    truncated: bool
    def __init__(self, matches: _Optional[_Iterable[_Union[SearchMatch, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class RepositoryRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class Repository(_message.Message):
    __slots__ = ("git", "commits", "branch", "root", "problem", "identity")
    GIT_FIELD_NUMBER: _ClassVar[int]
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    git: bool
    commits: bool
    branch: str
    root: str
    problem: str
    identity: str
    def __init__(self, git: _Optional[bool] = ..., commits: _Optional[bool] = ..., branch: _Optional[str] = ..., root: _Optional[str] = ..., problem: _Optional[str] = ..., identity: _Optional[str] = ...) -> None: ...

class InitRepositoryRequest(_message.Message):
    __slots__ = ("project_id", "commit")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    commit: bool
    def __init__(self, project_id: _Optional[str] = ..., commit: _Optional[bool] = ...) -> None: ...

class Worktree(_message.Message):
    __slots__ = ("id", "project_id", "chat_id", "name", "branch", "path", "base_commit", "state", "created_unix")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BASE_COMMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    chat_id: str
    name: str
    branch: str
    path: str
    base_commit: str
    state: str
    created_unix: float
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., chat_id: _Optional[str] = ..., name: _Optional[str] = ..., branch: _Optional[str] = ..., path: _Optional[str] = ..., base_commit: _Optional[str] = ..., state: _Optional[str] = ..., created_unix: _Optional[float] = ...) -> None: ...

class CreateWorktreeRequest(_message.Message):
    __slots__ = ("project_id", "chat_id", "name", "branch", "base")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    chat_id: str
    name: str
    branch: str
    base: str
    def __init__(self, project_id: _Optional[str] = ..., chat_id: _Optional[str] = ..., name: _Optional[str] = ..., branch: _Optional[str] = ..., base: _Optional[str] = ...) -> None: ...

class ListWorktreesRequest(_message.Message):
    __slots__ = ("project_id", "include_removed", "include_orphaned")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REMOVED_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ORPHANED_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    include_removed: bool
    include_orphaned: bool
    def __init__(self, project_id: _Optional[str] = ..., include_removed: _Optional[bool] = ..., include_orphaned: _Optional[bool] = ...) -> None: ...

class ListWorktreesResponse(_message.Message):
    __slots__ = ("worktrees", "orphaned", "orphaned_problem", "agents")
    WORKTREES_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    worktrees: _containers.RepeatedCompositeFieldContainer[Worktree]
    orphaned: _containers.RepeatedCompositeFieldContainer[OrphanedWorktree]
    orphaned_problem: str
    agents: _containers.RepeatedCompositeFieldContainer[ChatAgentWorktree]
    def __init__(self, worktrees: _Optional[_Iterable[_Union[Worktree, _Mapping]]] = ..., orphaned: _Optional[_Iterable[_Union[OrphanedWorktree, _Mapping]]] = ..., orphaned_problem: _Optional[str] = ..., agents: _Optional[_Iterable[_Union[ChatAgentWorktree, _Mapping]]] = ...) -> None: ...

class ChatAgentWorktree(_message.Message):
    __slots__ = ("agent_id", "chat_id", "name", "branch", "path", "state")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHAT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    chat_id: str
    name: str
    branch: str
    path: str
    state: str
    def __init__(self, agent_id: _Optional[str] = ..., chat_id: _Optional[str] = ..., name: _Optional[str] = ..., branch: _Optional[str] = ..., path: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class OrphanedWorktree(_message.Message):
    __slots__ = ("name", "path", "branch", "uncommitted")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    UNCOMMITTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    branch: str
    uncommitted: int
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., branch: _Optional[str] = ..., uncommitted: _Optional[int] = ...) -> None: ...

class WorktreeRequest(_message.Message):
    __slots__ = ("worktree_id",)
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    worktree_id: str
    def __init__(self, worktree_id: _Optional[str] = ...) -> None: ...

class ChangedFile(_message.Message):
    __slots__ = ("path", "index", "worktree")
    PATH_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    WORKTREE_FIELD_NUMBER: _ClassVar[int]
    path: str
    index: str
    worktree: str
    def __init__(self, path: _Optional[str] = ..., index: _Optional[str] = ..., worktree: _Optional[str] = ...) -> None: ...

class WorktreeStatus(_message.Message):
    __slots__ = ("branch", "head", "ahead", "behind", "files")
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    AHEAD_FIELD_NUMBER: _ClassVar[int]
    BEHIND_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    branch: str
    head: str
    ahead: int
    behind: int
    files: _containers.RepeatedCompositeFieldContainer[ChangedFile]
    def __init__(self, branch: _Optional[str] = ..., head: _Optional[str] = ..., ahead: _Optional[int] = ..., behind: _Optional[int] = ..., files: _Optional[_Iterable[_Union[ChangedFile, _Mapping]]] = ...) -> None: ...

class WorktreeDiffRequest(_message.Message):
    __slots__ = ("worktree_id", "base")
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    worktree_id: str
    base: str
    def __init__(self, worktree_id: _Optional[str] = ..., base: _Optional[str] = ...) -> None: ...

class WorktreeDiff(_message.Message):
    __slots__ = ("diff", "files", "truncated")
    DIFF_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    diff: str
    files: _containers.RepeatedScalarFieldContainer[str]
    truncated: bool
    def __init__(self, diff: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class RemoveWorktreeRequest(_message.Message):
    __slots__ = ("worktree_id", "force", "delete_branch", "project_id", "orphaned_path")
    WORKTREE_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    DELETE_BRANCH_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ORPHANED_PATH_FIELD_NUMBER: _ClassVar[int]
    worktree_id: str
    force: bool
    delete_branch: bool
    project_id: str
    orphaned_path: str
    def __init__(self, worktree_id: _Optional[str] = ..., force: _Optional[bool] = ..., delete_branch: _Optional[bool] = ..., project_id: _Optional[str] = ..., orphaned_path: _Optional[str] = ...) -> None: ...

class ListDirectoriesRequest(_message.Message):
    __slots__ = ("daemon_id", "path", "show_hidden")
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SHOW_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    daemon_id: str
    path: str
    show_hidden: bool
    def __init__(self, daemon_id: _Optional[str] = ..., path: _Optional[str] = ..., show_hidden: _Optional[bool] = ...) -> None: ...

class DirectoryEntry(_message.Message):
    __slots__ = ("name", "path", "git", "usable", "reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    GIT_FIELD_NUMBER: _ClassVar[int]
    USABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    git: bool
    usable: bool
    reason: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., git: _Optional[bool] = ..., usable: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ListDirectoriesResponse(_message.Message):
    __slots__ = ("path", "parent", "home", "usable", "reason", "entries", "truncated", "daemon_id")
    PATH_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    HOME_FIELD_NUMBER: _ClassVar[int]
    USABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    DAEMON_ID_FIELD_NUMBER: _ClassVar[int]
    path: str
    parent: str
    home: str
    usable: bool
    reason: str
    entries: _containers.RepeatedCompositeFieldContainer[DirectoryEntry]
    truncated: bool
    daemon_id: str
    def __init__(self, path: _Optional[str] = ..., parent: _Optional[str] = ..., home: _Optional[str] = ..., usable: _Optional[bool] = ..., reason: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[DirectoryEntry, _Mapping]]] = ..., truncated: _Optional[bool] = ..., daemon_id: _Optional[str] = ...) -> None: ...
