"""RedactingInterceptor: what an activity's failure tells Temporal holds no secret.

Temporal stores an activity failure in the workflow's history with its whole exception chain (the
message of every cause), and the SDK logs it with that chain. A third-party error may echo what it
was sent (a provider error quoting the API key, a URL with a password). Every failure is therefore
re-raised with its message and the strings of its details redacted and *without* its chain (the
chain is logged at debug level, through the logging filter that masks the same secrets); its type,
retry behaviour and traceback stay as they were.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from temporalio.exceptions import ApplicationError, TemporalError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from reliant.redaction import redact

logger = logging.getLogger(__name__)


class RedactingInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RedactingActivity(next)


class _RedactingActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except ApplicationError as exc:
            message = redact(exc.message)
            details = [_redacted(detail) for detail in exc.details]
            if exc.__cause__ is None and message == exc.message and details == list(exc.details):
                raise
            logger.debug("activity failure before redaction", exc_info=exc)
            raise ApplicationError(
                message,
                *details,
                type=exc.type,
                non_retryable=exc.non_retryable,
                next_retry_delay=exc.next_retry_delay,
                category=exc.category,
            ).with_traceback(exc.__traceback__) from None
        except TemporalError:  # cancellation and the SDK's own signals pass as they are
            raise
        except Exception as exc:
            # As Temporal would report it (the class name as the type, retryable), minus the chain.
            logger.debug("activity failure before redaction", exc_info=exc)
            raise ApplicationError(redact(str(exc)), type=type(exc).__name__).with_traceback(
                exc.__traceback__
            ) from None


def _redacted(value: Any) -> Any:
    """A failure's detail with the secrets in its strings masked, wherever they are in it (lists,
    tuples, dicts and dataclasses are walked; a tuple becomes a list, as Temporal would send it)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {_redacted(key): _redacted(item) for key, item in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _redacted(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **fields)
    return value
