"""Tools the daemon runs on the user's machine."""

from reliant.daemon.tools.background import SHELL_KILL, SHELL_LIST, SHELL_OUTPUT, SHELL_WAIT
from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolProvider, ToolSpec
from reliant.daemon.tools.files import EDIT, VIEW, WRITE
from reliant.daemon.tools.host import ToolHost
from reliant.daemon.tools.ping import PING
from reliant.daemon.tools.search import GLOB, GREP
from reliant.daemon.tools.shell import RUN_COMMAND, SHELL

BUILTIN_TOOLS: tuple[ToolSpec, ...] = (
    PING,
    VIEW,
    WRITE,
    EDIT,
    GLOB,
    GREP,
    SHELL,
    SHELL_OUTPUT,
    SHELL_WAIT,
    SHELL_KILL,
    SHELL_LIST,
    RUN_COMMAND,
)

__all__ = [
    "BUILTIN_TOOLS",
    "EDIT",
    "GLOB",
    "GREP",
    "PING",
    "RUN_COMMAND",
    "SHELL",
    "SHELL_KILL",
    "SHELL_LIST",
    "SHELL_OUTPUT",
    "SHELL_WAIT",
    "VIEW",
    "WRITE",
    "ToolContext",
    "ToolFailure",
    "ToolHost",
    "ToolOutput",
    "ToolProvider",
    "ToolSpec",
]
