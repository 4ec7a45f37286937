"""The environment of every process the daemon starts: shell commands, background processes,
terminals, MCP servers and git.

It is the daemon's own environment without reliant's variables (`RELIANT_*` tokens, keys and
URLs, and the provider keys reliant reads, such as `ANTHROPIC_API_KEY`): in `reliant up` the
daemon shares its process with the api and the worker, so those are there, and a command the model
runs (or a prompt injection in a file it reads) must not be able to print them. What a process
needs beyond that it is given explicitly: an MCP server gets a key only through the `env` of its
own configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from reliant.config import is_reliant_variable


def child_environment(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (the daemon's environment) without reliant's own variables, then `extra` on top."""
    source = os.environ if base is None else base
    env = {name: value for name, value in source.items() if not is_reliant_variable(name)}
    if extra:
        env.update(extra)
    return env
