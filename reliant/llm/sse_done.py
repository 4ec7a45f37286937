"""Whether an OpenAI-compatible stream ended with its end marker, `data: [DONE]`.

The OpenAI SDK ends its iteration at `[DONE]` and at a clean end of the body alike, so a body cut
short cannot be told from one that ended as it should by iterating. A response hook (`watch`)
passes every response body through a DoneWatch, which notes the marker line as the bytes go by.
It reads the bytes as sent: a compressed stream (rare for events) is never seen to end, and is
taken for one cut short, as it was before.

Imports httpx2: imported with the SDK, when a provider is built."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2

# What a line that ends the stream starts with (the SDK: an event whose data starts with "[DONE]").
_MARKERS = (b"data: [DONE]", b"data:[DONE]")
_LONGEST = max(len(m) for m in _MARKERS)


class DoneWatch(httpx2.AsyncByteStream):
    """A response body, passed on unchanged; `done` once a line of it was the end marker."""

    def __init__(self, body: httpx2.AsyncByteStream) -> None:
        self._body = body
        self._line = b""  # the start of the line under way (only as long as a marker: that decides)
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._body:
            self._see(chunk)
            yield chunk
        self._ended(self._line)  # a last line without its line break

    async def aclose(self) -> None:
        await self._body.aclose()

    def _see(self, chunk: bytes) -> None:
        *ended, rest = (self._line + chunk).replace(b"\r", b"\n").split(b"\n")
        for line in ended:
            self._ended(line)
        self._line = rest[:_LONGEST]

    def _ended(self, line: bytes) -> None:
        if line.startswith(_MARKERS):
            self.done = True


async def watch(response: httpx2.Response) -> None:
    """A response hook of the provider's HTTP client: its body goes through a DoneWatch."""
    if isinstance(response.stream, httpx2.AsyncByteStream):
        response.stream = DoneWatch(response.stream)


def seen(response: httpx2.Response) -> bool:
    """Whether the body of `response` (read through) held the end marker."""
    return isinstance(response.stream, DoneWatch) and response.stream.done
