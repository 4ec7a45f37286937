"""The daemon's workspace services over ConnectRPC: MCP servers, terminals, background processes,
files, git worktrees and the directories a project could be in (reliant/wire/v1/workspace.proto documents every RPC).

Each call finds the project (and worktree) in Postgres, then asks the project's daemon with a control
request through NATS and its gateway. Streams (terminal and process output) catch up from the
daemon's kept output, then follow its events, deduplicated by byte offset: no gap, no duplicate,
also across a reload.
"""

from __future__ import annotations

from typing import Any

from reliant.api.context import ApiContext
from reliant.api.workspace.daemons import Daemons
from reliant.api.workspace.directories import DirectoryService
from reliant.api.workspace.files import FileSystemService
from reliant.api.workspace.mcp import McpService
from reliant.api.workspace.processes import ProcessService
from reliant.api.workspace.terminals import TerminalService
from reliant.api.workspace.worktrees import WorktreeService


def workspace_apps(ctx: ApiContext) -> list[Any]:
    """The ConnectRPC applications of this module, for the api's dispatcher."""
    from reliant.wire.v1 import workspace_connect as connect

    daemons = Daemons(ctx)
    return [
        connect.McpServiceASGIApplication(McpService(daemons)),
        connect.TerminalServiceASGIApplication(TerminalService(daemons)),
        connect.ProcessServiceASGIApplication(ProcessService(daemons)),
        connect.FileSystemServiceASGIApplication(FileSystemService(daemons)),
        connect.WorktreeServiceASGIApplication(WorktreeService(daemons)),
        connect.DirectoryServiceASGIApplication(DirectoryService(daemons)),
    ]
