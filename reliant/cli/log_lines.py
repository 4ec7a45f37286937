"""One log line per expected condition.

An activity that fails on purpose (a missing API key, a daemon offline, a chat deleted under it)
raises Temporal's ApplicationError with a sentence for the user; the SDK logs it with its traceback,
which says nothing more and buries the sentence. Below debug level such a record becomes one line:
what failed, for which chat, and the sentence. Anything else (a bug) keeps its traceback.
"""

from __future__ import annotations

import logging
import sys


class ExpectedFailures(logging.Filter):
    """Turns the record of an expected activity failure into one line (kept whole at debug)."""

    def __init__(self, keep_tracebacks: bool) -> None:
        super().__init__()
        self.keep_tracebacks = keep_tracebacks

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keep_tracebacks or not record.exc_info or record.exc_info[1] is None:
            return True
        failure = record.exc_info[1]
        if not _expected(failure):
            return True
        details = getattr(record, "temporal_activity", None) or {}
        what = str(details.get("activity_type") or "activity")
        workflow = str(details.get("workflow_id") or "")
        chat = workflow.removeprefix("chat-") if workflow.startswith("chat-") else ""
        where = f" for chat {chat}" if chat else (f" in {workflow}" if workflow else "")
        record.msg = "%s%s failed: %s"
        record.args = (what, where, " ".join(str(getattr(failure, "message", failure)).split()))
        record.exc_info = None
        record.exc_text = None
        return True


def _expected(failure: BaseException) -> bool:
    exceptions = sys.modules.get("temporalio.exceptions")  # loaded by whoever runs activities
    return exceptions is not None and isinstance(failure, exceptions.ApplicationError)
