"""The scenario format of `reliant test`: a YAML file under `<project>/.reliant/tests/`, checked
against its JSON Schema (scenario.schema.json, printed by `reliant test --schema`), every problem
reported as `file:line:col: message`.

```yaml
name: tdd goes green in one round        # optional: the file's name
workflow: tdd                            # a built-in or one of the project's workflows
inputs: {task: "is_leap(year)", test_command: "python3 check.py", max_rounds: 2}
files:                                   # written into the project's copy before the run
  check.py: "import leap; assert leap.is_leap(2024)"
git: false                               # true: the copy becomes a git repository (one commit)
models:                                  # scripted models: by node id, preset:<name>, <node>[i], or default
  write_test: scripts/write-test.yaml    # a script file (relative to this file) ...
  implement:                             # ... or one written inline
    turns:
      - tools: [{name: write, input: {path: leap.py, content: "def is_leap(y): ..."}}]
      - text: Done.
answers:                                 # approval nodes: a choice, {choice, note}, or a list
  approve: {choice: build, note: keep it small}
expect:
  status: done                           # done | failed | cancelled | paused
  outputs: {passed: true}
  path: [write_test, red, fix/implement, fix/check, fix, green]
  nodes: {red: {exit_code: 1}, fix/check: {exit_code: 0}}
  text: {contains: The tests pass}       # the last assistant message
  files: {leap.py: {contains: "% 4"}, junk.txt: {exists: false}}
  worktrees: 0                           # git worktrees left under .reliant/worktrees/
```

`<node>[i]` scripts the i-th run (from 0) of a `workflow` node with `count`/`worktree`: the run's
agent works with that model (best-of-n's `solve[0]`, `solve[1]`, ...).

A value to expect is compared for equality, or tested with one of `{equals: v}`, `{contains: text}`,
`{matches: regex}` or `{exists: bool}`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SCHEMA = resources.files("reliant.cli") / "scenario.schema.json"
TESTS_DIR = Path(".reliant") / "tests"
DEFAULT_TIMEOUT = 120.0
MATCHER_KEYS = frozenset({"equals", "contains", "matches", "exists"})


@functools.cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


@dataclass(frozen=True, slots=True)
class ScenarioProblem:
    source: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.message}"


class InvalidScenario(Exception):
    def __init__(self, problems: list[ScenarioProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class Answer:
    choice: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    name: str
    workflow: str
    project: Path | None  # None: an empty directory
    message: str = ""
    description: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    mode: str = ""
    files: dict[str, str] = field(default_factory=dict)
    git: bool = False  # the copy becomes a git repository with one commit of its files
    models: dict[str, Any] = field(default_factory=dict)  # key -> a script file (Path) or an inline script
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    tools: str = "approve"
    timeout: float = DEFAULT_TIMEOUT
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """A name for files and reports: the file's stem."""
        return self.path.stem


def project_of(path: Path) -> Path | None:
    """The project a scenario file belongs to by where it is: `<project>/.reliant/tests/<file>`."""
    folder = path.resolve().parent
    if folder.name == TESTS_DIR.name and folder.parent.name == TESTS_DIR.parent.name:
        return folder.parent.parent
    return None


