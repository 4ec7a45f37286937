"""`reliant up` logs an expected activity failure as one line; a bug keeps its traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from temporalio.exceptions import ApplicationError

from reliant.cli.log_lines import ExpectedFailures


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("temporalio.activity.test-log-lines")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)


def fail_like_temporal(logger: logging.Logger, exc: BaseException) -> None:
    try:
        raise exc
    except BaseException:
        activity = {"activity_type": "call_llm", "workflow_id": "chat-1a2b3c4d-0000-4000-8000-000000000001"}
        logger.warning("Completing activity as failed", exc_info=True, extra={"temporal_activity": activity})


def test_an_expected_failure_is_one_line(logged: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, handler = logged
    handler.addFilter(ExpectedFailures(keep_tracebacks=False))
    fail_like_temporal(logger, ApplicationError("anthropic: no API key configured", type="FatalLlmError"))
    assert stream.getvalue() == (
        "WARNING temporalio.activity.test-log-lines: call_llm for chat 1a2b3c4d-0000-4000-8000-000000000001"
        " failed: anthropic: no API key configured\n"
    )


def test_a_bug_and_debug_level_keep_the_traceback(
    logged: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, handler = logged
    handler.addFilter(ExpectedFailures(keep_tracebacks=False))
    fail_like_temporal(logger, KeyError("oops"))
    assert "Traceback" in stream.getvalue() and "KeyError: 'oops'" in stream.getvalue()
    handler.filters.clear()
    handler.addFilter(ExpectedFailures(keep_tracebacks=True))
    fail_like_temporal(logger, ApplicationError("expected", type="X"))
    assert stream.getvalue().count("Traceback") == 2
