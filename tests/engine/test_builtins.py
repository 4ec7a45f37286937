"""The built-in workflows, walked through with made-up node outputs: the paths they take."""

from __future__ import annotations

from typing import Any

from reliant import workflow_library
from reliant.engine import ChatInfo, Definition, Run, Task, pin
from tests.engine.driver import drive


def builtin(name: str) -> Definition:
    [item] = [w for w in workflow_library.builtin_workflows() if w.name == name]
    return pin(item, workflow_library.builtin_presets()).load()


def test_agent_compacts_then_runs_the_agent_loop() -> None:
    seen: dict[str, Any] = {}

    def answer(run: Run, task: Task) -> dict[str, Any] | None:
        if task.node.kind == "compact":
            seen["threshold"] = run.integer(task, "threshold")
            return None
        seen["max_turns"] = run.integer(task, "max_turns")
        seen["prompt"] = run.text(task, "prompt")
        seen["model"] = run.llm(task).model
        return {"text": "Fixed it.", "turns": 4}

    run = Run.start(builtin("agent"), {"max_turns": 30}, ChatInfo(id="c1", model="scripted:demo"))
    assert drive(run, answer) == ["compact", "agent"]
    assert seen == {"threshold": 120_000, "max_turns": 30, "prompt": None, "model": None}  # the chat's model
    assert run.outputs() == {"text": "Fixed it.", "turns": 4}


def test_plan_then_build_revises_the_plan_then_builds_in_the_chosen_mode() -> None:
    prompts: list[str] = []
    choices = iter([("revise", "split step 2"), ("build", "go")])

    def answer(run: Run, task: Task) -> dict[str, Any] | None:
        if task.node.kind == "approval":
            choice, note = next(choices)
            return {"choice": choice, "note": note}
        prompts.append(f"{run.text(task, 'mode')}: {run.text(task, 'prompt')}")
        return None

    run = Run.start(builtin("plan-then-build"), {"build_mode": "manual"})
    ran = drive(run, answer)
    assert ran == ["planning[0]/plan", "planning[0]/approve", "planning[1]/plan", "planning[1]/approve", "build"]
    assert prompts == [
        "plan: Write a plan for the request above.",
        "plan: Revise the plan. The user says: split step 2",
        "manual: The plan is approved. Implement it now. Note from the user: go",
    ]
    assert run.outputs() == {"approved": True, "revisions": 1}


def test_plan_then_build_stops_when_the_plan_is_not_approved() -> None:
    run = Run.start(builtin("plan-then-build"), {})
    ran = drive(run, lambda r, t: {"choice": "stop", "note": ""} if t.node.kind == "approval" else None)
    assert ran == ["planning[0]/plan", "planning[0]/approve", "stopped"]
    assert run.outputs() == {"approved": False, "revisions": 0}


def _tdd(red_exit: int, passes_at: int | None, rounds: int = 5) -> tuple[Run, list[str], list[str]]:
    commands: list[str] = []
    prompts: list[str] = []

    def answer(run: Run, task: Task) -> dict[str, Any] | None:
        if task.node.kind == "run":
            commands.append(run.text(task, "command") or "")
            if task.path == "red":
                return {"exit_code": red_exit, "stdout": "1 failed (red)"}
            passed = passes_at is not None and task.instance == f"fix[{passes_at}]/check"
            return {"exit_code": 0 if passed else 1, "stdout": f"{task.instance} output"}
        if task.node.kind == "agent":
            prompts.append(run.text(task, "prompt") or "")
        return None

    run = Run.start(builtin("tdd"), {"task": "add --verbose", "test_command": "pytest -x", "max_rounds": rounds})
    ran = drive(run, answer)
    assert set(commands) == {"pytest -x"}
    return run, ran, prompts


def test_tdd_loops_until_the_tests_pass() -> None:
    run, ran, prompts = _tdd(red_exit=1, passes_at=1)
    assert ran == ["write_test", "red", "fix[0]/implement", "fix[0]/check", "fix[1]/implement", "fix[1]/check", "green"]
    assert prompts[0] == "Write a failing test for: add --verbose. Do not implement the feature."
    assert prompts[1:] == [
        "Make the tests pass: add --verbose\n1 failed (red)\n",
        "Make the tests pass: add --verbose\nfix[0]/check output\n",
    ]
    assert run.outputs() == {"passed": True, "rounds": 2}


def test_tdd_gives_up_after_max_rounds_and_stops_when_already_green() -> None:
    run, ran, _ = _tdd(red_exit=1, passes_at=None, rounds=2)
    assert ran[-1] == "still_red" and run.outputs() == {"passed": False, "rounds": 2}
    run, ran, _ = _tdd(red_exit=0, passes_at=None)
    assert ran == ["write_test", "red", "already_green"]
    assert run.outputs() == {"passed": True, "rounds": 0}


