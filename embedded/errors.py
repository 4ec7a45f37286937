"""Errors raised while starting or stopping an embedded service.

Every error names the service and carries the tail of its log, so the message alone is enough to
act on.
"""

from __future__ import annotations

from pathlib import Path


class EmbeddedError(Exception):
    """A service could not be started, probed or stopped."""

    def __init__(self, service: str, message: str, *, log_path: Path | None = None, log_tail: str = "") -> None:
        self.service = service
        self.message = message
        self.log_path = log_path
        self.log_tail = log_tail
        text = f"{service}: {message}"
        if log_path is not None:
            text += f" (log: {log_path})"
        if log_tail:
            text += "\n" + "\n".join("    " + line for line in log_tail.splitlines())
        super().__init__(text)


class BinaryNotFoundError(EmbeddedError):
    """The service's executable is not installed where we look for it."""


class PortInUseError(EmbeddedError):
    """A port the service must listen on is taken by another process."""

    def __init__(self, service: str, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        super().__init__(service, f"port {port} on {host} is already in use by another process")


class StartTimeoutError(EmbeddedError):
    """The service did not become ready in time."""


class ServiceExitedError(EmbeddedError):
    """The service process exited while we waited for it to become ready."""
