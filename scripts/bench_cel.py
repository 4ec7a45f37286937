"""Benchmark: what a workflow's expressions cost, against plain Python doing the same in the same run.

  edge condition    `iter.previous.check.exit_code != 0 && nodes.implement.turns < inputs.max_rounds`,
                    compiled once,
                    evaluated on the variables a run builds for it (inputs, nodes, iter, chat); the
                    floor is the same test written as a Python expression over the same dicts
  with context      the same, including building those variables from the run state (what
                    `Run.finish` does before following an edge)
  big outputs       the same condition with 16 KB of stdout in the nodes it can see (the variables
                    are converted to CEL values on every evaluation, so their size counts)
  template          `Last run (exit {{…}}): {{…stdout}}` interpolated
  machine step      `Run.finish` + `Run.take_ready` per node of a 100-node linear workflow (the
                    state machine's own cost per node, all-or-nothing copy included)

    python scripts/bench_cel.py [--seconds 0.5]

Prints a table (µs per operation and the ratio to the floor) and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from reliant.engine import Run, load_definition  # noqa: E402
from reliant.engine.expressions import Expression, Template  # noqa: E402
from reliant.engine.problems import Position  # noqa: E402

AT = Position("bench", 1, 1)
CONDITION = "iter.previous.check.exit_code != 0 && nodes.implement.turns < inputs.max_rounds"
LOOP = """
name: bench
inputs: {max_rounds: {type: integer, default: 5}, task: {type: string, default: "add a flag"}}
entry: fix
nodes:
  - id: fix
    type: loop
    max_iterations: 1000000
    body:
      entry: implement
      nodes:
        - {id: implement, type: agent, prompt: "{{inputs.task}}"}
        - {id: check, type: run, command: pytest}
      edges: [{from: implement, default: check}]
"""


def per_op(fn: Callable[[], Any], seconds: float) -> float:
    """Microseconds per call: the best of three timed batches sized to `seconds` in all."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        took = time.perf_counter() - start
        if took > seconds / 10:
            break
        n *= 2
    batch = max(1, int(n * (seconds / 3) / took))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - start) / batch)
    return best * 1e6


def loop_run(stdout: str) -> tuple[Run, str]:
    """A run in its loop's third iteration with `implement` done: what the edge from it sees."""
    run = Run.start(load_definition(LOOP, "bench.yaml"), {})
    for _ in range(2):
        for task in run.take_ready():
            outputs = (
                {"exit_code": 1, "stdout": stdout, "stderr": ""}
                if task.node.kind == "run"
                else {"text": "done", "turns": 1, "message_id": "m"}
            )
            run.finish(task, outputs)
    [implement] = run.take_ready()
    run.finish(implement, {"text": "done", "turns": 3, "message_id": "m2"})
    return run, "fix"


def linear(n: int) -> str:
    nodes = "\n".join(f"  - {{id: n{i}, type: run, command: 'step {i}'}}" for i in range(n))
    edges = "\n".join(f"  - {{from: n{i}, default: n{i + 1}}}" for i in range(n - 1))
    return f"name: linear\nentry: n0\nnodes:\n{nodes}\nedges:\n{edges}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time spent per measurement")
    args = parser.parse_args()

    condition = Expression.compile(CONDITION, AT)
    results: dict[str, tuple[float, float]] = {}

    for label, stdout in (("edge condition", "3 failed"), ("big outputs", "x" * 16_384)):
        run, scope = loop_run(stdout)
        variables = run._variables(scope)  # what Run.finish evaluates the edge from `implement` with
        assert condition.condition(variables) is True

        def python(v: dict[str, Any] = variables) -> bool:
            previous = v["iter"]["previous"]["check"]["exit_code"]
            return previous != 0 and v["nodes"]["implement"]["turns"] < v["inputs"]["max_rounds"]

        floor = per_op(python, args.seconds)
        results[label] = (per_op(lambda v=variables: condition.condition(v), args.seconds), floor)
        if label == "edge condition":
            results["with context"] = (
                per_op(lambda r=run, s=scope: condition.condition(r._variables(s)), args.seconds),
                floor,
            )

    template = Template.parse("Last run (exit {{nodes.red.exit_code}}):\n{{nodes.red.stdout}}", lambda offset: AT)
    tvars = {"nodes": {"red": {"exit_code": 1, "stdout": "3 failed"}}}
    tfloor = per_op(
        lambda: f"Last run (exit {tvars['nodes']['red']['exit_code']}):\n{tvars['nodes']['red']['stdout']}",
        args.seconds,
    )
    results["template"] = (per_op(lambda: template.evaluate(tvars), args.seconds), tfloor)

    definition = load_definition(linear(100), "linear.yaml")

    def machine() -> None:
        run = Run.start(definition, {})
        while not run.done:
            for task in run.take_ready():
                run.finish(task, {"exit_code": 0, "stdout": "", "stderr": ""})

    def bare() -> None:  # the floor: the same walk over a plain dict of steps
        state: dict[str, dict[str, Any]] = {}
        for i in range(100):
            state[f"n{i}"] = {"exit_code": 0, "stdout": "", "stderr": ""}

    results["machine step"] = (per_op(machine, args.seconds * 2) / 100, per_op(bare, args.seconds) / 100)

    print(f"{'case':<16} {'µs/op':>9} {'floor µs':>9} {'ratio':>8}")
    for name, (value, floor) in results.items():
        print(f"{name:<16} {value:>9.2f} {floor:>9.3f} {value / floor:>7.0f}x")
    print(
        json.dumps(
            {
                "bench": "cel",
                **{
                    name.replace(" ", "_"): {"us": round(v, 3), "floor_us": round(f, 4), "ratio": round(v / f, 1)}
                    for name, (v, f) in results.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
