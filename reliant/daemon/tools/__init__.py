"""Tools the daemon runs on the user's machine."""

from reliant.daemon.tools.base import ToolContext, ToolFailure, ToolOutput, ToolSpec
from reliant.daemon.tools.files import EDIT, VIEW, WRITE
from reliant.daemon.tools.host import ToolHost
from reliant.daemon.tools.ping import PING
from reliant.daemon.tools.search import GLOB, GREP
from reliant.daemon.tools.shell import SHELL

BUILTIN_TOOLS: tuple[ToolSpec, ...] = (PING, VIEW, WRITE, EDIT, GLOB, GREP, SHELL)

__all__ = [
    "BUILTIN_TOOLS",
    "EDIT",
    "GLOB",
    "GREP",
    "PING",
    "SHELL",
    "VIEW",
    "WRITE",
    "ToolContext",
    "ToolFailure",
    "ToolHost",
    "ToolOutput",
    "ToolSpec",
]
