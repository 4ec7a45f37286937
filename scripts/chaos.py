"""Chaos: hit reliant's pieces at random moments while scripted chats run, and check that nothing is
lost, nothing happens twice, and every fault ends in seconds.

Victims (--victims; --mode picks the default set):
  appliance   the `reliant up` process group                       SIGKILL -> `reliant up` again
  power-cut   every process of the appliance at once (services, tools)  SIGKILL -> `reliant up` again
  up-postgres, up-nats, up-temporal   one service of `reliant up`  SIGKILL -> its supervisor revives it
  api, worker, gateway, daemon   a split role's process group      SIGKILL -> the same command again
  postgres, nats, temporal   a service of `reliant services`       SIGKILL -> its supervisor revives it
Each victim gets --kills-per-victim SIGKILLs and --freezes-per-victim freezes (SIGSTOP, a few
seconds, SIGCONT; default: as many as kills). A hit that misses (the round's chats were done before
it) is drawn again, up to twice the hits asked of each kind (--no-landed: never); the table's kills
and freezes count those that landed, and the others apart.

Every round starts --chats scripted chats (zero tokens) on the daemon's workspace: two user messages,
eight model turns with parallel read-only calls, mutating shells that append a marker per call to a
file (one sleeps), an edit of a file read earlier, a write; the piece is hit at a drawn fraction of
the floor (the same chats without a hit, measured first in the same run) and comes back; then, per
chat: it completed (a pause, a failure or a stall is a violation); no user message lost or doubled;
each marker at most once, all of a completed call's; no model call for a turn already stored (the
script's call_log); an interrupted call says what really happened; the update log read with
StreamUpdates from 0 is 1..N, and a live StreamUpdates client received exactly that; a tool in
flight ended within 10 s of the piece coming back; no process left behind (psutil). Recovery is
timed: hit -> the piece is back -> the first update made after that -> every chat complete.

    python scripts/chaos.py [--mode appliance|split|both] [--victims a,b,...] [--kills-per-victim N]
                            [--freezes-per-victim M] [--seed S] [--budget-seconds T] [--chats N]
                            [--replay VICTIM:KIND#I] [--no-landed] [--workdir DIR] [--keep]

The whole run follows from --seed (printed): a violation prints the command that replays its hit.
Prints a line per hit, a table per victim and one JSON line; exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.chaos import processes  # noqa: E402
from tests.chaos.checks import Limits, Violation  # noqa: E402
from tests.chaos.deployments import Appliance, Deployment, DeploymentBroken, Options, Split  # noqa: E402
from tests.chaos.plan import (  # noqa: E402
    DEFAULT_VICTIMS,
    KILL,
    MODES,
    VICTIMS,
    Hit,
    hit,
    mode_of,
    parse_name,
    redraw,
    schedule,
)
from tests.chaos.processes import StartFailed  # noqa: E402
from tests.chaos.rounds import Round, RoundOptions, RoundResult, project_id  # noqa: E402
from tests.chaos.tally import victim_row  # noqa: E402

# Services a supervisor revives, and how far apart the run kills one of them: the supervisor gives
# a service up after 5 deaths within 60 s (embedded/supervision.py), so at most 4 fall in a minute.
SUPERVISED = ("up-postgres", "up-nats", "up-temporal", "postgres", "nats", "temporal")
SUPERVISED_SPACING = 16.0  # seconds between two kills of one, at the least
FLOOR_GUESS = 10.0  # seconds: where the floor round itself places its second messages
HEALTHY_WITHIN = 90.0
ROW = "{:<12} {:>4} {:>8} {:>6}  {:<40} {:>11} {:>12} {:>11}"


@dataclass
class Report:
    seed: int
    results: dict[str, list[RoundResult]] = field(default_factory=dict)  # victim -> its hits' rounds
    floors: dict[str, RoundResult] = field(default_factory=dict)  # mode -> the floor round
    others: list[tuple[str, Violation]] = field(default_factory=list)  # (where, violation) outside hits
    skipped: list[Hit] = field(default_factory=list)

    def violations(self) -> list[tuple[str, Violation]]:
        found = list(self.others)
        for mode, floor in self.floors.items():
            found += [(f"{mode} floor", v) for v in floor.violations]
        for results in self.results.values():
            for result in results:
                assert result.hit is not None
                found += [(result.hit.name, v) for v in result.violations]
        return found


def replay_command(seed: int, hit: Hit) -> str:
    return f"python scripts/chaos.py --seed {seed} --replay {hit.name}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def print_round(seed: int, result: RoundResult) -> None:
    hit = result.hit
    assert hit is not None
    moment = f"at {hit.at:.0%} of the floor" + (f", {hit.freeze_seconds:.1f}s" if hit.kind == "freeze" else "")
    timing = f"back {_s(result.down_s)}, first update {_s(result.first_update_s)}, all done {_s(result.done_s)}" + (
        " (the chats were done before the hit)" if result.missed else ""
    )
    verdict = "ok" if not result.violations else f"{len(result.violations)} violation(s)"
    print(f"{hit.name:<16} {hit.kind:<6} {moment}: {timing} - {verdict}", flush=True)
    for violation in result.violations:
        print(f"    {violation.line()}", flush=True)
    if result.violations:
        print(f"    replay: {replay_command(seed, hit)}", flush=True)


async def run_mode(
    mode: str, hits: list[Hit], root: Path, seed: int, report: Report, options: RoundOptions, args: argparse.Namespace
) -> None:
    deployment: Deployment = (Appliance if mode == "appliance" else Split)(
        root / mode, Options(service_restart_seconds=args.service_restart_seconds)
    )
    try:
        try:
            await deployment.start()
        except StartFailed as exc:
            report.others.append((mode, Violation("start_failed", "", str(exc))))
            return
        project = await project_id(deployment)
        floor = await Round(
            deployment, 0, None, seed=f"{seed}/{mode}/floor", floor=FLOOR_GUESS, project=project, options=options
        ).run()
        report.floors[mode] = floor
        for violation in floor.violations:
            print(f"{mode} floor: {violation.line()}", flush=True)
        if floor.duration is None:
            raise DeploymentBroken("the floor round's chats did not complete without any hit")
        print(f"{mode} floor: {options.chats} chats complete in {floor.duration:.1f}s without a hit", flush=True)
        # `hits` grows while it runs: a hit drawn again for one that missed goes last.
        last_kill: dict[str, float] = {}  # a supervised service's victim -> when its last kill's round began
        for number, hit in enumerate(hits, start=1):
            if time.monotonic() > args.deadline:
                break
            if hit.kind == KILL and hit.victim in SUPERVISED:
                # A supervisor gives a service up when it dies 5 times within a minute (by design):
                # the run kills one no faster than that, as a fault would, not as a crash loop. The
                # kill falls anywhere in its round, hence a round's length on top.
                spacing = SUPERVISED_SPACING + floor.duration
                await asyncio.sleep(max(0.0, last_kill.get(hit.victim, -spacing) + spacing - time.monotonic()))
                last_kill[hit.victim] = time.monotonic()
            why = await deployment.healthy(HEALTHY_WITHIN)
            if why is not None:
                report.others.append((f"before {hit.name}", Violation("unhealthy", "", why)))
                await deployment.redeploy()
            result = await Round(
                deployment, number, hit, seed=hit.seed, floor=floor.duration, project=project, options=options
            ).run()
            report.results.setdefault(hit.victim, []).append(result)
            print_round(seed, result)
            if result.missed and args.landed and not args.replay:
                wanted = args.kills_per_victim if hit.kind == KILL else args.freezes_per_victim
                again = redraw(seed, hit, hits, wanted)
                if again is not None:
                    hits.append(again)
                    print(f"{hit.name} missed: {again.name} is drawn in its place", flush=True)
    except DeploymentBroken as exc:
        report.others.append((mode, Violation("broken", "", str(exc))))
    finally:
        for kind, detail in await deployment.shutdown():
            report.others.append((f"{mode} shutdown", Violation(kind, "", detail)))
        deployment.kill_everything()
        left = await processes.wait_no_strays(deployment.root, deployment.workspace, set, 15.0)
        processes.kill_strays(left)
        report.others += [(f"{mode} shutdown", Violation("orphan", "", s.describe())) for s in left]


def summary(report: Report) -> dict[str, dict[str, Any]]:
    return {victim: victim_row(results) for victim, results in report.results.items()}


def _pair(stats: dict[str, float | None]) -> str:
    if stats["median"] is None:
        return "-"
    return f"{stats['median']:.1f} / {stats['max']:.1f}"


def print_table(report: Report, rows: dict[str, dict[str, Any]]) -> None:
    print()
    print(ROW.format("victim", "hits", "kill/frz", "missed", "violations", "back s", "1st update s", "done s"))
    print(ROW.format("", "", "landed", "", "", "med / max", "med / max", "med / max"))
    for victim, row in rows.items():
        kinds = ", ".join(f"{k} {n}" for k, n in row["violations"].items()) or "0"
        hits = f"{row['kills']}/{row['freezes']}"
        pairs = (_pair(row["down_s"]), _pair(row["first_update_s"]), _pair(row["done_s"]))
        print(ROW.format(victim, row["hits"], hits, row["missed"], kinds, *pairs))
    for mode, floor in report.floors.items():
        print(f"floor ({mode}, no hit): {_s(floor.duration)} for the round's chats")
    for where, violation in report.others:
        print(f"{where}: {violation.line()}")
    if report.skipped:
        print(f"not run (budget or a broken deployment): {', '.join(h.name for h in report.skipped)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--victims", default="", help="comma-separated (default: every default victim of the mode)")
    parser.add_argument("--kills-per-victim", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None, help="default: drawn from the clock, and printed")
    parser.add_argument("--budget-seconds", type=float, default=0.0, help="start no hit after this (0: no limit)")
    parser.add_argument("--chats", type=int, default=3, help="concurrent scripted chats per round")
    parser.add_argument("--freezes-per-victim", type=int, default=None, help="default: --kills-per-victim")
    parser.add_argument("--replay", default="", help="run only this hit, e.g. gateway:kill#3")
    parser.add_argument(
        "--landed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw a missed hit (the chats were done before it) again, up to twice the hits asked of each kind",
    )
    parser.add_argument("--round-timeout", type=float, default=60.0, help="seconds after the piece is back")
    parser.add_argument("--stall-seconds", type=float, default=15.0)
    parser.add_argument("--tool-seconds", type=float, default=10.0)
    parser.add_argument("--service-restart-seconds", type=float, default=20.0)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a new temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (it is kept anyway on a violation)")
    args = parser.parse_args(argv)
    if args.freezes_per_victim is None:
        args.freezes_per_victim = args.kills_per_victim
    modes = MODES if args.mode == "both" else (args.mode,)
    if args.replay:
        try:
            args.victims = parse_name(args.replay)[0]
        except ValueError as exc:
            parser.error(f"--replay: {exc}")
    victims = [v for v in args.victims.split(",") if v] or [v for m in modes for v in DEFAULT_VICTIMS[m]]
    for victim in victims:
        try:
            mode_of(victim)
        except ValueError as exc:
            parser.error(str(exc))
    args.victim_list = victims
    if args.kills_per_victim < 0 or args.freezes_per_victim < 0 or args.chats < 1:
        parser.error("--kills-per-victim and --freezes-per-victim must be at least 0, --chats at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 1_000_000_000
    if args.replay:
        hits = [hit(seed, *parse_name(args.replay))]
    else:
        hits = schedule(seed, args.victim_list, args.kills_per_victim, args.freezes_per_victim)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="reliant-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    all_victims = ", ".join(v for names in VICTIMS.values() for v in names)
    print(f"chaos seed {seed}: {len(hits)} hits of {', '.join(args.victim_list)} (of: {all_victims})", flush=True)
    print(f"workdir {root}", flush=True)
    started = time.monotonic()
    args.deadline = started + args.budget_seconds if args.budget_seconds > 0 else float("inf")
    options = RoundOptions(
        chats=args.chats,
        round_timeout=args.round_timeout,
        limits=Limits(stall_seconds=args.stall_seconds, tool_seconds=args.tool_seconds),
    )
    report = Report(seed)
    signal.signal(signal.SIGTERM, _interrupt)  # stop like Ctrl-C: every started process is stopped
    interrupted = False
    by_mode = {mode: [h for h in hits if h.mode == mode] for mode in MODES}  # and the hits drawn again
    try:
        for mode, mode_hits in by_mode.items():
            if mode_hits:
                asyncio.run(run_mode(mode, mode_hits, root, seed, report, options, args))
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: what ran so far follows", flush=True)
    ran = {r.hit for results in report.results.values() for r in results}
    report.skipped = [h for mode_hits in by_mode.values() for h in mode_hits if h not in ran]
    rows = summary(report)
    print_table(report, rows)
    violations = report.violations()
    print(
        json.dumps(
            {
                "bench": "chaos",
                "seed": seed,
                "chats_per_round": args.chats,
                "floor_s": {m: f.duration and round(f.duration, 3) for m, f in report.floors.items()},
                "victims": rows,
                "violations": len(violations),
                "violation_list": [
                    {"where": where, "kind": v.kind, "chat": v.chat, "detail": v.detail[:300]}
                    for where, v in violations
                ],
                "skipped": [h.name for h in report.skipped],
                "seconds": round(time.monotonic() - started, 1),
            }
        ),
        flush=True,
    )
    if violations or args.keep:
        print(f"kept {root} (logs of every process under */logs)", flush=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 130 if interrupted else 1 if violations else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
