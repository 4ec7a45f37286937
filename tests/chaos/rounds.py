"""One round of a chaos run: scripted chats start, the piece is hit at the drawn moment and comes
back, the chats run to their end, and everything a client and the machine can see is checked.

A round without a hit is the floor: how long the same kind of chats take on this machine now. The
hit's moment and the second user message are placed as fractions of it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.chaos import processes
from tests.chaos.checks import ChatRecord, Limits, Violation, Window, check_chat
from tests.chaos.client import Api, ApiDown, ApiRefused, Follower, read_log
from tests.chaos.deployments import Deployment, HitOutcome
from tests.chaos.plan import ChatPlan, Hit, chat_plan

SEND_WITHIN = 90.0  # a user message is retried this long through an outage
FOLLOWER_CATCH_UP = 15.0  # the live client reaches the end of the log this soon after the chat ends
STRAYS_WITHIN = 10.0  # processes that die with their parent get this long


@dataclass(frozen=True)
class RoundOptions:
    chats: int = 3
    round_timeout: float = 60.0  # after the piece is back (or the round's start), for the chats to end
    limits: Limits = field(default_factory=Limits)


@dataclass
class RoundResult:
    number: int
    hit: Hit | None
    outcome: HitOutcome | None
    violations: list[Violation]
    duration: float | None = None  # first message -> every chat complete
    down_s: float | None = None  # hit -> the piece is back
    first_update_s: float | None = None  # hit -> the first update made after the piece is back
    done_s: float | None = None  # hit -> every chat complete
    missed: bool = False  # the chats were done before the hit


@dataclass
class _Chat:
    plan: ChatPlan
    record: ChatRecord
    script: Path
    call_log: Path
    effects: Path
    follower: Follower
    senders: list[asyncio.Task[None]] = field(default_factory=list)


async def project_id(deployment: Deployment) -> str:
    """The workspace's project, registered once per data dir."""
    path = str(deployment.workspace.resolve())
    for project in await deployment.api.call_until("GET", "/api/projects"):
        if project["path"] == path:
            return str(project["id"])
    return str((await deployment.api.call_until("POST", "/api/projects", {"path": path}))["id"])


