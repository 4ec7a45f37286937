"""Activity failures caused by the infrastructure, told apart from the activity's own failures.

An activity that fails because Postgres, NATS or Temporal cannot be reached fails with the
retryable INFRA_UNAVAILABLE error type naming the service; its retries wait at most
INFRA_MAX_WAIT; the chat shows the wait (a retry_wait update "waiting for postgres", when it can be
written) and the worker's presence record says what it waits for (`reliant status`). The workflow
waits such failures out for as long as they last (failures.classify_failure); it never pauses on
them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from reliant.bus import Bus
from reliant.clients.update_log import UpdateLog
from reliant.db import DatabaseUnavailableError
from reliant.domain import update_kinds as kinds
from reliant.worker.activities.types import DAEMON_OFFLINE, INFRA_UNAVAILABLE
from reliant.worker.failures import infrastructure_wait

logger = logging.getLogger(__name__)

SHOW_WAIT_TIMEOUT = 1.0  # writing the wait to the chat is best effort: it may be Postgres that is away
WAITING_FOR = "waiting_for"  # the key in the worker's presence detail


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


class InfrastructureErrors(Interceptor):
    """Turns an activity failure caused by an unreachable service into INFRA_UNAVAILABLE."""

    def __init__(self, bus: Bus, log: UpdateLog, presence_detail: MutableMapping[str, str]) -> None:
        self.bus = bus
        self.log = log
        self.presence_detail = presence_detail

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self)

    def unreachable(self, exc: BaseException, bus_losses_before: int) -> str:
        """The service whose absence made the activity fail, or ""."""
        for link in _chain(exc):
            if isinstance(link, DatabaseUnavailableError):
                return "postgres"
            if isinstance(link, RPCError) and link.status is RPCStatusCode.UNAVAILABLE:
                return "temporal"
        if isinstance(exc, ApplicationError) and exc.type != DAEMON_OFFLINE:
            return ""  # the activity's own verdict (a model error, the chat gone, ...)
        if not self.bus.connected or self.bus.losses != bus_losses_before:
            return "nats"  # it failed while NATS was away: a daemon looked offline, a request timed out
        return ""

    async def show_wait(self, chat_id: str, service: str, wait: timedelta, attempt: int) -> None:
        self.presence_detail[WAITING_FOR] = service
        if not chat_id:
            return
        payload = {"seconds": wait.total_seconds(), "attempt": attempt, "reason": f"waiting for {service}"}
        try:
            await asyncio.wait_for(self.log.emit(chat_id, kinds.RETRY_WAIT, payload), SHOW_WAIT_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - best effort: the service we wait for may be the one needed here
            logger.debug("could not show the wait for %s in chat %s: %s", service, chat_id, exc)

    def succeeded(self) -> None:
        self.presence_detail.pop(WAITING_FOR, None)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, root: InfrastructureErrors) -> None:
        super().__init__(next)
        self.root = root

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        losses = self.root.bus.losses
        try:
            result = await self.next.execute_activity(input)
        except Exception as exc:
            service = self.root.unreachable(exc, losses)
            if not service:
                raise
            info = activity.info()
            attempt = info.attempt
            wait = infrastructure_wait(attempt)
            logger.info(
                "%s failed while %s was unreachable (attempt %d): %s", info.activity_type, service, attempt, exc
            )
            chat_id = str(getattr(input.args[0], "chat_id", "")) if input.args else ""
            await self.root.show_wait(chat_id, service, wait, attempt)
            raise ApplicationError(
                f"waiting for {service}: {exc}",
                service,
                type=INFRA_UNAVAILABLE,
                next_retry_delay=wait,
                category=ApplicationErrorCategory.BENIGN,  # expected while it lasts: no traceback per attempt
            ) from exc
        self.root.succeeded()
        return result
