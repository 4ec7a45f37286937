"""An HTTP failure of a provider, classified: retryable (after the wait the server asked for) or fatal."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from reliant.llm.errors import FatalLlmError, LlmError, RetryableLlmError
from reliant.redaction import MIN_LENGTH

# 408 timeout, 409 conflict (lock contention), 425 too early, 429 rate limited; every 5xx, and
# Anthropic's 529 "overloaded", is a server-side condition that can pass.
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
BAD_REQUEST = 400  # the status of a rejection the server names no better one for
PAYMENT_REQUIRED = 402
TOO_MANY_REQUESTS = 429
# The codes of a 429 that is no rate limit but an account out of credits (OpenAI's).
_OUT_OF_CREDITS = frozenset({"insufficient_quota"})
_FATAL_KINDS = {
    400: "invalid_request",
    401: "auth",
    402: "billing",
    403: "permission",
    404: "not_found",
    413: "request_too_large",
    422: "invalid_request",
}
CONTEXT_TOO_LONG = "context_too_long"  # the request holds more tokens than the model's window
# How providers say a request outgrew the model's context window: Anthropic ("prompt is too long:
# 212345 tokens > 200000 maximum", "input length and `max_tokens` exceed context limit"), OpenAI and
# what imitates it (vLLM, OpenRouter, Mistral: "maximum context length is 8192 tokens"), vLLM's newer
# "longer than the maximum model length", llama.cpp ("exceeds the available context size"), Ollama
# ("exceeds the context length"), Gemini ("exceeds the maximum number of tokens allowed").
_CONTEXT_TOO_LONG = re.compile(
    r"prompt is too long|exceeds? (?:the )?context limit|maximum context length|maximum model length"
    r"|exceeds? (?:the )?(?:available |maximum )?context (?:size|length|window)"
    r"|exceeds the maximum number of tokens",
    re.IGNORECASE,
)
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})  # OpenAI, llama.cpp


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_4XX or status >= 500


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The wait a response asks for: `retry-after-ms`, else `retry-after` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            value = -1.0
        if value >= 0:
            return value / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT; a zone-less one is read as such
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


def error_for_status(
    provider: str,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    where: str = "",
    code: str = "",
    type_status: int | None = None,
) -> LlmError:
    """The LlmError for an HTTP error `status`, carrying `retry_after` when the server sent one.

    `where` (" from <url> for <model>") goes into a fatal error's text: the chat pauses with it, and
    a server's own words (a 404 of a wrong base URL, say) often name neither. `code`: the error
    body's code, where the provider gives one (OpenAI's `context_length_exceeded`). `type_status`:
    the status the body's error type stands for (Anthropic's `billing_error` is 402), which says
    what a 400 is: any rejection may come with that status (Anthropic's "credit balance is too low"
    does)."""
    meant = type_status if status == BAD_REQUEST and type_status is not None else status
    if status == TOO_MANY_REQUESTS and code in _OUT_OF_CREDITS:
        meant = PAYMENT_REQUIRED  # waiting does not mend an account out of credits
    if is_retryable_status(meant):
        wait = retry_after_seconds(headers) if headers is not None else None
        text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
        return RetryableLlmError(provider, text, status=status, retry_after=wait)
    text = f"HTTP {status}{where}: {message}" if message else f"HTTP {status}{where}"
    kind = CONTEXT_TOO_LONG if is_context_too_long(meant, message, code) else _FATAL_KINDS.get(meant, "client_error")
    if kind == "billing":  # the provider's own words may not say what to do
        text += " (billing: the account's credits or plan do not cover the call; add credits, then resume)"
    return FatalLlmError(provider, text, kind=kind, status=status)


def is_context_too_long(status: int, message: str, code: str = "") -> bool:
    """Whether a rejected request was too long for the model's context window (a shorter one may pass)."""
    return status in (400, 413, 422) and (code in _CONTEXT_CODES or _CONTEXT_TOO_LONG.search(message) is not None)


_TITLE = re.compile(r"<title[^>]*>([^<]{1,200})</title>", re.IGNORECASE)


def plain_body(body: object) -> str:
    """What an error body that is not JSON says: its first line, or an HTML page's title ("" if
    neither)."""
    if not isinstance(body, str) or not body.strip():
        return ""
    text = body.strip()
    if text.startswith("<"):
        title = _TITLE.search(text)
        return " ".join(title.group(1).split()) if title else ""
    return text.splitlines()[0][:200]


def secrets_of(api_key: str, base_url: str) -> tuple[str, ...]:
    """What a provider's messages must not show: its key (unless shorter than any real key: the
    placeholder a local server is given, "x" or "ollama", would mask ordinary words) and the
    credentials in its base URL."""
    return tuple(s for s in (api_key if len(api_key) >= MIN_LENGTH else "", url_credentials(base_url)) if s)


def url_credentials(url: str) -> str:
    """The credentials a base URL carries (`user:password` of https://user:password@host), or ""."""
    netloc = urlsplit(url).netloc
    return netloc.rpartition("@")[0] if "@" in netloc else ""


def scrub(text: str, *secrets: str) -> str:
    """`text` with every given secret replaced, for messages that may echo a request back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return text