class Round:
    def __init__(
        self,
        deployment: Deployment,
        number: int,
        hit: Hit | None,
        *,
        seed: str,
        floor: float,
        project: str,
        options: RoundOptions,
    ) -> None:
        self.deployment = deployment
        self.number = number
        self.hit = hit
        self.seed = hit.seed if hit is not None else seed
        self.floor = floor
        self.project = project
        self.options = options
        self.chats: list[_Chat] = []

    @property
    def api(self) -> Api:
        return self.deployment.api

    async def run(self) -> RoundResult:
        try:
            return await self._run()
        finally:
            for chat in self.chats:
                for sender in chat.senders:
                    sender.cancel()
                await chat.follower.stop()

    async def _run(self) -> RoundResult:
        await self._create_chats()
        started = time.time()
        for chat in self.chats:
            chat.senders.append(asyncio.create_task(self._send(chat, 0, at=started)))
            chat.senders.append(
                asyncio.create_task(self._send(chat, 1, at=started + chat.plan.second_message_at * self.floor))
            )
        outcome = None
        if self.hit is not None:
            await asyncio.sleep(max(0.0, started + self.hit.at * self.floor - time.time()))
            outcome = await self.deployment.hit(self.hit)
        await self._wait_done(deadline=time.time() + self.options.round_timeout)
        await self._gather()
        window = Window(outcome.hit_at, outcome.back_at, outcome.daemon_restarted) if outcome is not None else None
        violations = [Violation(kind, "", detail) for kind, detail in (outcome.problems if outcome else [])]
        for chat in self.chats:
            violations += check_chat(chat.record, window, self.options.limits)
        violations += await self._strays()
        return self._result(started, outcome, violations)

    # -- the chats -------------------------------------------------------------------------------

    async def _create_chats(self) -> None:
        workspace = self.deployment.workspace
        prefix = f"{self.deployment.mode[0]}{self.number:03d}"
        for j in range(self.options.chats):
            tag = f"{prefix}c{j}"
            effects = workspace / "effects" / f"{tag}.log"
            plan = chat_plan(random.Random(f"{self.seed}/chat{j}"), tag, effects)
            for rel, content in plan.files.items():
                (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
                (workspace / rel).write_text(content)
            effects.parent.mkdir(parents=True, exist_ok=True)
            script = workspace / "scripts" / f"{tag}.yaml"
            call_log = workspace / "scripts" / f"{tag}.calls.jsonl"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_text(yaml.safe_dump(plan.script(call_log), sort_keys=False))
            created = await self.api.call_until(
                "POST", "/api/chats", {"project_id": self.project, "model": f"scripted:{script}"}
            )
            chat_id = str(created["id"])
            follower = Follower(self.api, chat_id)
            follower.start()
            self.chats.append(_Chat(plan, ChatRecord(plan, chat_id), script, call_log, effects, follower))

    async def _send(self, chat: _Chat, index: int, *, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        text = chat.plan.messages[index]
        try:
            await self.api.send(chat.record.chat_id, text, within=SEND_WITHIN)
        except (ApiDown, ApiRefused) as exc:
            chat.record.unsent.append(f"{text!r}: {exc}")
        else:
            chat.record.sent.append(text)

    async def _wait_done(self, deadline: float) -> None:
        pending = list(self.chats)
        while pending and time.time() < deadline:
            still = []
            for chat in pending:
                if not await self._done(chat):
                    still.append(chat)
            pending = still
            if pending:
                await asyncio.sleep(0.25)

    async def _done(self, chat: _Chat) -> bool:
        """Complete (every message sent and answered, the chat idle), or failed for good."""
        if not all(s.done() for s in chat.senders):
            return False
        try:
            state = await self.api.call("GET", f"/api/chats/{chat.record.chat_id}")
        except (ApiDown, ApiRefused):
            return False
        if state["status"] == "failed":
            return True
        if state["status"] != "idle" or state["queued"] or chat.record.unsent:
            return False
        try:
            messages = await self.api.call("GET", f"/api/chats/{chat.record.chat_id}/messages")
        except (ApiDown, ApiRefused):
            return False
        last = messages[-1] if messages else {}
        answered = last.get("role") == "assistant" and not any(
            b.get("type") == "tool_call" for b in last.get("blocks", [])
        )
        users = sum(1 for m in messages if m.get("role") == "user")
        chat.record.completed = answered and users >= len(chat.plan.messages)
        return chat.record.completed

    async def _gather(self) -> None:
        for chat in self.chats:
            record = chat.record
            try:
                state = await self.api.chat(record.chat_id)
                record.messages = await self.api.messages(record.chat_id)
            except (ApiDown, ApiRefused) as exc:
                record.log_error = f"the api did not answer: {exc}"
                continue
            record.status, record.reason = state["status"], state.get("status_reason", "")
            record.queued, record.last_seq = int(state.get("queued", 0)), int(state.get("last_seq", 0))
            if not record.completed and record.status not in ("idle", "failed"):
                await self._cancel(record.chat_id)  # a stuck chat must not run on into later rounds
            try:
                record.log = await read_log(self.api, record.chat_id, record.last_seq)
            except Exception as exc:  # noqa: BLE001 - whatever stops the read is the finding
                record.log_error = f"StreamUpdates from 0 did not reach seq {record.last_seq}: {exc!r}"
            deadline = time.monotonic() + FOLLOWER_CATCH_UP
            while chat.follower.last_seq < record.last_seq and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await chat.follower.stop()
            record.live = list(chat.follower.received)
            record.calls = _jsonl(chat.call_log)
            record.effects = chat.effects.read_text().split() if chat.effects.exists() else []
            for planned in chat.plan.calls:
                if planned.expect_file is not None:
                    path = self.deployment.workspace / planned.expect_file[0]
                    record.files[planned.expect_file[0]] = path.read_text() if path.exists() else None

    async def _cancel(self, chat_id: str) -> None:
        try:
            await self.api.call("POST", f"/api/chats/{chat_id}/cancel")
        except (ApiDown, ApiRefused):
            pass

    async def _strays(self) -> list[Violation]:
        deployment = self.deployment
        found = await processes.wait_no_strays(
            deployment.root, deployment.workspace, deployment.expected_pids, STRAYS_WITHIN
        )
        processes.kill_strays(found)
        return [Violation("orphan", "", stray.describe()) for stray in found]

    def _result(self, started: float, outcome: HitOutcome | None, violations: list[Violation]) -> RoundResult:
        result = RoundResult(self.number, self.hit, outcome, violations)
        ends = [c.record.completed_at for c in self.chats]
        complete = all(end is not None for end in ends)
        if complete and ends:
            result.duration = max(ends) - started  # type: ignore[type-var,operator]
        if outcome is None:
            return result
        result.down_s = outcome.back_at - outcome.hit_at
        running = [c for c in self.chats if (c.record.completed_at or float("inf")) > outcome.hit_at]
        result.missed = not running
        firsts = [min((u.created for u in c.record.log if u.created >= outcome.back_at), default=None) for c in running]
        firsts_known = [f for f in firsts if f is not None]
        if firsts_known:
            result.first_update_s = min(firsts_known) - outcome.hit_at
        if complete and running:
            result.done_s = max(end for end in ends if end is not None) - outcome.hit_at
        return result


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    return lines
