"""`reliant workflow schema` and `reliant workflow validate`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def reliant(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reliant", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_schema_prints_the_json_schema() -> None:
    done = reliant("workflow", "schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema["title"] == "reliant workflow" and "loop" in schema["$defs"]


def test_validate_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nentry: a\nnodes: [{id: a, type: workflow, workflow: tdd, inputs: {task: x}}]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nentry: a\nnodes:\n  - {id: a, type: run, comand: ls}\n  - {id: b, type: agent, preset: nobody}\n"
    )
    done = reliant("workflow", "validate", str(good), str(bad), str(tmp_path / "missing.yaml"))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory",
        f"{bad}:4:5: node `a` (run): `command` is required",
        f"{bad}:4:24: node `a` (run): unknown field `comand` (did you mean `command`?)",
        f"{bad}:5:5: node `b` is never reached: it is not an entry and no edge leads to it",
        f"{bad}:5:5: node `b`: unknown preset `nobody`; the presets are implementer, planner, reviewer, test-writer",
    ]
    ok = reliant("workflow", "validate", str(good))
    assert (ok.returncode, ok.stdout) == (0, "1 file valid\n")


def test_validate_knows_the_project_workflows_and_presets(tmp_path: Path) -> None:
    workflows = tmp_path / ".reliant" / "workflows"
    presets = tmp_path / ".reliant" / "presets"
    workflows.mkdir(parents=True)
    presets.mkdir()
    (presets / "terse.yaml").write_text("system: Be terse.\ntemperature: 0\n")
    (workflows / "helper.yaml").write_text(
        "name: helper\ninputs: {goal: {type: string}}\nentry: a\nnodes: [{id: a, type: agent, preset: terse}]\n"
    )
    main = workflows / "main.yaml"
    main.write_text("name: main\nentry: h\nnodes: [{id: h, type: workflow, workflow: helper, inputs: {goal: x}}]\n")
    done = reliant("workflow", "validate", str(main), str(presets / "terse.yaml"))
    assert (done.returncode, done.stdout) == (0, "2 files valid\n"), done.stdout + done.stderr
    (workflows / "helper.yaml").write_text("name: helper\nentry: a\nnodes: [{id: a, type: workflow, workflow: main}]\n")
    done = reliant("workflow", "validate", str(main))
    assert done.returncode == 1
    assert "node `h`: workflow `main` calls itself (main → helper → main)" in done.stdout
    assert "node `h`: workflow `helper` has no input `goal`" in done.stdout


def test_help_does_not_import_the_expression_library() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; from reliant.cli import app;"
        "r = CliRunner().invoke(app, ['workflow', '--help']); assert r.exit_code == 0, r.output;"
        "print('cel' in sys.modules, 'reliant.engine' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


def test_the_readme_example_is_a_valid_workflow(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Workflows", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.yaml").write_text(example)
    done = reliant("workflow", "validate", str(tmp_path / "example.yaml"))
    assert (done.returncode, done.stdout) == (0, "1 file valid\n"), done.stdout
