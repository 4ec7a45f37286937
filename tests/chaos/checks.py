"""What must hold for each chat after a piece was hit, as violations.

Every check reads what a client or the machine can see: the transcript and the update log through
the api, what a live StreamUpdates client received, the scripted model's call_log, the markers the
tools appended and the files they wrote. None reads reliant's database or internals.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.client import Update, describe
from tests.chaos.plan import ChatPlan, PlannedCall

FINAL_STATES = frozenset({"completed", "failed", "interrupted", "denied"})
FINISHED_STATUS = {"ok": "completed", "error": "failed", "interrupted": "interrupted", "denied": "denied"}


@dataclass(frozen=True)
class Violation:
    kind: str
    chat: str  # the chat's tag, or "" for the round or the run
    detail: str

    def line(self) -> str:
        where = f"[{self.chat}] " if self.chat else ""
        return f"{self.kind}: {where}{self.detail}"


@dataclass(frozen=True)
class Window:
    """When the piece was hit and when it was back, in wall-clock seconds (created_unix's clock)."""

    hit_at: float
    back_at: float
    daemon_restarted: bool


@dataclass(frozen=True)
class Limits:
    stall_seconds: float = 15.0  # a running chat's longest silence after the piece is back
    tool_seconds: float = 10.0  # a tool in flight at the hit ends this soon after the piece is back


@dataclass
class ChatRecord:
    """Everything gathered about one chat once its round is over."""

    plan: ChatPlan
    chat_id: str
    sent: list[str] = field(default_factory=list)  # messages the api took (or that provably arrived)
    unsent: list[str] = field(default_factory=list)  # messages the api never took, with why
    status: str = ""
    reason: str = ""
    queued: int = 0
    completed: bool = False
    last_seq: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    log: list[Update] = field(default_factory=list)  # StreamUpdates from seq 0
    log_error: str = ""
    live: list[Update] = field(default_factory=list)  # what the live follower received
    calls: list[dict[str, Any]] = field(default_factory=list)  # the scripted model's call_log
    effects: list[str] = field(default_factory=list)  # the lines the tools appended
    files: dict[str, str | None] = field(default_factory=dict)  # contents of the files calls write

    @property
    def completed_at(self) -> float | None:
        """When the chat last went idle (created_unix), if it is complete."""
        if not self.completed:
            return None
        idle = [u.created for u in self.log if u.kind == "chat_status" and u.payload.get("status") == "idle"]
        return idle[-1] if idle else None


def check_chat(record: ChatRecord, window: Window | None, limits: Limits) -> list[Violation]:
    found: list[Violation] = []
    for check in (_completion, _user_messages, _transcript, _tools, _effects, _model_calls, _log, _live):
        found += check(record)
    if window is not None:
        found += _stall(record, window, limits) + _slow_tools(record, window, limits)
    found += _reasons(record, window)
    return found


def _v(record: ChatRecord, kind: str, detail: str) -> Violation:
    return Violation(kind, record.plan.tag, detail)


def _last(record: ChatRecord) -> str:
    return describe(record.log[-1]) if record.log else "no update"


def _completion(record: ChatRecord) -> list[Violation]:
    if record.completed:
        return []
    reason = f" ({record.reason})" if record.reason else ""
    if record.status == "idle" and record.queued:
        detail = f"the chat is idle with {record.queued} message(s) the api took still queued, never answered"
        return [_v(record, "lost_message", f"{detail}; last update {_last(record)}")]
    kind = {"paused": "paused", "failed": "failed"}.get(record.status, "not_completed")
    return [_v(record, kind, f"status {record.status}{reason}, {record.queued} queued, last update {_last(record)}")]


def _text(message: dict[str, Any]) -> str:
    return "".join(b.get("text", "") for b in message.get("blocks", []) if b.get("type") == "text")


def _user_messages(record: ChatRecord) -> list[Violation]:
    found = [_v(record, "send_failed", why) for why in record.unsent]
    seen = Counter(_text(m) for m in record.messages if m.get("role") == "user")
    for text in record.sent:
        if seen[text] == 0:
            found.append(_v(record, "lost_message", f"{text!r} was taken by the api but is not in the chat"))
        elif seen[text] > 1:
            found.append(_v(record, "duplicate_message", f"{text!r} is in the chat {seen[text]} times"))
    return found


def _assistants(record: ChatRecord) -> list[dict[str, Any]]:
    return [m for m in record.messages if m.get("role") == "assistant"]


def _transcript(record: ChatRecord) -> list[Violation]:
    """A complete chat holds one answer per scripted turn, each as the script wrote it."""
    if not record.completed:
        return []
    answers, turns = _assistants(record), record.plan.turns
    if len(answers) != len(turns):
        return [_v(record, "wrong_transcript", f"{len(answers)} answers for {len(turns)} scripted turns")]
    for index, (answer, turn) in enumerate(zip(answers, turns, strict=True)):
        calls = [b.get("tool_call_id") for b in answer.get("blocks", []) if b.get("type") == "tool_call"]
        planned = [c.tool_call_id for c in record.plan.calls if c.tool_call_id.startswith(f"call_{index}_")]
        if _text(answer) != turn.get("text", "") or calls != planned:
            return [_v(record, "wrong_transcript", f"answer {index} is {_text(answer)[:80]!r} with calls {calls}")]
    return []


def _blocks(record: ChatRecord) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The tool_call blocks and the tool_result blocks, by tool_call_id."""
    calls, results = {}, {}
    for message in record.messages:
        for block in message.get("blocks", []):
            if block.get("type") == "tool_call":
                calls[block.get("tool_call_id", "")] = block
            elif block.get("type") == "tool_result":
                results[block.get("tool_call_id", "")] = block
    return calls, results


def _tools(record: ChatRecord) -> list[Violation]:
    """Every call the chat made ended in a final state; one that failed, failed for a reason
    outside the run (a call it needed did not complete), never because of the hit."""
    calls, results = _blocks(record)
    found = []
    for planned in record.plan.calls:
        block = calls.get(planned.tool_call_id)
        if block is None:
            continue  # not reached (an incomplete chat) or reported by _transcript
        state = block.get("tool_state", "")
        result = results.get(planned.tool_call_id, {})
        text = str(result.get("text", ""))[:300]
        what = f"{planned.tool_call_id} {planned.tool} {_brief(planned)}"
        if state not in FINAL_STATES:
            if record.completed:
                found.append(_v(record, "tool_not_final", f"{what} is still {state or 'without a state'}"))
            continue
        if state == "interrupted" and planned.read_only:
            found.append(_v(record, "read_only_interrupted", f"{what} was reported interrupted, not run again: {text}"))
        failed = state in ("failed", "denied") or (state == "completed" and result.get("is_error"))
        if failed and _excused(record, planned, calls) is None:
            found.append(_v(record, "tool_failed", f"{what} ended {state}: {text}"))
    return found


def _excused(record: ChatRecord, planned: PlannedCall, calls: dict[str, dict[str, Any]]) -> str | None:
    for need in planned.needs:
        if calls.get(need, {}).get("tool_state") != "completed":
            return need
    return None


def _brief(planned: PlannedCall) -> str:
    return json.dumps(planned.input)[:100]


def _effects(record: ChatRecord) -> list[Violation]:
    """Each side effect at most once; a call reported completed left all of its effects."""
    calls, _ = _blocks(record)
    counts = Counter(record.effects)
    found = [
        _v(record, "duplicate_effect", f"marker {marker} was appended {n} times")
        for marker, n in sorted(counts.items())
        if n > 1
    ]
    for planned in record.plan.calls:
        state = calls.get(planned.tool_call_id, {}).get("tool_state")
        if state != "completed":
            continue
        missing = [m for m in planned.markers if counts[m] == 0]
        if missing:
            found.append(
                _v(record, "missing_effect", f"{planned.tool_call_id} is completed but never appended {missing}")
            )
        if planned.expect_file is not None:
            path, text = planned.expect_file
            content = record.files.get(path)
            if content is None or text not in content:
                found.append(
                    _v(record, "missing_effect", f"{planned.tool_call_id} is completed but {path} holds {content!r}")
                )
    return found


def _model_calls(record: ChatRecord) -> list[Violation]:
    """No model call for a turn whose answer was already stored, nor for a turn beyond the script.

    An answer's message_completed carries the time its transaction began; the live client got it
    after the commit. A call after that is a repeat (`repeated_model_call`); one in between raced a
    commit in flight: a second attempt paid for the turn while the first was storing its answer
    (`concurrent_model_call`)."""
    began: dict[str, float] = {}
    for update in record.log:
        message = update.payload.get("message") or {}
        if update.kind == "message_completed" and message.get("role") == "assistant":
            began.setdefault(str(message.get("id")), update.created)
    seen = {u.seq: u.received for u in record.live}
    committed: dict[str, float] = {}
    for update in record.log:
        message = update.payload.get("message") or {}
        if update.kind == "message_completed" and message.get("id") and update.seq in seen:
            committed.setdefault(str(message["id"]), seen[update.seq])
    answers = [str(m.get("id")) for m in _assistants(record)]
    found = []
    for call in record.calls:
        turn, at = int(call["turn"]), float(call["time"])
        if turn >= len(record.plan.turns):
            found.append(_v(record, "extra_model_call", f"the model was called for turn {turn}, past the script"))
            continue
        answer = answers[turn] if turn < len(answers) else ""
        if answer not in began or at <= began[answer]:
            continue
        stored = committed.get(answer, began[answer])
        if at > stored:
            detail = f"turn {turn} was asked of the model {at - stored:.2f}s after a client saw its stored answer"
            found.append(_v(record, "repeated_model_call", detail))
        else:
            into = at - began[answer]
            detail = f"turn {turn} was asked of the model again {into:.2f}s into the transaction storing its answer"
            found.append(_v(record, "concurrent_model_call", detail))
    return found


def _log(record: ChatRecord) -> list[Violation]:
    """The update log, read from seq 0, is 1..N with no gap and no duplicate, and reaches the
    chat's last seq."""
    if record.log_error:
        return [_v(record, "log_unreadable", record.log_error)]
    found = []
    seqs = [u.seq for u in record.log]
    expected = list(range(1, len(seqs) + 1))
    if seqs != expected:
        first = next(i for i, (a, b) in enumerate(zip(seqs, expected, strict=True)) if a != b)
        kind = "seq_duplicate" if seqs[first] <= (seqs[first - 1] if first else 0) else "seq_gap"
        found.append(_v(record, kind, f"after seq {seqs[first - 1] if first else 0} came {seqs[first]}"))
    if seqs and seqs[-1] != record.last_seq:
        found.append(
            _v(record, "seq_gap", f"the log ends at {seqs[-1]}, the chat says its last seq is {record.last_seq}")
        )
    finished = Counter(u.payload.get("tool_call_id") for u in record.log if u.kind == "tool_finished")
    found += [
        _v(record, "duplicate_tool_finished", f"{call} finished {n} times in the log")
        for call, n in sorted(finished.items())
        if n > 1
    ]
    calls, _ = _blocks(record)
    last_finish = {u.payload.get("tool_call_id"): u for u in record.log if u.kind == "tool_finished"}
    for call, update in sorted(last_finish.items()):
        state = calls.get(str(call), {}).get("tool_state")
        said = FINISHED_STATUS.get(str(update.payload.get("status")), str(update.payload.get("status")))
        if state is not None and state != said:
            found.append(_v(record, "state_mismatch", f"{call} finished {said} in the log but is {state} in the chat"))
    return found


def _live(record: ChatRecord) -> list[Violation]:
    """What the live client received: every seq once, in order, the same content the log holds
    now, and up to the end of the log."""
    found = []
    by_seq = {u.seq: u for u in record.log}
    previous = 0
    for update in record.live:
        if update.seq <= previous:
            found.append(_v(record, "stream_duplicate", f"the live client got seq {update.seq} after {previous}"))
            break
        if update.seq > previous + 1:
            found.append(_v(record, "stream_gap", f"the live client got seq {update.seq} after {previous}"))
            break
        logged = by_seq.get(update.seq)
        if logged is None and record.log and not record.log_error:
            found.append(_v(record, "stream_mismatch", f"{describe(update)} was seen live; the log has no such seq"))
            break
        if logged is not None and (logged.kind, logged.payload) != (update.kind, update.payload):
            found.append(
                _v(
                    record,
                    "stream_mismatch",
                    f"seq {update.seq} was {describe(update)} live, the log says {describe(logged)}",
                )
            )
            break
        previous = update.seq
    if record.log and not found and previous < record.log[-1].seq:
        found.append(
            _v(
                record,
                "stream_missed",
                f"the live client stopped at seq {previous}; the log goes on to {describe(record.log[-1])}",
            )
        )
    return found


def _stall(record: ChatRecord, window: Window, limits: Limits) -> list[Violation]:
    """Once the piece is back, a chat still running is never silent for long (a chat gone idle
    waits for its user: that silence does not count)."""
    end = record.completed_at
    if end is None or end < window.back_at:
        return []  # an incomplete chat is reported by _completion
    points = [(window.back_at, "")]
    points += [(u.created, _idle(u)) for u in record.log if window.back_at <= u.created <= end]
    points.sort(key=lambda point: point[0])
    gaps = [(b[0] - a[0], a[0]) for a, b in itertools.pairwise(points) if a[1] != "idle"]
    if not gaps:
        return []
    gap, since = max(gaps)
    if gap <= limits.stall_seconds:
        return []
    before = [u for u in record.log if u.created <= since]
    last = describe(before[-1]) if before else "none"
    return [
        _v(
            record,
            "stall",
            f"no update for {gap:.1f}s from {since - window.back_at:.1f}s after the piece was back (last: {last})",
        )
    ]


def _idle(update: Update) -> str:
    return "idle" if update.kind == "chat_status" and update.payload.get("status") == "idle" else ""


def _slow_tools(record: ChatRecord, window: Window, limits: Limits) -> list[Violation]:
    """A tool in flight when the piece was hit ends (with its result, or interrupted) within
    `tool_seconds` of the piece coming back, or of the end of its own run."""
    found = []
    started: dict[str, float] = {}
    for update in record.log:
        call_id = str(update.payload.get("tool_call_id", ""))
        if update.kind == "tool_started":
            started[call_id] = update.created
        elif update.kind == "tool_finished" and call_id in started:
            began = started[call_id]
            if began < window.back_at and update.created > window.hit_at:
                planned = record.plan.call(call_id)
                seconds = planned.seconds if planned else 0.0
                due = max(window.back_at, began + seconds) + limits.tool_seconds
                if update.created > due:
                    late = update.created - max(window.back_at, began + seconds)
                    found.append(
                        _v(
                            record,
                            "slow_tool",
                            f"{call_id} ended {late:.1f}s after the piece was back ({describe(update)})",
                        )
                    )
    return found


def _reasons(record: ChatRecord, window: Window | None) -> list[Violation]:
    """An interrupted call says what really happened: never a user cancel (nobody cancels here),
    never a daemon restart when the daemon lived on, never at all when nothing was hit."""
    calls, results = _blocks(record)
    found = []
    for call_id, block in sorted(calls.items()):
        if block.get("tool_state") != "interrupted":
            continue
        text = str(results.get(call_id, {}).get("text", ""))
        if window is None:
            found.append(_v(record, "wrong_reason", f"{call_id} was interrupted though nothing was hit: {text}"))
        elif "cancelled by the user" in text:
            found.append(_v(record, "wrong_reason", f"{call_id} says the user cancelled it; nobody did: {text}"))
        elif "daemon restarted" in text and not window.daemon_restarted:
            found.append(_v(record, "wrong_reason", f"{call_id} blames a daemon restart; the daemon lived on: {text}"))
    return found
