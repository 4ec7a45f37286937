"""Nothing stalls the event loop the roles share (as in `reliant up`): while the daemon searches with a
pattern that makes a backtracking regex engine explode, lists a huge directory or diffs a big edit,
/health of the api on the same loop answers within 100 ms; while the api checks a workflow definition
as large as it takes, within the one call of the YAML library that reads it (see below)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from reliant.bus import Bus
from reliant.clients.daemons import call_tool, control
from reliant.domain.tools import ToolCall, ToolResult, ToolStatus
from tests.api.conftest import ApiEnv
from tests.conftest import Infra

HEALTH_LIMIT = 0.1
# `(a+)+$` against a run of a's that does not end the line: Python's re backtracks through 2^n
# ways (n = 24: about a second for each line, holding the GIL); ripgrep's engine is linear.
EVIL = "(a+)+$"
EVIL_LINE = "a" * 24 + "!"


def _health(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url + "/health", timeout=30) as response:
        assert response.status == 200
    return time.perf_counter() - started


async def health_while(api_env: ApiEnv, work: Awaitable[Any]) -> tuple[Any, list[float]]:
    """Run `work` on the loop the api serves from, timing /health from a thread until it is done
    (and at least five times)."""
    await asyncio.to_thread(_health, api_env.url)  # the first request warms the api up
    task = asyncio.ensure_future(work)
    timings: list[float] = []
    while not task.done() or len(timings) < 5:
        timings.append(await asyncio.to_thread(_health, api_env.url))
    return await task, timings


async def tool(bus: Bus, api_env: ApiEnv, name: str, **args: Any) -> ToolResult:
    call = ToolCall(f"{name}-{time.monotonic_ns()}", name, args, chat_id="c-loop", workspace=str(api_env.workspace))
    return (await call_tool(bus, api_env.settings.daemon_id, call, timeout=60)).result


async def check(api_env: ApiEnv, what: str, work: Callable[[], Awaitable[Any]], limit: float = HEALTH_LIMIT) -> Any:
    """`work()`'s result, once /health stayed under the limit all through it. A machine shared with
    other work can delay one probe now and then: a slow round is measured once more, so only a
    stall that happens again fails (a stalled loop makes every probe during the work slow)."""
    for _ in range(2):
        result, timings = await health_while(api_env, work())
        if max(timings) < limit:
            return result
    raise AssertionError(f"{what}: /health took {max(timings) * 1000:.0f} ms ({len(timings)} probes)")


async def test_health_answers_while_the_daemon_searches_with_a_pathological_pattern(
    api_env: ApiEnv, infra: Infra
) -> None:
    ws = api_env.workspace
    (ws / "evil.txt").write_text((EVIL_LINE + "\n") * 20 + "aaa\n")
    bus = await Bus.connect(infra.nats_url, infra.nats_token)
    try:
        added = await control(bus, api_env.settings.daemon_id, "workspace.add", {"path": str(ws)}, timeout=10)
        assert added["ok"], added

        grep = await check(api_env, "grep", lambda: tool(bus, api_env, "grep", pattern=EVIL))
        assert grep.status is ToolStatus.OK and grep.output == "evil.txt:21:aaa"

        async def search() -> Any:
            body = {"workspace": str(ws), "query": EVIL, "mode": "content", "regex": True}
            return await control(bus, api_env.settings.daemon_id, "fs.search", body, timeout=60)

        found = await check(api_env, "fs.search", search)
        assert found["ok"] and [r["line"] for r in found["results"]] == [21]

        started = await tool(
            bus, api_env, "shell", command=f"yes {EVIL_LINE} | head -n 20; echo aaa", run_in_background=True
        )
        process_id = started.data["process_id"]
        await tool(bus, api_env, "shell_wait", process_id=process_id, timeout=30)
        filtered = await check(
            api_env,
            "shell_output",
            lambda: tool(bus, api_env, "shell_output", process_id=process_id, offset=0, filter=EVIL),
        )
        assert filtered.status is ToolStatus.OK and filtered.output.splitlines()[1:] == ["aaa"]

        (ws / ("a" * 200)).write_text("")
        globbed = await check(api_env, "glob", lambda: tool(bus, api_env, "glob", pattern="*a*a*a*a*a*a*a*b"))
        assert globbed.status is ToolStatus.OK and globbed.output.startswith("no files match")
    finally:
        await bus.close()


async def test_health_answers_while_the_daemon_lists_a_huge_directory_and_diffs_a_big_edit(
    api_env: ApiEnv, infra: Infra
) -> None:
    ws = api_env.workspace

    def make_files() -> None:  # off the loop: the roles under test run on it
        huge = ws / "huge"
        huge.mkdir()
        (ws / ".gitignore").write_text("".join(f"*.skip{i}\n" for i in range(50)))
        for i in range(20_000):
            (huge / f"file-{i:05}.txt").touch()
        (ws / "big.txt").write_text("".join(f"line {i} of a big file\n" for i in range(40_000)))

    await asyncio.to_thread(make_files)
    bus = await Bus.connect(infra.nats_url, infra.nats_token)
    try:
        added = await control(bus, api_env.settings.daemon_id, "workspace.add", {"path": str(ws)}, timeout=10)
        assert added["ok"], added

        async def tree() -> Any:
            body = {"workspace": str(ws), "path": "huge"}
            return await control(bus, api_env.settings.daemon_id, "fs.tree", body, timeout=60)

        listed = await check(api_env, "fs.tree", tree)
        assert listed["ok"] and listed["truncated"] and len(listed["entries"]) == 5000

        viewed = await tool(bus, api_env, "view", path="big.txt", limit=1)
        assert viewed.status is ToolStatus.OK, viewed.error

        async def edit() -> ToolResult:  # every line changes: a diff as big as the file
            old, new = ("line", "LINE") if "line 0 " in (ws / "big.txt").read_text() else ("LINE", "line")
            return await tool(bus, api_env, "edit", path="big.txt", old_string=old, new_string=new, replace_all=True)

        edited = await check(api_env, "edit", edit)
        assert edited.status is ToolStatus.OK and edited.data["replacements"] == 40_000, edited.error
        assert edited.data["diff"].startswith("--- a/big.txt\n+++ b/big.txt\n@@ -1,")
    finally:
        await bus.close()


def _validate(api_env: ApiEnv, text: str) -> dict[str, Any]:
    request = urllib.request.Request(
        api_env.url + "/api/workflows/validate",
        data=json.dumps({"text": text}).encode(),
        headers={**api_env.headers, "content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return dict(json.loads(response.read()))


async def test_health_answers_while_the_api_checks_a_workflow_as_large_as_it_takes(api_env: ApiEnv) -> None:
    nodes = "".join(f"  - {{id: n{i}, type: run, command: 'echo {{{{inputs.x}}}} {i}'}}\n" for i in range(9600))
    edges = "".join(f"  - {{from: n{i}, default: n{i + 1}}}\n" for i in range(9599))
    text = f"name: long\ninputs:\n  x: {{type: string, default: a}}\nentry: n0\nnodes:\n{nodes}edges:\n{edges}"
    assert 900_000 < len(text) <= 1_000_000  # the most a definition may be

    rounds = iter(range(2))  # each round a text of its own: a text checked once is not checked again

    def validate() -> Awaitable[dict[str, Any]]:
        return asyncio.to_thread(_validate, api_env, text.replace("name: long", f"name: long{next(rounds)}", 1))

    # The check runs beside the loop, which then waits only while libyaml composes the document in
    # one call that holds the GIL (~0.5 s for a megabyte); on the loop, the whole check took ~6 s.
    checked = await check(api_env, "validate", validate, limit=2.0)
    assert checked["valid"] is True, checked
