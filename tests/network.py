"""This machine's addresses, for tests that need one that is not loopback."""

from __future__ import annotations

import ipaddress
import subprocess


def non_loopback_address() -> str | None:
    """An IPv4 address of one of this machine's interfaces other than loopback, or None."""
    try:
        out = subprocess.run(
            ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            address = fields[fields.index("inet") + 1].split("/")[0]
            if not ipaddress.ip_address(address).is_loopback:
                return address
    return None
