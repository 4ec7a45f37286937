"""Every NATS subject reliant uses, in one place."""

from __future__ import annotations

import os
import re
import socket

PREFIX = "reliant"
PRESENCE_BUCKET = "reliant_presence"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def valid_token(value: str) -> bool:
    """True if `value` can be one subject token (no dots, wildcards or spaces)."""
    return bool(_TOKEN.match(value))


def _check(value: str) -> str:
    if not valid_token(value):
        raise ValueError(f"not a valid subject token: {value!r}")
    return value


def daemon_prefix(daemon_id: str) -> str:
    return f"{PREFIX}.daemon.{_check(daemon_id)}."


def daemon_tools(daemon_id: str) -> str:
    """Request/reply: tool calls for one daemon. Only the gateway holding its stream subscribes."""
    return daemon_prefix(daemon_id) + "tools"


def daemon_ctl(daemon_id: str, name: str = ">") -> str:
    """Request/reply or one-way control messages for one daemon (terminals, files, MCP admin)."""
    return daemon_prefix(daemon_id) + "ctl." + name


def daemon_inbound(daemon_id: str) -> list[str]:
    """The subjects a gateway subscribes to for a daemon it holds."""
    return [daemon_tools(daemon_id), daemon_ctl(daemon_id)]


def daemon_online(daemon_id: str) -> str:
    """Presence events: {"online": bool, ...} published by the gateway."""
    return daemon_prefix(daemon_id) + "online"


def daemon_event(daemon_id: str, suffix: str) -> str:
    """Events a daemon publishes through its gateway (terminal output, process events)."""
    return daemon_prefix(daemon_id) + "out." + suffix


def all_daemon_events(suffix: str) -> str:
    """One kind of event from every daemon (e.g. `proc.state`), for recorders."""
    return f"{PREFIX}.daemon.*.out.{suffix}"


def chat_updates(chat_id: str) -> str:
    """The chat's log updates, published after their commit (core NATS: no copy is kept)."""
    return f"{PREFIX}.chat.{_check(chat_id)}.updates"


def chat_live(chat_id: str, turn: int) -> str:
    """One answer a chat's model is streaming now: the model step's turn (each step of a workflow,
    each parallel branch and each agent has its own), kept in the LIVE_STREAM JetStream stream."""
    if turn < 0:
        raise ValueError(f"not a turn: {turn}")
    return f"{PREFIX}.chat.{_check(chat_id)}.live.{turn}"


def chat_live_all(chat_id: str) -> str:
    """Every answer the chat's models are streaming now (a wildcard of `chat_live`)."""
    return f"{PREFIX}.chat.{_check(chat_id)}.live.*"


# The JetStream stream that keeps every chat's `chat_live` subjects.
LIVE_STREAM = "RELIANT_LIVE"
ALL_CHATS_LIVE = f"{PREFIX}.chat.*.live.*"


def user_updates(user_id: str) -> str:
    return f"{PREFIX}.user.{_check(user_id)}.updates"


def presence_key(kind: str, ident: str) -> str:
    return f"{_check(kind)}.{_check(ident)}"


def instance_id(role: str) -> str:
    """A subject-safe id for one running instance of a role: role-host-pid."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40]
    return f"{role}-{host}-{os.getpid()}"


# Presence events of every daemon (for whoever resumes work when a daemon comes back).
ALL_DAEMONS_ONLINE = f"{PREFIX}.daemon.*.online"
# A chat has just paused for an offline daemon ({"chat_id"}): the daemon may have come back before
# the pause was committed, so whoever resumes chats checks once more.
DAEMON_AWAITED = f"{PREFIX}.worker.daemon_awaited"


def daemon_of(subject: str) -> str:
    """The daemon id in a reliant.daemon.<id>.* subject."""
    return subject.split(".")[2]
