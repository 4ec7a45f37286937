"""What a chaos run does, decided by its seed alone: which piece is hit, when and how, and the
scripted chats that run meanwhile.

Every hit draws from its own generator, seeded with `<seed>/<mode>/<victim>/<kind>/<index>`, so a
hit is the same whichever other hits run beside it: `--seed S --replay VICTIM:KIND#INDEX` replays
it alone. A hit drawn again for one that missed is such a hit too, with the victim's next index.
"""

from __future__ import annotations

import dataclasses
import random
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APPLIANCE = "appliance"
SPLIT = "split"
MODES = (APPLIANCE, SPLIT)

# Victims by mode. `appliance` is the `reliant up` process group (its services are children in
# sessions of their own and must die with it); `power-cut` kills every process of the appliance at
# once, services and tools included; `up-<service>` is one service `reliant up` runs.
VICTIMS: dict[str, tuple[str, ...]] = {
    APPLIANCE: ("appliance", "power-cut", "up-postgres", "up-nats", "up-temporal"),
    SPLIT: ("api", "worker", "gateway", "daemon", "postgres", "nats", "temporal"),
}
DEFAULT_VICTIMS: dict[str, tuple[str, ...]] = {
    APPLIANCE: ("appliance", "power-cut"),
    SPLIT: VICTIMS[SPLIT],
}
KILL = "kill"  # SIGKILL, then start the same command again (or wait for its supervisor to)
FREEZE = "freeze"  # SIGSTOP for a few seconds, then SIGCONT
KINDS = (KILL, FREEZE)

# When the piece is hit: this fraction (drawn) of the floor round's duration after the chats start.
HIT_WINDOW = (0.05, 0.75)
FREEZE_SECONDS = (1.5, 5.0)
# A victim whose hits missed is hit again (`redraw`), up to this many times the hits asked of a kind.
REDRAW_LIMIT = 2


def mode_of(victim: str) -> str:
    for mode, names in VICTIMS.items():
        if victim in names:
            return mode
    raise ValueError(f"unknown victim {victim!r}; known: {', '.join(n for v in VICTIMS.values() for n in v)}")


@dataclass(frozen=True)
class Hit:
    mode: str
    victim: str
    index: int  # the victim's n-th hit, from 0
    kind: str
    at: float  # fraction of the floor round's duration after which the victim is hit
    freeze_seconds: float
    seed: str  # this hit's own seed: its chats draw from it too

    @property
    def name(self) -> str:
        return f"{self.victim}:{self.kind}#{self.index}"


def parse_name(name: str) -> tuple[str, str, int]:
    """`victim:kind#index` (as Hit.name prints it) -> its parts; ValueError if it is not one."""
    victim, _, rest = name.partition(":")
    kind, _, index = rest.partition("#")
    if kind not in KINDS or not index.isdigit():
        raise ValueError(f"{name!r} is not VICTIM:KIND#INDEX (KIND: {' or '.join(KINDS)})")
    mode_of(victim)
    return victim, kind, int(index)


def hit(seed: int, victim: str, kind: str, index: int) -> Hit:
    """The `index`-th hit of that kind on `victim`: drawn from its own seed, so it is the same in
    any run with this seed, whatever else that run hits."""
    mode = mode_of(victim)
    hit_seed = f"{seed}/{mode}/{victim}/{kind}/{index}"
    rng = random.Random(hit_seed)
    return Hit(
        mode=mode,
        victim=victim,
        index=index,
        kind=kind,
        at=round(rng.uniform(*HIT_WINDOW), 3),
        freeze_seconds=round(rng.uniform(*FREEZE_SECONDS), 2) if kind == FREEZE else 0.0,
        seed=hit_seed,
    )


def schedule(seed: int, victims: list[str], kills: int, freezes: int) -> list[Hit]:
    """`kills` SIGKILLs and `freezes` freezes of each victim, in the order they run: round-robin
    over the victims and kinds (a run cut short by its budget has hit each about as often), their
    order within a round drawn from the seed."""
    order = random.Random(f"{seed}/order")
    counts = {KILL: kills, FREEZE: freezes}
    hits: list[Hit] = []
    for index in range(max(kills, freezes)):
        batch = [(victim, kind) for victim in victims for kind in KINDS if index < counts[kind]]
        order.shuffle(batch)
        hits += [hit(seed, victim, kind, index) for victim, kind in batch]
    return hits


def redraw(seed: int, missed: Hit, drawn: list[Hit], wanted: int) -> Hit | None:
    """Another hit of `missed`'s kind on its victim, for one that missed (the round's chats were done
    before it): the victim's next index of that kind, drawn from its own seed like any hit (so
    `--replay` replays it). None once `drawn` holds REDRAW_LIMIT x `wanted` such hits."""
    same = [h for h in drawn if h.victim == missed.victim and h.kind == missed.kind]
    if len(same) >= REDRAW_LIMIT * wanted:
        return None
    return hit(seed, missed.victim, missed.kind, max(h.index for h in same) + 1)


# -- the scripted chats ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCall:
    """One tool call the script makes, and what it must leave behind."""

    tool_call_id: str
    tool: str
    input: dict[str, Any]
    read_only: bool
    markers: tuple[str, ...] = ()  # lines a shell call appends to the chat's effects file, in order
    seconds: float = 0.0  # how long it runs on its own (a `sleep`)
    needs: tuple[str, ...] = ()  # calls that must have completed for this one to succeed
    expect_file: tuple[str, str] | None = None  # (path, text it holds) once this call completed


