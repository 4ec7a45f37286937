"""`reliant test` as a user (and a CI job) runs it: the built-in workflows' own scenarios on a
temporary reliant of its own (zero tokens, offline), and a project's scenarios against a running
reliant with --api-url — a passing one, one whose every kind of expectation is wrong (each named),
one that is not a valid scenario (file:line:col) — with JUnit XML, exit 1 on any failure, and the
project's own tree untouched."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Appliance, Rest, clean_env, reliant_cmd

pytestmark = pytest.mark.e2e

FLOW = """name: check
description: Runs the project's check, then says how it went.
inputs:
  target: {type: string, default: ok}
outputs:
  code: "{{nodes.run_check.exit_code}}"
entry: run_check
nodes:
  - {id: run_check, type: run, command: "sh check.sh {{inputs.target}}"}
  - id: report
    type: agent
    prompt: "The check said: {{nodes.run_check.stdout}}"
edges:
  - {from: run_check, default: report}
"""
CHECK = 'echo "checked $1" > result.txt; test "$1" = ok\n'
PASSING = """name: the check passes
workflow: check
models:
  report:
    turns:
      - text: The check passed.
expect:
  outputs: {code: 0}
  path: [run_check, report]
  nodes:
    run_check: {exit_code: 0, stdout: ""}
  text: The check passed.
  files:
    result.txt: "checked ok\\n"
"""
WRONG = """name: every expectation is wrong
workflow: check
inputs: {target: bad}
models:
  report: {turns: [{text: It failed.}]}
expect:
  status: failed
  outputs: {code: 0}
  path: [report]
  nodes:
    run_check: {exit_code: 0}
  text: {contains: passed}
  files:
    result.txt: {contains: "checked ok"}
    missing.txt: {exists: true}
"""


def reliant(*args: str, cwd: Path, tmp: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`reliant ARGS` without a terminal; its temporary files under `tmp` (TMPDIR) when given."""
    return subprocess.run(
        reliant_cmd(*args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(**({"TMPDIR": str(tmp)} if tmp is not None else {})),
        stdin=subprocess.DEVNULL,
    )


def test_the_builtin_workflows_pass_their_own_scenarios_on_a_temporary_reliant(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "builtins.xml"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = reliant("test", "--builtins", "--junit", str(report), cwd=tmp_path, tmp=scratch)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "6 scenarios: 6 passed, 0 failed"
    assert sorted(line.split(" (")[0] for line in lines[:-1]) == [
        "PASS agent answers with a tool call",
        "PASS best-of-n merges the judge's pick",
        "PASS plan-then-build builds the revised plan",
        "PASS review approves the second round",
        "PASS review with a sub-agent reviewer approves the first round",
        "PASS tdd goes green in one round",
    ]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.attrib["tests"], suite.attrib["failures"]) == ("6", "0")
    tdd = next(c for c in suite.findall("testcase") if c.attrib["classname"] == "reliant.tdd")
    assert "✓ fix[0]/check · run · done" in (tdd.findtext("system-out") or "")
    assert not list(scratch.iterdir()), "the copies are gone"
    engine = Path(done.stderr.split("starting a temporary reliant for the scenarios in ", 1)[1].split("…", 1)[0])
    assert engine.name.startswith("reliant-engine-") and not engine.exists(), "and so is the temporary reliant"


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("reliant-test") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


def test_a_projects_scenarios_run_against_a_running_reliant_and_name_every_failure(
    appliance: Appliance, tmp_path: Path
) -> None:
    project = tmp_path / "proj"
    (project / ".reliant" / "workflows").mkdir(parents=True)
    (project / ".reliant" / "tests").mkdir()
    (project / ".reliant" / "workflows" / "check.yaml").write_text(FLOW)
    (project / "check.sh").write_text(CHECK)
    (project / ".reliant" / "tests" / "a-passes.yaml").write_text(PASSING)
    (project / ".reliant" / "tests" / "b-wrong.yaml").write_text(WRONG)
    (project / ".reliant" / "tests" / "c-invalid.yaml").write_text("workflow: check\nmode: yolo\n")
    before = sorted(str(p.relative_to(project)) for p in project.rglob("*"))
    report = tmp_path / "junit.xml"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = ("--api-url", appliance.url, "--token", appliance.token, "--junit", str(report))
    done = reliant("test", *args, cwd=project, tmp=scratch)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert f"FAIL {project}/.reliant/tests/c-invalid.yaml:2:1: mode: 'yolo' is not one of" in out
    assert "PASS the check passes (check, " in out
    wrong = out.split("FAIL every expectation is wrong", 1)[1].split("\n3 scenarios", 1)[0]
    failures = [line.strip().removeprefix("✗ ") for line in wrong.splitlines() if line.strip().startswith("✗")]
    assert failures == [
        "status: expected failed, got done",
        "outputs.code: expected 0, got 1",
        "path: expected ['report'], got ['run_check', 'report']",
        "nodes.run_check.exit_code: expected 0, got 1",
        'text: expected it to contain "passed", got "It failed."',
        'files.result.txt: expected it to contain "checked ok", got "checked bad\\n"',
        "files.missing.txt: it does not exist",
    ]
    assert f"the project's copy is kept: {scratch}/reliant-test-" in wrong
    assert out.rstrip().endswith("3 scenarios: 1 passed, 2 failed")
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == before, "the project is untouched"
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == (
        "3",
        "1",
        "1",
    )
    registered = [p["path"] for p in Rest(appliance.url, appliance.token).call("GET", "/api/projects")]
    assert not [p for p in registered if "reliant-test-" in p], "the copies' projects are forgotten"


def test_no_scenarios_is_a_failure_and_the_schema_is_printed(tmp_path: Path) -> None:
    none = reliant("test", cwd=tmp_path)
    assert none.returncode == 1 and "no scenarios in" in none.stderr
    schema = reliant("test", "--schema", cwd=tmp_path)
    assert schema.returncode == 0 and '"title": "reliant test scenario"' in schema.stdout


def test_a_junit_path_that_cannot_be_written_is_one_line_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The invalid scenario needs no engine: its report is what cannot be written."""
    (tmp_path / "bad.yaml").write_text("workflow: 5\n")
    taken = tmp_path / "reports"
    taken.mkdir()
    under_a_file = tmp_path / "bad.yaml" / "junit.xml"
    for target, reason in ((taken, "Is a directory"), (under_a_file, "File exists")):
        done = reliant("test", "bad.yaml", "--junit", str(target), cwd=tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "FAIL bad.yaml:1:1: workflow" in done.stdout, "the results are reported before the file is written"
        assert done.stderr.splitlines() == [f"error: cannot write the JUnit XML to {target}: {reason}"], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "reports"]
