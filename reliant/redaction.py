"""Secrets kept out of everything that leaves the process as text: log records (their message, the
exception chain, the stack) and the failures an activity reports to Temporal.

The values to mask are remembered as they become known (a provider key from the settings or set
through the api); they are process-wide, like logging itself. Values shorter than MIN_LENGTH are not
masked: they would mask ordinary words, and no real key or token is that short.
"""

from __future__ import annotations

import logging
import threading

MASK = "****"
MIN_LENGTH = 8

_lock = threading.Lock()
_secrets: tuple[str, ...] = ()  # longest first, so a secret that contains another is masked whole


def remember(*values: str) -> None:
    """Mask these values from now on (empty or short ones are ignored)."""
    global _secrets
    new = {v for v in values if len(v) >= MIN_LENGTH} - set(_secrets)
    if not new:
        return
    with _lock:
        _secrets = tuple(sorted({*_secrets, *new}, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every remembered secret replaced by ****."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that masks the remembered secrets in a record's message, exception and
    stack text before any formatter sees them. Put it on every handler: a filter on a handler sees
    the records of every logger that propagates to it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        message = record.getMessage()
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
