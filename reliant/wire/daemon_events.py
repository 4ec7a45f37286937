"""Names of the events a daemon publishes through its gateway (`reliant.daemon.<id>.out.<name>` on
NATS; see reliant.daemon.events), shared by the daemon that sends them and the roles that listen."""

from __future__ import annotations

PROC_STATE = "proc.state"  # a background process started, exited or opened ports (processes.py)
PROC_SYNC = "proc.sync"  # every process the daemon knows of, sent on each (re)connect
MCP_CHANGED = "mcp.changed"  # an MCP server changed status, and with it the tools it offers
