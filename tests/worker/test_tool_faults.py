"""A tool call survives any single fault of the gateway, NATS, the daemon or the worker, each a real
process killed with SIGKILL (and started again) or frozen with SIGSTOP ... SIGCONT while the call
runs: it ends within 10 s of the piece coming back — re-attached with its real result, or honestly
interrupted when the daemon that ran it died — and the chat completes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reliant.db import tool_runs as tool_runs_db
from reliant.domain.chat import ToolState
from tests.conftest import Infra
from tests.support import eventually
from tests.worker.split_env import SplitEnv, split_env

# Long enough for a fault (and its piece's restart) to land while it runs, shorter than the bound.
COMMAND = "echo start >> effects.log; sleep 6; echo end >> effects.log; echo finished"
FREEZE = 5.0  # longer than the heartbeat timeout (3 s): the other side gives up on the frozen one
BOUND = 10.0


async def _run_with_fault(split: SplitEnv, piece: str, fault: str) -> tuple[str, float]:
    """Start a chat, inflict the fault while its tool call runs; returns the chat id and how long
    after the piece came back the call's tool_finished update was seen."""
    model = split.script([{"tools": [{"name": "shell", "input": {"command": COMMAND}}]}, {"text": "done"}])
    chat = await split.new_chat(model)
    await split.chats.send(chat.id, "run it")
    effects = split.workspace / "effects.log"
    await eventually(lambda: effects.exists() and "start" in effects.read_text(), timeout=60)
    if fault == "kill":
        await split.kill(piece)
        back = await split.restart(piece)
    else:
        back = await split.freeze(piece, FREEZE)

    async def finished() -> float | None:
        kinds = [u.kind for u in await split.updates(chat.id)]
        return time.monotonic() if "tool_finished" in kinds else None

    try:
        seen = await eventually(finished, timeout=60, interval=0.05)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{split.logs()}") from None
    return chat.id, seen - back


@pytest.mark.parametrize(
    ("piece", "fault"),
    [
        ("gateway", "kill"),
        ("gateway", "freeze"),
        ("nats", "kill"),
        ("nats", "freeze"),
        ("daemon", "freeze"),
        ("worker", "freeze"),
    ],
)
async def test_a_fault_while_a_tool_runs_reattaches_to_its_real_result_within_seconds(
    infra: Infra, tmp_path: Path, piece: str, fault: str
) -> None:
    async with split_env(infra, tmp_path) as split:
        chat_id, after = await _run_with_fault(split, piece, fault)
        assert after <= BOUND, f"the tool call ended {after:.1f}s after the {piece} came back"
        done = await split.finished(chat_id)
        assert done.status_reason == "", done.status_reason
        runs = list((await tool_runs_db.for_chat(split.db, chat_id)).values())
        assert [(r.state, r.error) for r in runs] == [(ToolState.COMPLETED, "")], split.logs()
        assert "finished" in runs[0].output
        assert (split.workspace / "effects.log").read_text().split() == ["start", "end"], "ran exactly once"
        finishes = [u for u in await split.updates(chat_id) if u.kind == "tool_finished"]
        assert len(finishes) == 1
        messages, _, _ = await split.chats.messages(chat_id)
        assert messages[-1].blocks[-1].text == "done"


async def test_a_daemon_killed_while_a_tool_runs_reports_it_interrupted_saying_so(infra: Infra, tmp_path: Path) -> None:
    async with split_env(infra, tmp_path) as split:
        chat_id, after = await _run_with_fault(split, "daemon", "kill")
        assert after <= BOUND, f"the tool call ended {after:.1f}s after the daemon came back"
        await split.finished(chat_id)
        runs = list((await tool_runs_db.for_chat(split.db, chat_id)).values())
        assert [r.state for r in runs] == [ToolState.INTERRUPTED]
        assert "the daemon restarted while this tool was running" in runs[0].error
        assert (split.workspace / "effects.log").read_text().split() == ["start"], "never run again"
        messages, _, _ = await split.chats.messages(chat_id)
        assert messages[-1].blocks[-1].text == "done"


@pytest.mark.parametrize(
    ("grace", "command"),
    [("10", "sleep 3; echo done >> marker"), ("1", "sleep 6; echo done >> marker")],
    ids=["the tool ends within the grace", "the tool outlives the grace"],
)
async def test_a_worker_stopped_while_a_tool_runs_does_not_kill_it_and_the_chat_gets_its_real_result(
    infra: Infra, tmp_path: Path, grace: str, command: str
) -> None:
    async with split_env(infra, tmp_path, RELIANT_WORKER_SHUTDOWN_GRACE=grace) as split:
        model = split.script([{"tools": [{"name": "shell", "input": {"command": command}}]}, {"text": "done"}])
        chat = await split.new_chat(model)
        await split.chats.send(chat.id, "run it")

        async def executing() -> bool:
            runs = await tool_runs_db.for_chat(split.db, chat.id)
            return any(r.state is ToolState.EXECUTING for r in runs.values())

        await eventually(executing, timeout=60)
        assert await split.stop("worker") == 0
        await split.start("worker")
        await split.finished(chat.id)
        runs = list((await tool_runs_db.for_chat(split.db, chat.id)).values())
        assert [(r.state, r.error) for r in runs] == [(ToolState.COMPLETED, "")], split.logs()
        assert (split.workspace / "marker").read_text() == "done\n"
        messages, _, _ = await split.chats.messages(chat.id)
        assert messages[-1].blocks[-1].text == "done"
