"""LLM errors, classified where the SDK's exceptions enter: retryable or fatal."""

from __future__ import annotations

from reliant.domain.chat import Usage
from reliant.domain.model_spec import SPEC_FORMS
from reliant.errors import ReliantError, quoted


class LlmError(ReliantError):
    """`usage`: what the call spent, as its stream reported before it ended in this error (a
    refusal, an answer a limit cut, a stream broken or overloaded part way): paid for although
    nothing of it is kept."""

    def __init__(self, provider: str, message: str, *, usage: Usage | None = None) -> None:
        self.provider = provider
        self.message = message
        self.usage = usage or Usage()
        super().__init__(f"{provider}: {message}")


class RetryableLlmError(LlmError):
    """429, 5xx, overloaded, connection trouble: worth trying again, after `retry_after` if known."""

    def __init__(
        self, provider: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(provider, message)


class FatalLlmError(LlmError):
    """Trying again cannot help (bad key, invalid request, missing key); the chat pauses with this."""

    def __init__(
        self, provider: str, message: str, *, kind: str, status: int | None = None, usage: Usage | None = None
    ) -> None:
        self.kind = kind  # "auth", "permission", "invalid_request", "not_found", "missing_key", ...
        self.status = status
        super().__init__(provider, message, usage=usage)


class UnknownModelError(LlmError):
    def __init__(self, spec: str, known: list[str]) -> None:
        self.spec = spec
        self.known = known
        super().__init__(
            "models",
            f"unknown model {quoted(spec)}; use {SPEC_FORMS} (configured: {', '.join(known)})",
        )


def check_key_sendable(provider: str, key: str) -> None:
    """Raise FatalLlmError (kind "bad_key") for a key an HTTP header cannot carry: printable ASCII
    without spaces only. Retrying such a key can never succeed; the user must set it again."""
    if not all("!" <= c <= "~" for c in key):
        raise FatalLlmError(
            provider,
            "the API key contains characters an HTTP header cannot carry (spaces, control or non-ASCII"
            " characters); set it again in Settings or the environment",
            kind="bad_key",
        )