def test_review_goes_round_with_the_notes_until_approved() -> None:
    verdicts = iter([("request_changes", "handle empty input"), ("approve", "")])
    keys: list[str] = []

    def answer(run: Run, task: Task) -> dict[str, Any] | None:
        keys.append(task.key())
        if task.node.kind == "call_llm":
            assert run.llm(task).tools.allows("view") is False  # the verdict is given without tools
            verdict, notes = next(verdicts)
            return {"response": {"verdict": verdict, "notes": notes}}
        if task.node.kind == "save_message":
            assert run.text(task, "content") == "A reviewer asked for changes:\nhandle empty input"
        return None

    run = Run.start(builtin("review"), {"task": "parse dates"})
    ran = drive(run, answer)
    assert ran == [
        "rounds[0]/implement",
        "rounds[0]/inspect",
        "rounds[0]/verdict",
        "rounds[0]/feedback",
        "rounds[1]/implement",
        "rounds[1]/inspect",
        "rounds[1]/verdict",
    ]
    assert "reviewer:rounds[1]/verdict#0" in keys and "main:rounds[0]/feedback#0" in keys
    assert run.outputs() == {"approved": True, "rounds": 2, "notes": ""}


def _run(index: int, status: str = "done") -> dict[str, Any]:
    return {
        "index": index,
        "agent_id": f"agent-{index}",
        "status": status,
        "error": "",
        "outputs": {"text": "done", "tested": True, "test_exit_code": index, "test_output": ""},
        "worktree": {"path": f"/p/.reliant/worktrees/agent-{index}", "branch": f"reliant/agent-{index}", "base": "b"},
        "diff": f"+candidate {index + 1}",
        "files": ["greet.py"],
    }


def test_best_of_n_runs_n_attempts_then_the_judge_merges_its_pick_and_removes_the_rest() -> None:
    seen: dict[str, Any] = {}

    def answer(run: Run, task: Task) -> dict[str, Any] | None:
        kind = task.node.kind
        if kind == "workflow":
            seen["count"] = run.integer(task, "count")
            seen["models"] = run.child_models(task)
            seen["inputs"] = run.child_inputs(task)
            runs = [_run(i) for i in range(3)]
            return {"runs": runs, "done": 3, "report": "## Candidate 1 ..."}
        if kind == "call_llm":
            seen["prompt"] = run.text(task, "prompt")
            return {"response": {"winner": 2, "reason": "it passes"}}
        of = [r["agent_id"] for r in run.value(task, "of")]
        seen[task.node.id] = (run.text(task, "action"), of)
        if task.node.id == "merge":
            return {"merged": of, "commit": "c0ffee"}
        return {"removed": of}

    inputs = {"task": "greet", "test_command": "pytest -q", "models": "scripted:a, scripted:b"}
    run = Run.start(builtin("best-of-n"), inputs)
    assert drive(run, answer) == ["solve", "judge", "merge", "cleanup"]
    assert (seen["count"], seen["models"]) == (3, ["scripted:a", "scripted:b"])
    assert seen["inputs"] == {"task": "greet", "test_command": "pytest -q"}
    assert "## Candidate 1 ..." in seen["prompt"] and "3 agents worked on the same task" in seen["prompt"]
    assert seen["merge"] == ("merge", ["agent-1"]) and seen["cleanup"] == ("remove", ["agent-0", "agent-2"])
    assert run.outputs() == {
        "winner": 2,
        "reason": "it passes",
        "merged": True,
        "commit": "c0ffee",
        "branch": "reliant/agent-1",
        "diff": "+candidate 2",
        "conflicts": [],
        "problem": "",
        "removed": 2,
    }


def test_review_with_an_agent_reviewer_sends_its_notes_back_and_stops_when_it_approves() -> None:
    verdicts = iter([("request_changes", "handle empty input"), ("approve", "")])

    def answer(run: Run, task: Task) -> dict[str, Any] | None:
        if task.node.kind == "workflow":
            assert run.integer(task, "count") == 1 and run.child_inputs(task) == {"task": "parse dates"}
            verdict, notes = next(verdicts)
            entry = {**_run(0), "outputs": {"verdict": verdict, "notes": notes}}
            return {"runs": [entry], "done": 1, "report": ""}
        if task.node.kind == "save_message":
            assert run.text(task, "content") == "A reviewer asked for changes:\nhandle empty input"
        return None

    run = Run.start(builtin("review"), {"task": "parse dates", "reviewer": "agent"})
    assert drive(run, answer) == [
        "rounds[0]/implement",
        "rounds[0]/reviewer_agent",
        "rounds[0]/feedback",
        "rounds[1]/implement",
        "rounds[1]/reviewer_agent",
    ]
    assert run.outputs() == {"approved": True, "rounds": 2, "notes": ""}
