"""Classifying provider HTTP failures and reading the wait they ask for."""

from __future__ import annotations

import email.utils

import pytest

from reliant.llm.classify import error_for_status, retry_after_seconds, scrub
from reliant.llm.errors import FatalLlmError, RetryableLlmError

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "nonsense", "retry-after": "4"}, 4.0),
        ({"retry-after": email.utils.formatdate(NOW + 90, usegmt=True)}, 90.0),
        ({"retry-after": email.utils.formatdate(NOW - 90, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(status: int) -> None:
    error = error_for_status("p", status, "m", {"retry-after": "2"})
    assert isinstance(error, RetryableLlmError)
    assert error.status == status
    assert error.retry_after == 2.0


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request"),
        (401, "auth"),
        (402, "billing"),
        (403, "permission"),
        (404, "not_found"),
        (413, "request_too_large"),
        (422, "invalid_request"),
        (418, "client_error"),
    ],
)
def test_fatal_statuses(status: int, kind: str) -> None:
    error = error_for_status("p", status, "m")
    assert isinstance(error, FatalLlmError)
    assert (error.kind, error.status) == (kind, status)
    hint = " (billing: the account's credits or plan do not cover the call; add credits, then resume)"
    assert str(error) == f"p: HTTP {status}: m" + (hint if kind == "billing" else "")


@pytest.mark.parametrize(
    ("status", "message", "code", "kind"),
    [
        (400, "prompt is too long: 212345 tokens > 200000 maximum", "", "context_too_long"),
        (400, "Please reduce the length of the messages.", "context_length_exceeded", "context_too_long"),
        (
            400,
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            "",
            "context_too_long",
        ),
        (413, "the input length exceeds the context length", "", "context_too_long"),
        (400, "messages: text content blocks must be non-empty", "", "invalid_request"),
        (401, "maximum context length of your plan", "", "auth"),
    ],
)
def test_a_request_too_long_for_the_context_window(status: int, message: str, code: str, kind: str) -> None:
    error = error_for_status("p", status, message, code=code)
    assert isinstance(error, FatalLlmError)
    assert error.kind == kind


def test_scrub() -> None:
    assert scrub("key sk-1 and sk-1 again", "sk-1", "") == "key **** and **** again"
