"""`reliant test [PATH…]`: run a project's workflow scenarios (`.reliant/tests/*.yaml`, format in
scenario_format.py) against the real engine, with scripted models (zero tokens). Prints a line per
scenario and a summary, writes JUnit XML with --junit, exits 1 when any scenario fails (or none is
found). By default the engine is a temporary `reliant up` of its own (scenario_engine.py); with
--api-url, a running reliant. Every scenario works on a copy of its project."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reliant.cli.app import DataDirOpt, TokenOpt, api_target, app, fail

if TYPE_CHECKING:
    from reliant.cli.scenario_format import Scenario
    from reliant.cli.scenario_run import Outcome


def builtin_tests() -> Path:
    """The scenarios shipped with the built-in workflows (looked up when asked: the engine package's
    import is not free)."""
    return Path(str(resources.files("reliant.engine") / "builtin" / "tests"))


@app.command("test")
def test_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Scenario files, or directories (a project: its .reliant/tests/) [default: .]"),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write the results as JUnit XML here")] = None,
    builtins: Annotated[
        bool, typer.Option("--builtins", help="Run the scenarios shipped with the built-in workflows")
    ] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Keep every project copy (and its project registered)")] = False,
    print_schema: Annotated[bool, typer.Option("--schema", help="Print the scenario format's JSON Schema")] = False,
    data_dir: DataDirOpt = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="Run against this running reliant instead of a temporary one of its own"),
    ] = None,
    token: TokenOpt = None,
) -> None:
    """Run workflow scenarios against the real engine with scripted models (zero tokens); exit 1 if
    any fails. Each runs on a copy of its project: your files are never touched."""
    from reliant.cli import scenario_format, scenario_report

    if print_schema:
        typer.echo(json.dumps(scenario_format.schema(), indent=2))
        return
    given = list(paths or [])
    if builtins:
        given.append(builtin_tests())
    files = scenario_format.find(given or [Path.cwd()])
    if not files:
        fail(f"no scenarios in {', '.join(str(p) for p in given or [Path.cwd()])} (looked for .reliant/tests/*.yaml)")
    scenarios = []
    problems = []
    for file in files:
        try:
            scenarios.append(scenario_format.load(file))
        except scenario_format.InvalidScenario as exc:
            problems.extend(exc.problems)
    for problem in problems:
        scenario_report.invalid(problem, sys.stdout)
    outcomes = _run_all(scenarios, keep=keep, data_dir=data_dir, api_url=api_url, token=token) if scenarios else []
    scenario_report.summary(outcomes, len({p.source for p in problems}), sys.stdout)
    if junit is not None:
        try:
            scenario_report.junit(outcomes, problems, junit)
        except OSError as exc:
            fail(f"cannot write the JUnit XML to {junit}: {exc.strerror or exc}")
    failed = problems or any(not o.passed for o in outcomes)
    raise typer.Exit(1 if failed else 0)


def _run_all(
    scenarios: list[Scenario], *, keep: bool, data_dir: Path | None, api_url: str | None, token: str | None
) -> list[Outcome]:
    from reliant.cli import scenario_report
    from reliant.cli.conversation import Api
    from reliant.cli.scenario_engine import EngineError, TemporaryEngine
    from reliant.cli.scenario_run import ScenarioRun

    root = Path(tempfile.mkdtemp(prefix="reliant-test-"))
    work = root / "work"
    work.mkdir()
    outcomes: list[Outcome] = []
    engine: TemporaryEngine | None = None
    try:
        if api_url:
            url, secret = api_target(data_dir, api_url, token)
            api = Api(url, secret)
        else:
            engine = TemporaryEngine()
            sys.stderr.write(f"starting a temporary reliant for the scenarios in {engine.root}…\n")
            try:
                engine.start()
            except EngineError as exc:
                fail(f"the temporary reliant did not start: {exc}")
            api = Api(engine.url, engine.token)
        for scenario in scenarios:
            outcome = ScenarioRun(api, scenario, work, keep=keep).run()
            scenario_report.line(outcome, sys.stdout)
            sys.stdout.flush()
            outcomes.append(outcome)
    finally:
        if engine is not None:
            engine.stop()
            if not keep:
                shutil.rmtree(engine.root, ignore_errors=True)
        if not keep and not any(work.iterdir()):
            shutil.rmtree(root, ignore_errors=True)
    return outcomes
