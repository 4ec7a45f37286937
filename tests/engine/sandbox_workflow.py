"""A tiny interpreter as Temporal workflow code: proves the engine runs inside the workflow sandbox
(imported through it, deterministic) and that its state carries across continue-as-new."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from reliant.engine import Pinned, Run, RunState
    from reliant.engine.definition import ApprovalNode

OUTPUTS: dict[str, dict[str, Any]] = {
    "agent": {"text": "done", "turns": 1, "message_id": "m"},
    "save_message": {"message_id": "m"},
    "compact": {"compacted": False, "tokens_before": 0, "tokens_after": 0},
}


@dataclass
class StepInput:
    key: str
    kind: str
    command: str = ""
    choice: str = ""


@dataclass
class StepResult:
    outputs: dict[str, Any]


@dataclass
class InterpretInput:
    definition: Pinned
    inputs: dict[str, Any]
    state: RunState | None = None
    steps_per_run: int = 3
    keys: list[str] = field(default_factory=list)


@dataclass
class InterpretResult:
    outputs: dict[str, Any]
    keys: list[str]


@activity.defn
async def step(inp: StepInput) -> StepResult:
    """Fake node executor: the tests fail (`red`, then the checks) until the third check passes."""
    if inp.kind == "run":
        passing = "fix[2]/check" in inp.key
        return StepResult({"exit_code": 0 if passing else 1, "stdout": inp.command, "stderr": ""})
    if inp.kind == "approval":
        return StepResult({"choice": inp.choice, "note": ""})
    return StepResult(OUTPUTS[inp.kind])


@workflow.defn
class InterpretWorkflow:
    @workflow.run
    async def run(self, inp: InterpretInput) -> InterpretResult:
        definition = inp.definition.load()
        run = Run.resume(definition, inp.state) if inp.state else Run.start(definition, inp.inputs)
        pending = run.running()  # after continue-as-new: started again, same keys
        steps = 0
        while not run.done:
            pending += run.take_ready()
            task = pending.pop(0)
            command = (run.text(task, "command") or "") if task.node.kind == "run" else ""
            choice = task.node.choices[0] if isinstance(task.node, ApprovalNode) else ""
            result = await workflow.execute_activity(
                step,
                StepInput(task.key(), task.node.kind, command, choice),
                start_to_close_timeout=timedelta(seconds=10),
            )
            inp.keys.append(task.key())
            run.finish(task, result.outputs)
            steps += 1
            if steps >= inp.steps_per_run and not run.done:
                workflow.continue_as_new(
                    InterpretInput(inp.definition, inp.inputs, run.state, inp.steps_per_run, inp.keys)
                )
        return InterpretResult(run.outputs(), inp.keys)
