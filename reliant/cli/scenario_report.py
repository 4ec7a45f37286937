"""What `reliant test` reports: a line per scenario as it ends (with every failed expectation under
it), a summary, and JUnit XML for CI (`--junit FILE`): one testsuite, a testcase per scenario, its
failures and what happened in the run as the case's output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TextIO

from reliant.cli.scenario_format import ScenarioProblem
from reliant.cli.scenario_run import Outcome


def line(outcome: Outcome, out: TextIO) -> None:
    scenario = outcome.scenario
    mark = "PASS" if outcome.passed else "FAIL"
    out.write(f"{mark} {scenario.name} ({scenario.workflow}, {scenario.path}) {outcome.seconds:.1f}s\n")
    for failure in outcome.failures:
        out.write(f"  ✗ {failure}\n")
    if not outcome.passed and outcome.copy is not None and outcome.copy.exists():
        out.write(f"  the project's copy is kept: {outcome.copy}\n")


def invalid(problem: ScenarioProblem, out: TextIO) -> None:
    out.write(f"FAIL {problem}\n")


def summary(outcomes: list[Outcome], invalid_files: int, out: TextIO) -> None:
    passed = sum(1 for o in outcomes if o.passed)
    failed = len(outcomes) - passed + invalid_files
    total = len(outcomes) + invalid_files
    out.write(f"{total} scenario{'s' if total != 1 else ''}: {passed} passed, {failed} failed\n")


def junit(outcomes: list[Outcome], problems: list[ScenarioProblem], path: Path) -> None:
    """Write the results as JUnit XML (written whole: a temporary file renamed into place; OSError
    when it cannot be, with no temporary file left)."""
    failures = sum(1 for o in outcomes if not o.passed)
    seconds = sum(o.seconds for o in outcomes)
    suite = ET.Element(
        "testsuite",
        name="reliant test",
        tests=str(len(outcomes) + len(problems)),
        failures=str(failures),
        errors=str(len(problems)),
        time=f"{seconds:.3f}",
    )
    for outcome in outcomes:
        scenario = outcome.scenario
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"reliant.{scenario.workflow}",
            name=scenario.name,
            time=f"{outcome.seconds:.3f}",
        )
        case.set("file", str(scenario.path))
        if outcome.failures:
            failure = ET.SubElement(case, "failure", message=outcome.failures[0], type="expectation")
            failure.text = "\n".join(outcome.failures)
        if outcome.log:
            ET.SubElement(case, "system-out").text = "\n".join(outcome.log)
    for problem in problems:
        case = ET.SubElement(suite, "testcase", classname="reliant.scenario", name=Path(problem.source).name, time="0")
        case.set("file", problem.source)
        error = ET.SubElement(case, "error", message=str(problem), type="invalid scenario")
        error.text = str(problem)
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        tree.write(temporary, encoding="utf-8", xml_declaration=True)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
