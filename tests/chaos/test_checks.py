"""The chaos run's checks see each kind of fault: a clean chat passes, and each fault planted in it
is reported with its kind (a check that cannot fail would prove nothing)."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.checks import ChatRecord, Limits, Violation, Window, check_chat
from tests.chaos.client import Update
from tests.chaos.plan import ChatPlan, chat_plan, hit, parse_name, redraw, schedule
from tests.chaos.rounds import RoundResult
from tests.chaos.tally import victim_row

T0 = 1_000_000.0


def _block(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "text": "", "tool_call_id": "", "is_error": False, **fields}


class _Chat:
    """A chat that ran its plan cleanly: transcript, update log, call log and effects."""

    def __init__(self, plan: ChatPlan) -> None:
        self.plan = plan
        self.messages: list[dict[str, Any]] = []
        self.log: list[Update] = []
        self.calls: list[dict[str, Any]] = []
        self.effects: list[str] = []
        self.clock = T0

    def tick(self, seconds: float = 0.1) -> float:
        self.clock += seconds
        return self.clock

    def emit(self, kind: str, **payload: Any) -> None:
        self.log.append(Update(len(self.log) + 1, kind, payload, self.tick()))

    def run(self) -> ChatRecord:
        for index, turn in enumerate(self.plan.turns):
            if index in self.plan.first_turn_of:
                text = self.plan.messages[self.plan.first_turn_of.index(index)]
                self.messages.append({"id": f"u{index}", "role": "user", "blocks": [_block("text", text=text)]})
                self.emit("chat_status", status="running")
            self.calls.append({"turn": index, "time": self.tick()})
            planned = [c for c in self.plan.calls if c.tool_call_id.startswith(f"call_{index}_")]
            blocks = [_block("text", text=turn["text"])] if turn.get("text") else []
            blocks += [
                _block("tool_call", tool_call_id=c.tool_call_id, tool_name=c.tool, tool_state="completed")
                for c in planned
            ]
            answer = {"id": f"a{index}", "role": "assistant", "blocks": blocks}
            self.messages.append(answer)
            self.emit("message_completed", message={"id": f"a{index}", "role": "assistant"})
            for call in planned:
                self.emit("tool_started", tool_call_id=call.tool_call_id)
                self.tick(call.seconds)
                self.effects += call.markers
                self.emit("tool_finished", tool_call_id=call.tool_call_id, status="ok")
            if planned:
                results = [_block("tool_result", tool_call_id=c.tool_call_id, text="ok") for c in planned]
                self.messages.append({"id": f"t{index}", "role": "tool", "blocks": results})
            if not planned:
                self.emit("chat_status", status="idle")
        live = [dataclasses.replace(u, received=u.created + 0.01) for u in self.log]
        files = {c.expect_file[0]: c.expect_file[1] + "\n" for c in self.plan.calls if c.expect_file}
        return ChatRecord(
            plan=self.plan,
            chat_id="chat",
            sent=list(self.plan.messages),
            status="idle",
            completed=True,
            last_seq=len(self.log),
            messages=self.messages,
            log=self.log,
            live=live,
            calls=self.calls,
            effects=self.effects,
            files=files,
        )


@pytest.fixture
def record(tmp_path: Path) -> ChatRecord:
    return _Chat(chat_plan(random.Random("checks"), "t000c0", tmp_path / "effects.log")).run()


def kinds(record: ChatRecord, window: Window | None = None) -> set[str]:
    return {v.kind for v in check_chat(record, window, Limits())}


def _call_block(record: ChatRecord, tool_call_id: str) -> dict[str, Any]:
    return next(
        b
        for m in record.messages
        for b in m["blocks"]
        if b["type"] == "tool_call" and b["tool_call_id"] == tool_call_id
    )


def _result_block(record: ChatRecord, tool_call_id: str) -> dict[str, Any]:
    return next(
        b
        for m in record.messages
        for b in m["blocks"]
        if b["type"] == "tool_result" and b["tool_call_id"] == tool_call_id
    )


def test_a_clean_chat_has_no_violation(record: ChatRecord) -> None:
    assert check_chat(record, None, Limits()) == []
    window = Window(hit_at=T0 + 0.5, back_at=T0 + 1.0, daemon_restarted=True)
    assert check_chat(record, window, Limits()) == []


def test_an_effect_twice_and_a_completed_call_without_its_effect(record: ChatRecord) -> None:
    record.effects.append(record.effects[0])
    assert kinds(record) == {"duplicate_effect"}
    record.effects = [e for e in record.effects if not e.endswith(".2b")]
    assert kinds(record) == {"duplicate_effect", "missing_effect"}


def test_an_interrupted_call_may_miss_its_effect_but_must_say_why_honestly(record: ChatRecord) -> None:
    shell = next(c for c in record.plan.calls if c.seconds)
    _call_block(record, shell.tool_call_id)["tool_state"] = "interrupted"
    record.log = [
        dataclasses.replace(u, payload={**u.payload, "status": "interrupted"})
        if u.kind == "tool_finished" and u.payload["tool_call_id"] == shell.tool_call_id
        else u
        for u in record.log
    ]
    record.live = [dataclasses.replace(u, received=u.created + 0.01) for u in record.log]
    record.effects.remove(shell.markers[-1])
    result = _result_block(record, shell.tool_call_id)
    result["text"] = "interrupted: the daemon restarted while this tool was running"
    restarted = Window(hit_at=T0, back_at=T0 + 1, daemon_restarted=True)
    assert kinds(record, restarted) == set()
    assert kinds(record, dataclasses.replace(restarted, daemon_restarted=False)) == {"wrong_reason"}
    assert kinds(record, None) == {"wrong_reason"}  # nothing was hit: nothing may be interrupted
    result["text"] = "interrupted: cancelled by the user"
    assert kinds(record, restarted) == {"wrong_reason"}


def test_a_read_only_call_is_run_again_never_interrupted(record: ChatRecord) -> None:
    view = next(c for c in record.plan.calls if c.read_only)
    _call_block(record, view.tool_call_id)["tool_state"] = "interrupted"
    window = Window(hit_at=T0, back_at=T0 + 1, daemon_restarted=True)
    assert "read_only_interrupted" in kinds(record, window)


def test_a_call_failed_by_the_fault_but_not_one_whose_input_never_came(record: ChatRecord) -> None:
    edit = next(c for c in record.plan.calls if c.tool == "edit")
    _call_block(record, edit.tool_call_id)["tool_state"] = "failed"
    assert "tool_failed" in kinds(record)
    _call_block(record, edit.tool_call_id)["tool_state"] = "completed"
    write = next(c for c in record.plan.calls if c.tool == "write")
    reader = next(c for c in record.plan.calls if write.tool_call_id in c.needs)
    _call_block(record, write.tool_call_id)["tool_state"] = "interrupted"
    _call_block(record, reader.tool_call_id)["tool_state"] = "failed"
    assert "tool_failed" not in kinds(record, Window(T0, T0 + 1, daemon_restarted=True))


def test_lost_and_doubled_user_messages(record: ChatRecord) -> None:
    first = record.messages.pop(0)
    assert "lost_message" in kinds(record)
    record.messages[:0] = [first, first]
    assert "duplicate_message" in kinds(record)


def test_an_incomplete_or_paused_chat(record: ChatRecord) -> None:
    record.completed, record.status, record.reason = False, "paused", "retries ran out"
    assert kinds(record) == {"paused"}
    record.status = "running"
    assert kinds(record) == {"not_completed"}
    record.status, record.queued = "idle", 1  # a message the api took, never taken up
    assert kinds(record) == {"lost_message"}


def test_a_model_call_for_a_turn_already_stored(record: ChatRecord) -> None:
    stored = next(u for u in record.log if u.kind == "message_completed")
    seen = next(u for u in record.live if u.seq == stored.seq)
    record.calls.append({"turn": 0, "time": seen.received + 1})
    assert kinds(record) == {"repeated_model_call"}
    record.calls[-1] = {"turn": 0, "time": (stored.created + seen.received) / 2}
    assert kinds(record) == {"concurrent_model_call"}
    record.calls[-1] = {"turn": 0, "time": stored.created - 0.05}  # the call that made it
    assert kinds(record) == set()
    record.calls[-1] = {"turn": len(record.plan.turns), "time": T0}
    assert kinds(record) == {"extra_model_call"}


def test_gaps_and_duplicates_in_the_log_and_in_what_the_live_client_got(record: ChatRecord) -> None:
    full = list(record.log)
    record.log = full[:3] + full[4:]
    assert {"seq_gap", "stream_mismatch"} <= kinds(record)
    record.log = full
    record.live = record.live[:3] + record.live[4:]
    assert kinds(record) == {"stream_gap"}
    record.live = [dataclasses.replace(u, received=u.created) for u in full[:5]] + [
        dataclasses.replace(u, received=u.created) for u in full[4:]
    ]
    assert kinds(record) == {"stream_duplicate"}
    record.live = [dataclasses.replace(u, received=u.created) for u in full[:-2]]
    assert kinds(record) == {"stream_missed"}
    record.live = [dataclasses.replace(u, received=u.created) for u in full]
    record.live[5] = dataclasses.replace(record.live[5], kind="something_else")
    assert kinds(record) == {"stream_mismatch"}


def test_a_tool_that_ends_long_after_the_piece_is_back_and_a_stalled_chat(record: ChatRecord) -> None:
    started = next(u for u in record.log if u.kind == "tool_started")
    window = Window(hit_at=started.created + 0.01, back_at=started.created + 1, daemon_restarted=False)
    late = 30.0
    record.log = [dataclasses.replace(u, created=u.created + late) if u.seq > started.seq else u for u in record.log]
    record.live = [dataclasses.replace(u, received=u.created + 0.01) for u in record.log]
    record.calls = [{**c, "time": c["time"] + late if c["time"] > started.created else c["time"]} for c in record.calls]
    assert kinds(record, window) == {"slow_tool", "stall"}


def test_the_schedule_follows_from_the_seed_and_a_hit_from_its_own_seed() -> None:
    hits = schedule(7, ["appliance", "gateway", "nats"], kills=3, freezes=2)
    assert hits == schedule(7, ["appliance", "gateway", "nats"], kills=3, freezes=2)
    assert hits != schedule(8, ["appliance", "gateway", "nats"], kills=3, freezes=2)
    gateway = [h for h in hits if h.victim == "gateway"]
    assert sorted(h.kind for h in gateway) == ["freeze", "freeze", "kill", "kill", "kill"]
    assert gateway == [h for h in schedule(7, ["gateway"], kills=3, freezes=2)]  # whatever else runs
    third = next(h for h in hits if h.name == "gateway:kill#2")
    assert parse_name(third.name) == ("gateway", "kill", 2) and hit(7, "gateway", "kill", 2) == third


def test_a_victims_row_counts_the_hits_that_landed_apart_from_those_that_missed() -> None:
    results = [
        RoundResult(1, hit(7, "gateway", "kill", 0), None, [], missed=True),
        RoundResult(2, hit(7, "gateway", "freeze", 0), None, [], missed=True),
        RoundResult(3, hit(7, "gateway", "kill", 1), None, [Violation("stall", "c", "")]),
        RoundResult(4, hit(7, "gateway", "freeze", 1), None, []),
        RoundResult(5, hit(7, "gateway", "kill", 2), None, []),
    ]
    row = victim_row(results)
    assert (row["hits"], row["kills"], row["freezes"], row["missed"]) == (5, 2, 1, 2)
    assert row["violations"] == {"stall": 1}


def test_a_missed_hit_is_drawn_again_from_the_seed_until_twice_the_hits_asked() -> None:
    drawn = schedule(7, ["gateway", "nats"], kills=2, freezes=1)
    first = next(h for h in drawn if h.name == "gateway:kill#0")
    again = redraw(7, first, drawn, wanted=2)
    assert again == hit(7, "gateway", "kill", 2)  # the next index: `--replay gateway:kill#2` replays it
    drawn.append(again)
    assert redraw(7, first, drawn, wanted=2) == hit(7, "gateway", "kill", 3)
    drawn.append(hit(7, "gateway", "kill", 3))
    assert redraw(7, first, drawn, wanted=2) is None  # four kills drawn for two asked: no more
    freeze = next(h for h in drawn if h.name == "nats:freeze#0")
    assert redraw(7, freeze, drawn, wanted=1) == hit(7, "nats", "freeze", 1)
