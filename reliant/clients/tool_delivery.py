"""Getting one tool call's result from a daemon through lost requests.

A call is asked in short requests: each one lets the daemon hold it for POLL_WAIT seconds, then
answer RUNNING (the caller asks again, attaching to the same execution) or the result. A request
with no answer within POLL_WAIT + REPLY_MARGIN was lost (a gateway or NATS died or froze) and is
sent again at once, so a fault costs seconds, not the tool's whole timeout.

Once a request may have reached the daemon, later ones only attach (`resume_only`): a daemon that
restarted meanwhile must not start the call again. Its UNKNOWN answer names the daemon run that gave
it: the run the call was sent to never got it, and it is sent for real; another run means the
daemon restarted, and UNKNOWN is the outcome (a read-only call is simply run again).

While no daemon can be reached (no responders, a gateway that does not hold it), requests are
re-sent with a short backoff for `offline_grace` seconds, then DaemonUnavailableError is raised,
saying whether any request may have reached the daemon.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from reliant.bus import Bus
from reliant.clients.daemons import call_tool
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus
from reliant.errors import DaemonUnavailableError

T = TypeVar("T")

logger = logging.getLogger(__name__)

POLL_WAIT = 3.0  # seconds the daemon holds a request before answering RUNNING
REPLY_MARGIN = 2.0  # beyond POLL_WAIT, a request without an answer is taken as lost
OFFLINE_GRACE = 20.0  # seconds without reaching the daemon before giving up
# Asking a daemon that is not there costs a NATS round trip: ask often, so a daemon coming back
# (e.g. with the whole appliance after a power cut) gets its calls within a fraction of a second.
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 0.25


class ToolDelivery:
    def __init__(
        self,
        bus: Bus,
        *,
        poll_wait: float = POLL_WAIT,
        reply_margin: float = REPLY_MARGIN,
        offline_grace: float = OFFLINE_GRACE,
    ) -> None:
        self._bus = bus
        self.poll_wait = poll_wait
        self.reply_margin = reply_margin
        self.offline_grace = offline_grace

    async def deliver(
        self,
        daemon_id: str,
        call: ToolCall,
        *,
        sent_boot: str,
        resume: bool,
        rerun_if_unknown: bool = False,
        heartbeat: Callable[[], None] | None = None,
        heartbeat_every: float = 0.5,
    ) -> ToolResult:
        """The call's final result, or UNKNOWN when it may have reached a daemon run that is gone.

        `sent_boot`: the daemon run the call was (or is being) sent to ("" if not known).
        `resume`: an earlier attempt may have sent it already: begin by attaching.
        `rerun_if_unknown`: send it for real even when the daemon run it went to is gone (reads).
        `heartbeat`: called every `heartbeat_every` seconds while waiting."""
        maybe_reached = resume
        unreachable_since: float | None = None
        backoff = FIRST_BACKOFF
        while True:
            request = dataclasses.replace(call, resume_only=maybe_reached, wait=self.poll_wait)
            try:
                reply = await _beating(
                    call_tool(self._bus, daemon_id, request, timeout=self.poll_wait + self.reply_margin),
                    heartbeat,
                    heartbeat_every,
                )
            except DaemonUnavailableError as exc:
                logger.debug("tool call %s: %s; asking again", call.tool_call_id, exc)
                maybe_reached = maybe_reached or exc.maybe_reached
                now = time.monotonic()
                unreachable_since = now if unreachable_since is None else unreachable_since
                if now - unreachable_since >= self.offline_grace:
                    raise DaemonUnavailableError(daemon_id, exc.detail, maybe_reached=maybe_reached) from exc
                if not exc.maybe_reached:  # nobody to ask yet: wait a little (a timeout already waited)
                    await _beating(asyncio.sleep(backoff), heartbeat, heartbeat_every)
                    backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            unreachable_since, backoff = None, FIRST_BACKOFF
            result = reply.result
            if result.status is ToolStatus.RUNNING:
                maybe_reached = True
                continue
            logger.debug("tool call %s: %s from daemon run %s", call.tool_call_id, result.status.value, result.boot_id)
            never_got_it = bool(sent_boot) and result.boot_id == sent_boot
            if result.status is ToolStatus.UNKNOWN and (never_got_it or rerun_if_unknown):
                # This daemon run never got it (or it is safe to repeat): send it for real.
                maybe_reached, sent_boot = False, result.boot_id
                continue
            return result


async def _beating(work: Awaitable[T], heartbeat: Callable[[], None] | None, every: float) -> T:
    """Await `work`, calling `heartbeat` every `every` seconds meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            if heartbeat is not None:
                heartbeat()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
