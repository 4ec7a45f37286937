"""The scenario format of `reliant test`: every problem of a file with its line and column, what a
scenario means once loaded, how expectations judge a run, how scripts are put on the nodes of a
workflow's copy, and the JUnit report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from reliant.cli import scenario_format, scenario_models, scenario_report
from reliant.cli.scenario_format import Answer, InvalidScenario, load, mismatch
from reliant.cli.scenario_run import Observed, Outcome, verdict


def scenario_file(root: Path, text: str, name: str = "case.yaml") -> Path:
    path = root / ".reliant" / "tests" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_scenario_loads_with_its_project_scripts_and_answers(tmp_path: Path) -> None:
    (tmp_path / ".reliant" / "tests" / "scripts").mkdir(parents=True)
    (tmp_path / ".reliant" / "tests" / "scripts" / "w.yaml").write_text("turns: [{text: hi}]\n")
    path = scenario_file(
        tmp_path,
        """
workflow: plan-then-build
inputs: {build_mode: manual}
models:
  plan: scripts/w.yaml
  preset:implementer: {turns: [{text: built}]}
answers:
  approve: [revise, {choice: build, note: smaller}]
expect:
  outputs: {approved: true}
""",
    )
    loaded = load(path)
    assert loaded.name == "case" and loaded.project == tmp_path.resolve() and loaded.workflow == "plan-then-build"
    assert loaded.models["plan"] == (path.parent / "scripts" / "w.yaml").resolve()
    assert loaded.models["preset:implementer"] == {"turns": [{"text": "built"}]}
    assert loaded.answers == {"approve": [Answer("revise"), Answer("build", "smaller")]}
    assert loaded.timeout == 120 and loaded.tools == "approve"
    elsewhere = tmp_path / "loose.yaml"
    elsewhere.write_text("workflow: agent\n")
    assert load(elsewhere).project is None  # not in a project: an empty directory


def test_every_problem_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    path = scenario_file(
        tmp_path,
        """workflow: tdd
mode: yolo
models:
  write_test: missing.yaml
  bad key: {turns: []}
files:
  ../outside.txt: x
expect:
  statuz: done
  text: {contains: 5}
  files:
    a.txt: {matches: "("}
