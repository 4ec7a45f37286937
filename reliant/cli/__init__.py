"""The `reliant` command: the one place that builds Settings and wires them to services and roles.

Heavy SDKs (temporalio, litestar, grpc, provider SDKs) are imported inside the commands that need
them, so `reliant --help` stays fast. `app.py` holds the typer app and what commands share; each
module in GROUPS is one group of commands and registers itself on `app` when imported.
"""

import importlib

from reliant.cli.app import app

# In the order `reliant --help` lists them.
GROUPS = ("serve", "status", "chat", "control", "project", "workspace", "workflow")

for _group in GROUPS:
    importlib.import_module(f"reliant.cli.{_group}")

__all__ = ["app", "main"]


def main() -> None:
    app()
