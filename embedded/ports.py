"""Loopback port helpers shared by the launchers and the data dir."""

from __future__ import annotations

import random
import socket
from pathlib import Path

# IANA's dynamic range, the ephemeral range of macOS and the BSDs (Linux says its own in /proc).
_DYNAMIC = (49152, 65535)
_LOWEST = 10000  # below: the well-known ports of services a developer may run (5432, 8080, ...)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could bind host:port now (with SO_REUSEADDR, as servers do)."""
    return bind_error(port, host) is None


def bind_error(port: int, host: str = "127.0.0.1") -> OSError | None:
    """Why a server could not bind host:port now (None: it could): the port taken (EADDRINUSE),
    an address that is not this machine's, a name that does not resolve, a port not allowed."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc
    return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free right now, chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel hands out to outgoing connections and to binds of port 0."""
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return _DYNAMIC
    return low, high


# Ports server_port handed out in this process: each is free when chosen but bound only later, so a
# second call must not choose it again (a test picks a handful before starting anything).
_handed_out: set[int] = set()


def server_port(host: str = "127.0.0.1", *, avoid: set[int] | frozenset[int] = frozenset()) -> int:
    """A free port for a server that keeps it across restarts: outside the ephemeral range, so no
    outgoing connection (ours, Temporal's or any other process's) is ever given it between two runs
    and makes the server's bind fail. Never one this process was handed before, nor one in `avoid`.
    Falls back to a kernel-chosen port if that range has none."""
    low, high = ephemeral_range()
    ranges = [(first, last) for first, last in ((_LOWEST, low - 1), (high + 1, 65535)) if first <= last]
    taken = _handed_out | avoid
    port = 0
    for _ in range(64 if ranges else 0):
        first, last = random.choice(ranges)
        candidate = random.randint(first, last)
        if candidate not in taken and port_is_free(candidate, host):
            port = candidate
            break
    while not port or port in taken:
        port = free_port(host)
    _handed_out.add(port)
    return port
