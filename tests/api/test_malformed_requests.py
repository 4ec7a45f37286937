"""Every RPC of every service, sent a generated corpus of malformed requests over real HTTP: none
gets a 5xx, `unknown` or `internal`; each gets the answer the protocol calls for, naming the field at
fault."""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass

import httpx
import pytest

from tests.api.conftest import ApiEnv
from tests.api.malformed import DECODES, INVALID, UNSUPPORTED, Case, corpus, methods, streaming

SERVER_FAULTS = {"unknown", "internal"}


@dataclass
class Answer:
    status: int
    code: str
    message: str


def end_of_stream(body: bytes) -> tuple[str, str]:
    """The error (code, message) in a Connect stream's end-of-stream envelope; ("", "") if none."""
    offset = 0
    while offset + 5 <= len(body):
        flags, length = struct.unpack(">BI", body[offset : offset + 5])
        data = body[offset + 5 : offset + 5 + length]
        offset += 5 + length
        if flags & 0x02:
            error = json.loads(data or b"{}").get("error") or {}
            return str(error.get("code", "")), str(error.get("message", ""))
    return "", ""


async def send(client: httpx.AsyncClient, env: ApiEnv, case: Case) -> Answer:
    headers = {**env.headers, "content-type": case.content_type, **case.headers}
    response = await client.post(env.url + case.path, content=case.request_body(), headers=headers)
    if streaming(case.method) and response.status_code == 200:
        return Answer(200, *end_of_stream(response.content))
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    return Answer(response.status_code, str(doc.get("code", "")), str(doc.get("message", "")))


def wrong(case: Case, answer: Answer) -> str:
    """What is wrong with `answer` to `case`; "" if nothing."""
    if case.expect == DECODES and answer.code == "unavailable" and "no daemon is online" in answer.message:
        return ""  # decoded, then honestly refused: the daemon's heartbeat lagged on a busy machine
    if answer.status >= 500 or answer.code in SERVER_FAULTS:
        return "server fault"
    if case.expect == DECODES:
        return ""
    if case.expect == UNSUPPORTED:
        return "" if answer.status == 415 else "not 415"
    want = 200 if streaming(case.method) else (400 if case.expect == INVALID else 413)
    if answer.status != want or answer.code != case.expect:
        return f"want HTTP {want} {case.expect}"
    if case.field_name and case.field_name not in answer.message:
        return f"the message does not name {case.field_name}"
    return ""


@pytest.mark.timeout(600)
async def test_no_malformed_request_gets_a_server_error(api_env: ApiEnv) -> None:
    cases = corpus()
    assert len({c.path for c in cases}) == len(methods()) >= 50
    failures: list[str] = []
    gate = asyncio.Semaphore(6)
    limits = httpx.Limits(max_connections=6)

    async with httpx.AsyncClient(timeout=20, limits=limits) as client:

        async def check(case: Case) -> None:
            async with gate:
                answer = await send(client, api_env, case)
            problem = wrong(case, answer)
            if problem:
                failures.append(
                    f"{case.path} [{case.name}]: {problem}; got {answer.status} {answer.code} {answer.message[:120]!r}"
                )

        await asyncio.gather(*(check(case) for case in cases))
    summary = "\n".join(sorted(failures)[:60])
    assert not failures, f"{len(failures)} of {len(cases)} requests were answered wrongly:\n{summary}"
