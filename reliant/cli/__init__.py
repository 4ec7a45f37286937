"""The `reliant` command: the one place that builds Settings and wires them to services and roles.

Heavy SDKs (temporalio, litestar, grpc, provider SDKs) are imported inside the commands that need
them, so `reliant --help` stays fast. `app.py` holds the typer app and what commands share; each
module in GROUPS is one group of commands and registers itself on `app` when imported.
"""

import importlib
import logging
import os
import sys

from reliant.cli.app import app

# In the order `reliant --help` lists them.
GROUPS = ("serve", "status", "chat", "control", "agents", "project", "workspace", "workflow", "scenario", "contexts")

for _group in GROUPS:
    importlib.import_module(f"reliant.cli.{_group}")

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except SystemExit as done:
        _exit(done)
        raise
    _exit(SystemExit(0))


# Temporal's SDK runs its client and workers on a Tokio runtime whose threads call into Python;
# one that does while the interpreter finalizes aborts the process ("Fatal Python error:
# PyGILState_Release ... finalizing", exit -6), a race the suite hit about once in sixty runs of a
# worker that stops at once. A command that loaded it has closed what it opened by the time it
# returns, so it ends without finalizing: output flushed, logs shut down, then os._exit.
_TEMPORAL_BRIDGE = "temporalio.bridge.temporal_sdk_bridge"


def _exit(done: SystemExit) -> None:
    if _TEMPORAL_BRIDGE not in sys.modules:
        return
    code = done.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
