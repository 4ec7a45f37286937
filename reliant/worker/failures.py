"""What a failed step means for a chat: the chat is gone, the infrastructure is away (wait it out
and try again), or something the user must see (pause with the reason).

Pure and deterministic: the workflow calls it on every failed activity, and so can any workflow
code that runs steps."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from reliant.worker.activities.types import (
    CHAT_GONE,
    DAEMON_OFFLINE,
    DAEMON_OFFLINE_REASON,
    INFRA_UNAVAILABLE,
    WORKER_LOST,
)

INFRA_FIRST_WAIT = timedelta(seconds=1)
INFRA_MAX_WAIT = timedelta(seconds=10)


class FailureKind(enum.Enum):
    GONE = "gone"  # the chat was deleted: stop quietly
    INFRASTRUCTURE = "infrastructure"  # Postgres, NATS, Temporal or a worker away: wait, then retry
    PAUSE = "pause"  # the user must see it (a model-side fatal error, a daemon offline, ...)


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    error_type: str
    message: str
    service: str = ""  # what an infrastructure failure waits for

    @property
    def pause_reason(self) -> str:
        if self.error_type == DAEMON_OFFLINE:
            return f"{DAEMON_OFFLINE_REASON}: {self.message}"
        return self.message


def classify_failure(err: ActivityError | ApplicationError) -> Failure:
    """Classify an activity's final failure (after the retries its RetryPolicy allows). A local
    activity's may come as the ApplicationError it raised, not wrapped in an ActivityError."""
    cause: BaseException | None = err if isinstance(err, ApplicationError) else err.cause
    if isinstance(cause, ActivityTimeoutError) and cause.type is TimeoutType.HEARTBEAT:
        # The worker running it went away (or cannot reach Temporal): another one will take it.
        return Failure(FailureKind.INFRASTRUCTURE, "HeartbeatTimeout", str(cause), service="a worker")
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = getattr(cause, "cause", None)
    if not isinstance(cause, ApplicationError):
        return Failure(FailureKind.PAUSE, "", str(err.cause or err))
    kind = cause.type or ""
    if kind == CHAT_GONE:
        return Failure(FailureKind.GONE, kind, cause.message)
    if kind == INFRA_UNAVAILABLE:
        service = str(cause.details[0]) if cause.details else "the infrastructure"
        return Failure(FailureKind.INFRASTRUCTURE, kind, cause.message, service=service)
    if kind == WORKER_LOST:
        return Failure(FailureKind.INFRASTRUCTURE, kind, cause.message, service="a worker")
    return Failure(FailureKind.PAUSE, kind, cause.message)


def infrastructure_wait(waits: int) -> timedelta:
    """How long to wait before the `waits`-th retry of a step held up by the infrastructure:
    doubling from INFRA_FIRST_WAIT, capped at INFRA_MAX_WAIT."""
    wait: timedelta = INFRA_FIRST_WAIT * 2 ** min(10, max(0, waits - 1))
    return min(INFRA_MAX_WAIT, wait)
