"""A local HTTP server speaking the providers' streaming wire formats, for the real SDK clients.

It serves `POST /v1/messages` (Anthropic Messages SSE) and `POST /v1/chat/completions` (OpenAI
chat.completion.chunk SSE) on a free loopback port, answers each request with the next queued
response, and records every request it got. `GET /v1/models` lists `listed_models` in the shape of
whichever SDK asks (Anthropic's, told by its `anthropic-version` header, or OpenAI's), or answers
`models_error` (an ErrorResponse) when that is set; it takes nothing from the queue.

    async with FakeLlmServer() as server:
        server.enqueue(anthropic_stream([Text("Hello", " world")], stop_reason="end_turn"))
        provider = AnthropicProvider(api_key="k", base_url=server.url)
        ...
        server.requests[0].body["system"]          # what the SDK sent
        server.requests[0].headers["x-api-key"]

Timing, for tests and benchmarks: every SseEvent may wait `delay` seconds (or for `gate`) before it
is written, and a StreamResponse records in `written` the `time.perf_counter()` at which each of its
events was handed to the transport (same process, same clock as the client); `delta_times()` keeps
those of the content deltas. `delta_delay=` on the builders spaces the content deltas out evenly, so
token-delta latency = (when on_event saw delta i) - response.delta_times()[i].

Faults, applied to a built stream: `ended_early` (a clean end of the body before the answer is
complete), `stalled` (silence in the middle of the stream until the client gives up) and
`malformed` (a chunk that is not JSON). A waiting stream notices when the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from embedded.ports import free_port

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- what the server answers -------------------------------------------------------------------


@dataclass
class SseEvent:
    data: str  # the `data:` payload, already encoded (JSON text or "[DONE]")
    event: str | None = None  # the `event:` name (Anthropic names every event; OpenAI none)
    delay: float = 0.0  # seconds to wait before writing this event
    gate: asyncio.Event | None = None  # wait for this before writing this event
    delta: bool = False  # carries content (text, thinking or tool input) the client streams on

    def encode(self) -> bytes:
        head = f"event: {self.event}\n" if self.event else ""
        return f"{head}data: {self.data}\n\n".encode()


@dataclass
class StreamResponse:
    events: list[SseEvent]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    abort_after: int | None = None  # drop the connection after writing this many events
    written: list[float] = field(default_factory=list)  # perf_counter() per event written, in order
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def delta_times(self) -> list[float]:
        """When each content delta was written (perf_counter), for latency measurements."""
        return [at for event, at in zip(self.events, self.written, strict=False) if event.delta]


@dataclass
class ErrorResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PageResponse:
    """Any other answer: `text` as `content_type` (an HTML page where a stream was expected, say)."""

    text: str
    status: int = 200
    content_type: str = "text/html; charset=utf-8"


Response = StreamResponse | ErrorResponse | PageResponse


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON (or the raw text if it was not JSON)
    received_at: float  # perf_counter()


# --- content, described once for both wire formats ------------------------------------------------


@dataclass(frozen=True)
class Text:
    chunks: tuple[str, ...]

    def __init__(self, *chunks: str) -> None:
        object.__setattr__(self, "chunks", chunks)


@dataclass(frozen=True)
class Thinking:
    chunks: tuple[str, ...]
    signature: str

    def __init__(self, *chunks: str, signature: str = "sig-test") -> None:
        object.__setattr__(self, "chunks", chunks)
        object.__setattr__(self, "signature", signature)


@dataclass(frozen=True)
class RedactedThinking:
    data: str


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    json_chunks: tuple[str, ...]  # the arguments' JSON, split as the model streams it

    def __init__(self, id: str, name: str, *json_chunks: str) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "json_chunks", json_chunks)


Block = Text | Thinking | RedactedThinking | ToolCall


def anthropic_stream(
    blocks: Sequence[Block],
    *,
    stop_reason: str | None = None,
    input_tokens: int = 12,
    output_tokens: int = 7,
    cache_read: int = 0,
    cache_write: int = 0,
    model: str = "claude-test",
    delta_delay: float = 0.0,
    abort_after: int | None = None,
) -> StreamResponse:
    """A Messages API stream: message_start, content_block_start/delta/stop..., message_delta, message_stop."""
    if stop_reason is None:
        stop_reason = "tool_use" if any(isinstance(b, ToolCall) for b in blocks) else "end_turn"
    usage_start = {
        "input_tokens": input_tokens,
        "output_tokens": 1,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }
    events = [
        _anthropic(
            "message_start",
            message={
                "id": "msg_test",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage_start,
            },
        ),
        SseEvent(data=json.dumps({"type": "ping"}), event="ping"),
    ]
    for index, block in enumerate(blocks):
        start: dict[str, Any]
        deltas: list[dict[str, Any]]
        if isinstance(block, Text):
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": c} for c in block.chunks]
        elif isinstance(block, Thinking):
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": c} for c in block.chunks]
            deltas.append({"type": "signature_delta", "signature": block.signature})
        elif isinstance(block, RedactedThinking):
            start = {"type": "redacted_thinking", "data": block.data}
            deltas = []
        else:
            start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": c} for c in block.json_chunks]
        events.append(_anthropic("content_block_start", index=index, content_block=start))
        events += [_anthropic("content_block_delta", index=index, delta=d, delay=delta_delay) for d in deltas]
        events.append(_anthropic("content_block_stop", index=index))
    events.append(
        _anthropic(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        )
    )
    events.append(_anthropic("message_stop"))
    return StreamResponse(events, abort_after=abort_after)


def anthropic_error(
    status: int, message: str = "error", *, error_type: str = "api_error", headers: dict[str, str] | None = None
) -> ErrorResponse:
    return ErrorResponse(status, {"type": "error", "error": {"type": error_type, "message": message}}, headers or {})


def anthropic_stream_error(error_type: str, message: str, *, after: Sequence[Block] = ()) -> StreamResponse:
    """A 200 stream that reports an error event after some content (overloaded mid-answer)."""
    stream = anthropic_stream(after)
    events = stream.events[:-2]  # no message_delta / message_stop
    events.append(
        SseEvent(data=json.dumps({"type": "error", "error": {"type": error_type, "message": message}}), event="error")
    )
    return StreamResponse(events)


def openai_stream(
    blocks: Sequence[Block],
    *,
    finish_reason: str | None = None,
    prompt_tokens: int = 20,
    completion_tokens: int = 9,
    cached_tokens: int | None = None,
    model: str = "gpt-test",
    delta_delay: float = 0.0,
    include_usage: bool = True,
    abort_after: int | None = None,
    tool_indexes: Sequence[int] | None = None,
) -> StreamResponse:
    """chat.completion.chunk events: role, content / reasoning / tool_calls deltas, finish, usage, [DONE].

    Thinking is sent as `reasoning_content`, as OpenAI-compatible servers do. `tool_indexes`: the
    index each tool call is sent under (default 0, 1, 2...; Ollama sends 0 for every one)."""
    if finish_reason is None:
        finish_reason = "tool_calls" if any(isinstance(b, ToolCall) for b in blocks) else "stop"
    events = [_openai(model, {"role": "assistant", "content": ""})]
    tool_index = 0
    for block in blocks:
        if isinstance(block, Text):
            events += [_openai(model, {"content": c}, delay=delta_delay) for c in block.chunks]
        elif isinstance(block, Thinking):
            events += [_openai(model, {"reasoning_content": c}, delay=delta_delay) for c in block.chunks]
        elif isinstance(block, ToolCall):
            index = tool_index if tool_indexes is None else tool_indexes[tool_index]
            first = {"index": index, "id": block.id, "type": "function"}
            events.append(
                _openai(model, {"tool_calls": [{**first, "function": {"name": block.name, "arguments": ""}}]})
            )
            events += [
                _openai(model, {"tool_calls": [{"index": index, "function": {"arguments": c}}]}, delay=delta_delay)
                for c in block.json_chunks
            ]
            tool_index += 1
    events.append(_openai(model, {}, finish_reason=finish_reason))
    if include_usage:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if cached_tokens is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
        events.append(SseEvent(data=json.dumps({**_chunk_head(model), "choices": [], "usage": usage})))
    events.append(SseEvent(data="[DONE]"))
    return StreamResponse(events, abort_after=abort_after)


def openai_chunk(choices: list[dict[str, Any]], *, model: str = "gpt-test", **fields: Any) -> SseEvent:
    """One chat.completion.chunk with `choices` exactly as given (and any other top-level fields):
    for chunks of the shapes some OpenAI-compatible servers send."""
    return SseEvent(data=json.dumps({**_chunk_head(model), "choices": choices, **fields}))


def openai_raw_stream(*chunks: SseEvent, done: bool = True) -> StreamResponse:
    """A stream of the given chunks after the usual role chunk, then `[DONE]` (unless `done` is False)."""
    head = _openai("gpt-test", {"role": "assistant", "content": ""})
    return StreamResponse([head, *chunks, *([SseEvent(data="[DONE]")] if done else [])])


def ended_early(stream: StreamResponse, keep: int) -> StreamResponse:
    """The first `keep` events of `stream`, then a clean end of the body (no error, no dropped
    connection): what a provider or proxy that gives up mid-answer sends."""
    return StreamResponse(list(stream.events[:keep]), status=stream.status, headers=dict(stream.headers))


def stalled(stream: StreamResponse, after: int, seconds: float = 3600.0) -> StreamResponse:
    """`stream` with `seconds` of silence after its first `after` events (the wait ends early when
    the client hangs up)."""
    events = list(stream.events)
    stall = events[after]
    events[after] = SseEvent(stall.data, stall.event, delay=seconds, gate=stall.gate, delta=stall.delta)
    return StreamResponse(events, status=stream.status, headers=dict(stream.headers))


def malformed(stream: StreamResponse, at: int, data: str = '{"choices": [{"index": 0, "delta": {"co') -> StreamResponse:
    """`stream` with a chunk that is not JSON inserted before event `at` (named like its
    neighbours, so an Anthropic client reads it as one of its events)."""
    events = list(stream.events)
    events.insert(at, SseEvent(data=data, event=events[at].event if at < len(events) else None))
    return StreamResponse(events, status=stream.status, headers=dict(stream.headers))


def openai_error(
    status: int,
    message: str = "error",
    *,
    error_type: str = "server_error",
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> ErrorResponse:
    return ErrorResponse(
        status, {"error": {"message": message, "type": error_type, "param": None, "code": code}}, headers or {}
    )


def _anthropic(kind: str, *, delay: float = 0.0, **fields: Any) -> SseEvent:
    is_delta = kind == "content_block_delta" and fields["delta"]["type"] != "signature_delta"
    return SseEvent(data=json.dumps({"type": kind, **fields}), event=kind, delay=delay, delta=is_delta)


def _chunk_head(model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000, "model": model}


def _openai(model: str, delta: dict[str, Any], *, finish_reason: str | None = None, delay: float = 0.0) -> SseEvent:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    is_delta = any(delta.get(k) for k in ("content", "reasoning_content")) or any(
        call.get("function", {}).get("arguments") for call in delta.get("tool_calls", ())
    )
    return SseEvent(data=json.dumps({**_chunk_head(model), "choices": [choice]}), delay=delay, delta=is_delta)


# --- the server ----------------------------------------------------------------------------------


class _Dropped(Exception):
    """Raised inside the app to make uvicorn drop the connection mid-stream."""


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave Ctrl-C to the test runner
        yield


class FakeLlmServer:
    """An ASGI app under uvicorn on 127.0.0.1; responses are served in the order they were queued."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Response] = deque()
        self.listed_models: list[str] = []
        self.models_error: ErrorResponse | None = None
        self.models_held: asyncio.Event | None = None  # set: /v1/models answers once it is set
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The Anthropic base URL (the SDK appends /v1/messages)."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """The OpenAI base URL (the SDK appends /chat/completions)."""
        return f"{self.url}/v1"

    def enqueue(self, *responses: Response) -> None:
        self._queue.extend(responses)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def reset(self) -> None:
        """Forget queued responses, recorded requests and listed models (to share one server)."""
        self._queue.clear()
        self.requests.clear()
        self.listed_models = []
        self.models_error = None
        self.models_held = None

    async def start(self) -> None:
        config = uvicorn.Config(
            self,
            host=self.host,
            port=self.port,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(), name=f"fake-llm-server:{self.port}")
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("fake LLM server exited during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("fake LLM server did not start within 10 s")
            await asyncio.sleep(0.005)

    async def shutdown(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None

    async def __aenter__(self) -> FakeLlmServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append(RecordedRequest(scope["method"], scope["path"], headers, body, time.perf_counter()))
        if scope["method"] == "GET" and scope["path"] == "/v1/models":
            if self.models_held is not None:
                await self.models_held.wait()
            await self._send_error(self.models_error or self._models(anthropic="anthropic-version" in headers), send)
            return
        if self._queue:
            response = self._queue.popleft()
        else:
            response = ErrorResponse(
                418, {"error": {"type": "test_error", "message": f"fake server: nothing queued for {scope['path']}"}}
            )
        if isinstance(response, ErrorResponse):
            await self._send_error(response, send)
            return
        if isinstance(response, PageResponse):
            await _send_body(send, response.status, response.text.encode(), response.content_type, {})
            return
        hung_up = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, hung_up), name="fake-llm-disconnect")
        try:
            await self._send_stream(response, send, hung_up)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    def _models(self, *, anthropic: bool) -> ErrorResponse:
        """The model list as a 200 answer (an ErrorResponse is any JSON answer with a status)."""
        if anthropic:
            created = "2026-01-01T00:00:00Z"
            data = [
                {"type": "model", "id": m, "display_name": m.replace("-", " ").title(), "created_at": created}
                for m in self.listed_models
            ]
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            return ErrorResponse(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
        data = [{"id": m, "object": "model", "created": 1767225600, "owned_by": "fake"} for m in self.listed_models]
        return ErrorResponse(200, {"object": "list", "data": data})

    @staticmethod
    async def _send_error(response: ErrorResponse, send: Send) -> None:
        payload = json.dumps(response.body).encode()
        await _send_body(send, response.status, payload, "application/json", response.headers)

    @staticmethod
    async def _send_stream(response: StreamResponse, send: Send, hung_up: asyncio.Event) -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        headers += [(k.encode(), v.encode()) for k, v in response.headers.items()]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        try:
            for number, event in enumerate(response.events):
                if response.abort_after is not None and number >= response.abort_after:
                    raise _Dropped("connection dropped on purpose")
                if event.gate is not None:
                    await _until(event.gate.wait(), hung_up)
                if event.delay > 0:
                    await _until(asyncio.sleep(event.delay), hung_up)
                if hung_up.is_set():
                    return
                await send({"type": "http.response.body", "body": event.encode(), "more_body": True})
                response.written.append(time.perf_counter())
            await send({"type": "http.response.body", "body": b""})
        finally:
            response.finished.set()


async def _send_body(send: Send, status: int, payload: bytes, content_type: str, extra: dict[str, str]) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _watch_disconnect(receive: Receive, hung_up: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    hung_up.set()


async def _until(wait: Awaitable[Any], hung_up: asyncio.Event) -> None:
    """Wait for `wait`, or less if the client hangs up meanwhile."""
    waiting = asyncio.ensure_future(wait)
    stop = asyncio.ensure_future(hung_up.wait())
    try:
        await asyncio.wait({waiting, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiting, stop):
            task.cancel()
        await asyncio.gather(waiting, stop, return_exceptions=True)