@dataclass(frozen=True)
class ChatPlan:
    tag: str  # unique in the run: names the chat's files and markers
    turns: tuple[dict[str, Any], ...]  # the scripted model's turns (script.py's format)
    messages: tuple[str, ...]  # what the user sends, in order
    first_turn_of: tuple[int, ...]  # the turn that answers each message
    calls: tuple[PlannedCall, ...]
    files: dict[str, str] = field(default_factory=dict)  # created in the workspace before the chat starts
    second_message_at: float = 0.5  # fraction of the floor round's duration

    @property
    def final_text(self) -> str:
        return str(self.turns[-1]["text"])

    def call(self, tool_call_id: str) -> PlannedCall | None:
        return next((c for c in self.calls if c.tool_call_id == tool_call_id), None)

    def script(self, call_log: Path) -> dict[str, Any]:
        return {"call_log": str(call_log), "turns": list(self.turns)}


def chat_plan(rng: random.Random, tag: str, effects: Path) -> ChatPlan:
    """Two user messages, eight model turns: parallel read-only calls, mutating shells (one that
    sleeps), an edit of a file read earlier, a write and a read of what it wrote, streamed answers.
    Each shell call appends its own markers to `effects` (an absolute path), so the file counts
    side effects."""
    state, out = f"chaos/{tag}/state.txt", f"chaos/{tag}/out.txt"
    script = _Script(effects)
    # Message 1: three read-only calls run in parallel.
    view_state = script.turn(
        f"Looking at {tag}.",
        _call("view", {"path": state}),
        _call("glob", {"pattern": f"chaos/{tag}/*"}),
        _call("grep", {"pattern": f"count [0-9] {tag}", "path": f"chaos/{tag}"}),
    )[0]
    shells = [script.shell(f"{tag}.1")]
    if rng.random() < 0.5:  # two mutating calls in one turn: they run one after the other
        shells.append(script.shell(f"{tag}.1b"))
    script.turn("", *shells)
    script.turn("", script.shell(f"{tag}.2a", f"{tag}.2b", sleep=rng.choice((1, 2, 3))))
    edit = {"path": state, "old_string": f"count 0 {tag}", "new_string": f"count 1 {tag}"}
    script.turn("", _call("edit", edit, needs=(view_state,), expect_file=(state, f"count 1 {tag}")))
    script.turn(_words(rng, f"First part of {tag} is done."), delay_ms=rng.choice((10, 20, 30)))
    second = len(script.turns)
    # Message 2.
    write = script.turn(
        "",
        _call("write", {"path": out, "content": f"written by {tag}\n"}, expect_file=(out, f"written by {tag}")),
        script.shell(f"{tag}.5"),
    )[0]
    script.turn("", _call("view", {"path": out}, needs=(write,)), _call("glob", {"pattern": f"chaos/{tag}/*.txt"}))
    script.turn(_words(rng, f"All of {tag} is done."), delay_ms=rng.choice((10, 20, 30)))
    return ChatPlan(
        tag=tag,
        turns=tuple(script.turns),
        messages=(f"[{tag}] first: do the scripted work", f"[{tag}] second: and the rest"),
        first_turn_of=(0, second),
        calls=tuple(script.calls),
        files={state: f"count 0 {tag}\n"},
        second_message_at=round(rng.uniform(0.0, 0.8), 3),
    )


READ_ONLY_TOOLS = frozenset({"view", "glob", "grep"})


def _call(
    tool: str,
    tool_input: dict[str, Any],
    *,
    needs: tuple[str, ...] = (),
    expect_file: tuple[str, str] | None = None,
    markers: tuple[str, ...] = (),
    seconds: float = 0.0,
) -> PlannedCall:
    """A call whose id the turn it goes into gives it."""
    return PlannedCall("", tool, tool_input, tool in READ_ONLY_TOOLS, markers, seconds, needs, expect_file)


def _words(rng: random.Random, closing: str) -> str:
    filler = ["checking", "the", "results", "of", "each", "step", "so", "far", "and", "moving", "on"]
    return " ".join(rng.choice(filler) for _ in range(rng.randint(10, 30))) + " " + closing


class _Script:
    """Turns as the scripted model plays them; a call made in turn n is `call_<n>_<i>`."""

    def __init__(self, effects: Path) -> None:
        self.effects = effects
        self.turns: list[dict[str, Any]] = []
        self.calls: list[PlannedCall] = []

    def shell(self, *markers: str, sleep: int = 0) -> PlannedCall:
        log = shlex.quote(str(self.effects))
        steps = [f"echo {m} >> {log}" for m in markers]
        if sleep:
            steps.insert(1, f"sleep {sleep}")
        return _call("shell", {"command": "; ".join(steps)}, markers=markers, seconds=float(sleep))

    def turn(self, text: str, *calls: PlannedCall, delay_ms: int | None = None) -> list[str]:
        """Add a turn; the ids of its calls."""
        index = len(self.turns)
        turn: dict[str, Any] = {"text": text} if text else {}
        if delay_ms is not None:
            turn["delay_ms"] = delay_ms
        placed = [dataclasses.replace(c, tool_call_id=f"call_{index}_{i}") for i, c in enumerate(calls)]
        if placed:
            turn["tools"] = [{"name": c.tool, "input": c.input} for c in placed]
        self.turns.append(turn)
        self.calls.extend(placed)
        return [c.tool_call_id for c in placed]
