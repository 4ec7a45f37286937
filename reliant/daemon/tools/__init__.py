"""Tools the daemon runs on the user's machine."""

from reliant.daemon.tools.base import ToolContext, ToolOutput, ToolSpec
from reliant.daemon.tools.host import ToolHost
from reliant.daemon.tools.ping import PING

BUILTIN_TOOLS: tuple[ToolSpec, ...] = (PING,)

__all__ = ["BUILTIN_TOOLS", "PING", "ToolContext", "ToolHost", "ToolOutput", "ToolSpec"]