def find(paths: list[Path]) -> list[Path]:
    """Scenario files: files as given, and `*.yaml` of a tests folder or of a project's
    `.reliant/tests/` (a directory given)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            folder = path / TESTS_DIR if (path / TESTS_DIR).is_dir() else path
            found.extend(sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def load(path: Path) -> Scenario:
    """The scenario in `path` (InvalidScenario with every problem when it has any)."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidScenario([ScenarioProblem(source, 1, 1, f"cannot read: {why}")]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise InvalidScenario([ScenarioProblem(source, line, column, f"YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise InvalidScenario([ScenarioProblem(source, 1, 1, f"YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise InvalidScenario([ScenarioProblem(source, 1, 1, "a scenario is a mapping with at least `workflow`")])
    problems = _schema_problems(data, root, source)
    problems += _meaning_problems(data, root, source, path)
    if problems:
        raise InvalidScenario(sorted(problems, key=lambda p: (p.line, p.column)))
    return _scenario(path, data)


def _schema_problems(data: dict[str, Any], root: yaml.Node | None, source: str) -> list[ScenarioProblem]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for error in validator.iter_errors(data):
        where = list(error.absolute_path)
        line, column = _position(root, where)
        shown = ".".join(str(p) for p in where) or "the scenario"
        problems.append(ScenarioProblem(source, line, column, f"{shown}: {_message(error)}"))
    return problems


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return str(error.message).replace("Additional properties are not allowed", "unknown field")
    if error.validator == "oneOf" and error.schema.get("description", "").startswith("A value that must be equal"):
        return "a test is one of {equals: v}, {contains: text}, {matches: regex}, {exists: true|false}"
    if error.validator == "oneOf":
        return "not one of the forms this field takes (see `reliant test --schema`)"
    return str(error.message)


def _meaning_problems(data: dict[str, Any], root: yaml.Node | None, source: str, path: Path) -> list[ScenarioProblem]:
    """What the schema cannot say: script files exist, regexes compile, file paths stay in the project."""
    problems = []

    def problem(where: list[Any], message: str) -> None:
        line, column = _position(root, where)
        problems.append(ScenarioProblem(source, line, column, f"{'.'.join(map(str, where))}: {message}"))

    models = data.get("models")
    for key, script in (models or {}).items() if isinstance(models, dict) else ():
        if isinstance(script, str) and not (path.parent / script).is_file():
            problem(["models", key], f"no script file {script} (next to {path.name})")
    files = data.get("files")
    for name in (files or {}) if isinstance(files, dict) else ():
        if not _inside(str(name)):
            problem(["files", name], "must be a relative path inside the project")
    expect = data.get("expect")
    expected_files = expect.get("files") if isinstance(expect, dict) else None
    for name in (expected_files or {}) if isinstance(expected_files, dict) else ():
        if not _inside(str(name)):
            problem(["expect", "files", name], "must be a relative path inside the project")
    for where, value in _matchers(expect if isinstance(expect, dict) else {}, ["expect"]):
        if isinstance(value, dict) and isinstance(value.get("matches"), str):
            try:
                re.compile(value["matches"])
            except re.error as exc:
                problem(where, f"matches: not a regular expression: {exc}")
    project = data.get("project")
    if isinstance(project, str) and not (path.parent / project).is_dir():
        problem(["project"], f"no directory {project} (relative to {path.parent})")
    return problems


def _matchers(value: Any, where: list[Any]) -> list[tuple[list[Any], Any]]:
    out: list[tuple[list[Any], Any]] = []
    if isinstance(value, dict):
        if len(value) == 1 and set(value) <= MATCHER_KEYS:
            return [(where, value)]
        for key, item in value.items():
            out.extend(_matchers(item, [*where, key]))
    return out


def _inside(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts and "\0" not in name


def _position(root: yaml.Node | None, where: list[Any]) -> tuple[int, int]:
    """The line and column of the value at `where` in the YAML tree (as close as it gets)."""
    node = root
    found = (1, 1) if node is None else (node.start_mark.line + 1, node.start_mark.column + 1)
    for part in where:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = value
                    found = (key.start_mark.line + 1, key.start_mark.column + 1)
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            found = (child.start_mark.line + 1, child.start_mark.column + 1)
        if child is None:
            break
        node = child
    return found


def _answers(raw: Any) -> list[Answer]:
    items = raw if isinstance(raw, list) else [raw]
    return [Answer(i, "") if isinstance(i, str) else Answer(str(i["choice"]), str(i.get("note", ""))) for i in items]


def _scenario(path: Path, data: dict[str, Any]) -> Scenario:
    project = path.parent / data["project"] if "project" in data else project_of(path)
    models: dict[str, Any] = {}
    for key, script in (data.get("models") or {}).items():
        models[key] = (path.parent / script).resolve() if isinstance(script, str) else script
    return Scenario(
        path=path,
        name=data.get("name") or path.stem,
        workflow=data["workflow"],
        project=project.resolve() if project is not None else None,
        message=data.get("message", ""),
        description=data.get("description", ""),
        inputs=dict(data.get("inputs") or {}),
        mode=data.get("mode", ""),
        files=dict(data.get("files") or {}),
        git=bool(data.get("git", False)),
        models=models,
        answers={k: _answers(v) for k, v in (data.get("answers") or {}).items()},
        tools=data.get("tools", "approve"),
        timeout=float(data.get("timeout", DEFAULT_TIMEOUT)),
        expect=dict(data.get("expect") or {}),
    )


# -- expectations ------------------------------------------------------------------------------------


def is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and set(value) <= MATCHER_KEYS


def mismatch(expected: Any, actual: Any, *, present: bool = True) -> str:
    """Why `actual` does not meet `expected` ("" when it does); `present` False: there is no value."""
    if is_matcher(expected):
        (test, wanted), *_ = expected.items()
        if test == "exists":
            return "" if present == wanted else ("it does not exist" if wanted else "it exists")
        if not present:
            return "there is none"
        if test == "equals":
            return "" if _equal(wanted, actual) else f"expected {_shown(wanted)}, got {_shown(actual)}"
        text = actual if isinstance(actual, str) else json.dumps(actual)
        if test == "contains":
            return "" if wanted in text else f"expected it to contain {_shown(wanted)}, got {_shown(actual)}"
        return "" if re.search(wanted, text) else f"expected it to match /{wanted}/, got {_shown(actual)}"
    if not present:
        return f"expected {_shown(expected)}, there is none"
    return "" if _equal(expected, actual) else f"expected {_shown(expected)}, got {_shown(actual)}"


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _shown(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