""",
    )
    with pytest.raises(InvalidScenario) as caught:
        load(path)
    shown = [str(p).removeprefix(f"{path}:") for p in caught.value.problems]
    assert shown == [
        "2:1: mode: 'yolo' is not one of ['auto', 'manual', 'plan']",
        "3:1: models: 'bad key' does not match "
        "'^(default|preset:[A-Za-z0-9_.-]+|[A-Za-z_][A-Za-z0-9_-]*(\\\\[[0-9]+\\\\])?)$'",
        "4:3: models.write_test: no script file missing.yaml (next to case.yaml)",
        "7:3: files.../outside.txt: must be a relative path inside the project",
        "8:1: expect: unknown field ('statuz' was unexpected)",
        "10:3: expect.text: a test is one of {equals: v}, {contains: text}, {matches: regex}, {exists: true|false}",
        "12:5: expect.files.a.txt: matches: not a regular expression: missing ), unterminated subpattern at position 0",
    ]


def test_broken_yaml_and_a_missing_workflow_are_named(tmp_path: Path) -> None:
    broken = scenario_file(tmp_path, "workflow: [tdd\n", "broken.yaml")
    with pytest.raises(InvalidScenario) as yaml_problem:
        load(broken)
    assert str(yaml_problem.value).startswith(f"{broken}:2:1: YAML:")
    empty = scenario_file(tmp_path, "inputs: {}\n", "empty.yaml")
    with pytest.raises(InvalidScenario) as missing:
        load(empty)
    assert str(missing.value) == f"{empty}:1:1: the scenario: 'workflow' is a required property"


def test_find_takes_files_project_directories_and_test_folders(tmp_path: Path) -> None:
    a = scenario_file(tmp_path, "workflow: agent\n", "a.yaml")
    b = scenario_file(tmp_path, "workflow: agent\n", "b.yaml")
    (a.parent / "notes.txt").write_text("not a scenario")
    assert scenario_format.find([tmp_path]) == [a, b]
    assert scenario_format.find([a.parent, b]) == [a, b]


@pytest.mark.parametrize(
    ("expected", "actual", "present", "problem"),
    [
        (True, True, True, ""),
        (True, 1, True, "expected true, got 1"),
        (3, 3.0, True, ""),
        ({"contains": "pass"}, "tests passed", True, ""),
        ({"contains": "pass"}, "red", True, 'expected it to contain "pass", got "red"'),
        ({"matches": r"^\d+ rounds?$"}, "2 rounds", True, ""),
        ({"exists": False}, None, False, ""),
        ({"exists": False}, "x", True, "it exists"),
        ("x", None, False, 'expected "x", there is none'),
        ({"equals": {"contains": "x"}}, {"contains": "x"}, True, ""),
    ],
)
def test_expectations_compare_or_test_a_value(expected: object, actual: object, present: bool, problem: str) -> None:
    assert mismatch(expected, actual, present=present) == problem


def _scenario(tmp_path: Path, expect: dict[str, object]) -> scenario_format.Scenario:
    path = scenario_file(tmp_path, yaml.safe_dump({"workflow": "tdd", "expect": expect}))
    return load(path)


def test_a_run_is_judged_by_status_outputs_path_nodes_text_and_files(tmp_path: Path) -> None:
    (tmp_path / "leap.py").write_text("def is_leap(y):\n    return y % 4 == 0\n")
    scenario = _scenario(
        tmp_path,
        {
            "outputs": {"passed": True},
            "path": ["write_test", "red", "fix/implement", "fix/check", "fix", "green"],
            "nodes": {
                "red": {"exit_code": 1},
                "fix[0]/check": {"status": "done", "exit_code": 0},
                "still_red": {"status": "waiting"},
            },
            "text": {"contains": "pass"},
            "files": {"leap.py": {"contains": "% 4"}, "junk.txt": {"exists": False}},
        },
    )

    def state(path: str, status: str, instance: str = "", **outputs: object) -> dict[str, object]:
        return {"path": path, "instance": instance or path, "status": status, "outputs": outputs}

    states = [
        state("write_test", "running"),
        state("write_test", "done"),
        state("red", "done", exit_code=1),
        state("fix/implement", "done", "fix[0]/implement"),
        state("fix/check", "done", "fix[0]/check", exit_code=0),
        state("fix", "done"),
        state("green", "done"),
    ]
    good = Observed(status="done", outputs={"passed": True}, states=states, text="The tests pass", root=tmp_path)
    assert verdict(scenario, good) == []
    bad = Observed(
        status="failed",
        error="node fix: boom",
        outputs={"passed": False},
        states=[*states[:3], state("fix/check", "failed", "fix[0]/check", exit_code=2)],
        text=None,
        root=tmp_path,
        unscripted_calls=2,
    )
    (tmp_path / "junk.txt").write_text("x")
    assert verdict(scenario, bad) == [
        "status: expected done, got failed (node fix: boom)",
        "outputs.passed: expected true, got false",
        "path: expected ['write_test', 'red', 'fix/implement', 'fix/check', 'fix', 'green'],"
        " got ['write_test', 'red', 'fix/check']",
        "nodes.fix[0]/check.status: expected done, got failed",
        "nodes.fix[0]/check.exit_code: expected 0, got 2",
        "text: there is none",
        "files.junk.txt: it exists",
        "models: 2 model calls had no script (give the node one under `models:`, or a `default`)",
    ]
    no_outputs = Observed(
        status="done",
        outputs={"passed": True},
        states=[{**s, "outputs": None} for s in states],
        text="pass",
        root=tmp_path,
    )
    assert "nodes.red.exit_code: the engine reported no outputs for this node" in verdict(scenario, no_outputs)


def test_scripts_go_on_the_nodes_they_name_in_the_copy_of_the_workflow(tmp_path: Path) -> None:
    models = scenario_models.place(
        tmp_path,
        "review",
        {"implement": {"turns": [{"text": "built"}]}, "preset:reviewer": {"turns": [{"text": "ok"}]}},
    )
    copy = yaml.safe_load((tmp_path / ".reliant" / "workflows" / "review.yaml").read_text())
    body = {n["id"]: n for n in copy["nodes"][0]["body"]["nodes"]}
    run_dir = tmp_path / ".reliant" / "test-run"
    assert body["implement"]["model"] == f"scripted:{run_dir / 'implement.yaml'}"
    assert body["inspect"]["model"] == body["verdict"]["model"] == f"scripted:{run_dir / 'preset_reviewer.yaml'}"
    assert "model" not in body["feedback"]
    script = yaml.safe_load((run_dir / "implement.yaml").read_text())
    assert script == {
        "turns": [{"text": "built"}],
        "own_turns": True,
        "call_log": str(run_dir / "implement.calls.jsonl"),
    }
    assert models.default == f"scripted:{run_dir / 'unscripted.yaml'}" and models.unscripted_log is not None
    unscripted = yaml.safe_load((run_dir / "unscripted.yaml").read_text())
    assert unscripted["turns"] == [] and "has no script" in unscripted["final_text"]


@pytest.mark.parametrize(
    ("models", "said"),
    [
        (
            {"nobody": {"turns": []}},
            "models.nobody: no node of workflow tdd (or of the workflows it runs) calls a model by that id",
        ),
        ({"red": {"turns": []}}, "models.red: node red of workflow tdd is a run node: no model"),
        (
            {"red[0]": {"turns": []}},
            "models.red[…]: node red of workflow tdd is a run node, not a workflow node with runs",
        ),
        (
            {"preset:planner": {"turns": []}},
            "models.preset:planner: no node of workflow tdd (or of the workflows it runs) calls a model by that preset",
        ),
    ],
)
def test_a_script_for_nothing_that_calls_a_model_is_refused(
    tmp_path: Path, models: dict[str, object], said: str
) -> None:
    with pytest.raises(scenario_models.ScenarioSetupError) as caught:
        scenario_models.place(tmp_path, "tdd", models)
    assert str(caught.value) == said


def test_a_child_workflows_nodes_get_their_scripts_too(tmp_path: Path) -> None:
    flows = tmp_path / ".reliant" / "workflows"
    flows.mkdir(parents=True)
    (flows / "outer.yaml").write_text(
        "name: outer\nentry: sub\nnodes:\n  - {id: sub, type: workflow, workflow: tdd, inputs: {task: x}}\n"
    )
    scenario_models.place(tmp_path, "outer", {"write_test": {"turns": []}})
    tdd = yaml.safe_load((flows / "tdd.yaml").read_text())
    assert tdd["nodes"][0]["model"].endswith("write_test.yaml")


def test_the_junit_report_has_a_case_per_scenario_with_its_failures(tmp_path: Path) -> None:
    good = Outcome(_scenario(tmp_path, {}), seconds=1.5, log=["▶ workflow tdd"])
    bad_path = scenario_file(tmp_path, "workflow: review\nname: reviewed\n", "bad.yaml")
    bad = Outcome(load(bad_path), failures=["status: expected done, got failed", "text: there is none"], seconds=2.0)
    problem = scenario_format.ScenarioProblem(str(tmp_path / "broken.yaml"), 2, 1, "mode: 'yolo' is not one of")
    out = tmp_path / "reports" / "junit.xml"
    scenario_report.junit([good, bad], [problem], out)
    suite = ET.parse(out).getroot().find("testsuite")
    assert (
        suite is not None
        and suite.attrib["tests"] == "3"
        and suite.attrib["failures"] == "1"
        and suite.attrib["errors"] == "1"
    )
    cases = suite.findall("testcase")
    assert [(c.attrib["classname"], c.attrib["name"]) for c in cases] == [
        ("reliant.tdd", "case"),
        ("reliant.review", "reviewed"),
        ("reliant.scenario", "broken.yaml"),
    ]
    assert cases[0].find("failure") is None and cases[0].findtext("system-out") == "▶ workflow tdd"
    failure = cases[1].find("failure")
    assert failure is not None and failure.attrib["message"] == "status: expected done, got failed"
    assert failure.text == "status: expected done, got failed\ntext: there is none"
    assert json.dumps(scenario_format.schema()["required"]) == '["workflow"]'


def test_the_readme_scenario_is_a_valid_scenario(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Scenario tests: `reliant test`", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = scenario_file(tmp_path, example, "tdd-green.yaml")
    (path.parent / "scripts").mkdir()
    (path.parent / "scripts" / "write-test.yaml").write_text("turns: [{text: written}]\n")
    loaded = load(path)
    assert loaded.workflow == "tdd" and loaded.expect["path"][-1] == "green"


def test_a_script_per_run_goes_on_the_workflow_node_as_its_runs_models(tmp_path: Path) -> None:
    scenario_models.place(
        tmp_path, "best-of-n", {"solve[0]": {"turns": []}, "solve[2]": {"turns": []}, "judge": {"turns": []}}
    )
    copy = yaml.safe_load((tmp_path / ".reliant" / "workflows" / "best-of-n.yaml").read_text())
    nodes = {n["id"]: n for n in copy["nodes"]}
    run_dir = tmp_path / ".reliant" / "test-run"
    assert nodes["solve"]["models"] == [
        f"scripted:{run_dir / 'solve_0_.yaml'}",
        f"scripted:{run_dir / 'unscripted.yaml'}",  # a run without a script gets the stand-in
        f"scripted:{run_dir / 'solve_2_.yaml'}",
    ]
    assert nodes["judge"]["model"] == f"scripted:{run_dir / 'judge.yaml'}"


def test_worktrees_left_behind_are_counted(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, {"worktrees": 0})
    observed = Observed(status="done", root=tmp_path)
    assert verdict(scenario, observed) == []
    (tmp_path / ".reliant" / "worktrees" / "agent-1").mkdir(parents=True)
    assert verdict(scenario, observed) == ["worktrees: expected 0 left under .reliant/worktrees/, got 1"]
