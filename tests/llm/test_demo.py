"""The built-in demo: the script is valid and really fixes the shipped demo project."""

from __future__ import annotations

import asyncio
import fnmatch
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition
from reliant.llm import DEMO_MODEL, Providers, copy_demo_project, demo_project_dir
from reliant.llm.base import LlmRequest
from reliant.llm.demo import make_demo_repository
from reliant.llm.script import SCRIPTS_DIR, load_script
from tests.llm.conftest import Events

REPO = Path(__file__).resolve().parents[2]
PYTHON = shutil.which("python3") or sys.executable  # what the demo's shell command runs
# The tools the daemon offers, with their required inputs.
DAEMON_TOOLS = {
    "view": {"path"},
    "write": {"path", "content"},
    "edit": {"path", "old_string", "new_string"},
    "glob": {"pattern"},
    "grep": {"pattern"},
    "shell": {"command"},
}
OPTIONAL = {
    "view": {"offset", "limit"},
    "edit": {"replace_all"},
    "glob": {"path"},
    "grep": {"path", "glob"},
    "shell": {"timeout"},
}


async def run_tests(project: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        PYTHON, "test_leapyear.py", cwd=project, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def test_the_demo_plays_view_view_shell_edit_shell_then_answers() -> None:
    script = load_script("demo")
    main_line = script.turns[: next(i for i, t in enumerate(script.turns) if t.end) + 1]

    sequence = [[tool.name for tool in turn.tools] for turn in main_line]
    assert sequence == [["view"], ["view"], ["shell"], ["edit"], ["shell"], []]
    assert main_line[-1].text
    branches = script.turns[len(main_line) :]
    assert branches and all(t.end and t.name and not t.tools for t in branches), "branch targets end the demo"
    for turn in script.turns:
        for tool in turn.tools:
            keys = set(tool.input)
            assert DAEMON_TOOLS[tool.name] <= keys <= DAEMON_TOOLS[tool.name] | OPTIONAL.get(tool.name, set())
            if "path" in tool.input:
                assert (demo_project_dir() / tool.input["path"]).is_file()


async def test_the_demo_edit_fixes_the_shipped_project(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    [edit] = [tool for turn in load_script("demo").turns for tool in turn.tools if tool.name == "edit"]
    target = project / edit.input["path"]
    source = target.read_text()

    code, output = await run_tests(project)
    assert code != 0, output
    assert "FAILED" in output

    assert source.count(edit.input["old_string"]) == 1
    target.write_text(source.replace(edit.input["old_string"], edit.input["new_string"]))

    code, output = await run_tests(project)
    assert code == 0, output
    assert "OK" in output


async def play_demo(project: Path, *, deny: str = "") -> tuple[str, list[str], list[tuple[int, str]]]:
    """Drive the scripted demo the way the agent loop does, with a tiny local tool executor; a call
    of the tool named `deny` is refused as the user's denial would be. Returns the final answer, the
    tools that ran, and each test run's (exit code, output)."""
    providers = Providers()
    provider, model = providers.get(DEMO_MODEL)
    tools = tuple(ToolDefinition(name, name, {"type": "object"}) for name in DAEMON_TOOLS)
    messages = [Message(Role.USER, (ContentBlock.of_text("Fix the failing test"),))]
    shell_outputs: list[tuple[int, str]] = []
    ran: list[str] = []

    async def execute(name: str, args: dict[str, Any]) -> tuple[str, bool]:
        if name == deny:
            return "The user denied this tool call.", True
        ran.append(name)
        if name == "view":
            return (project / str(args["path"])).read_text(), False
        if name == "edit":
            path = project / args["path"]
            source = path.read_text()
            if source.count(args["old_string"]) != 1:
                return f"old_string not found in {args['path']}", True
            path.write_text(source.replace(args["old_string"], args["new_string"]))
            return "edited", False
        assert name == "shell" and args["command"] == "python3 test_leapyear.py"
        shell_outputs.append(await run_tests(project))
        code, output = shell_outputs[-1]
        return f"{output}\n[exit code {code}]", False

    try:
        for _ in range(10):
            response = await provider.stream(
                LlmRequest(model=model, system="", messages=tuple(messages), tools=tools), Events()
            )
            messages.append(Message(Role.ASSISTANT, response.blocks))
            calls = [b for b in response.blocks if b.type is BlockType.TOOL_CALL]
            if not calls:
                break
            results = [await execute(c.tool_name, c.tool_input) for c in calls]
            messages.append(
                Message(
                    Role.TOOL,
                    tuple(
                        ContentBlock(
                            BlockType.TOOL_RESULT,
                            tool_call_id=c.tool_call_id,
                            tool_name=c.tool_name,
                            text=text,
                            is_error=is_error,
                        )
                        for c, (text, is_error) in zip(calls, results, strict=True)
                    ),
                )
            )
        # A new message after the demo ended gets the closing words, not a leftover turn.
        messages.append(Message(Role.USER, (ContentBlock.of_text("Thanks!"),)))
        after = await provider.stream(
            LlmRequest(model=model, system="", messages=tuple(messages), tools=tools), Events()
        )
        assert "The demo is over" in after.blocks[-1].text and not any(b.tool_call_id for b in after.blocks)
    finally:
        await providers.close()
    assert response.stop_reason == "end_turn"
    ids = [b.tool_call_id for m in messages for b in m.blocks if b.type is BlockType.TOOL_CALL]
    assert len(ids) == len(set(ids))
    return response.blocks[-1].text, ran, shell_outputs


async def test_playing_the_whole_demo_with_real_tools_leaves_the_tests_passing(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    final, ran, shell_outputs = await play_demo(project)
    assert "All five tests pass" in final
    assert ran == ["view", "view", "shell", "edit", "shell"]
    assert [code == 0 for code, _ in shell_outputs] == [False, True]


async def test_a_second_run_on_the_fixed_project_says_the_tests_already_pass(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    await play_demo(project)
    final, ran, _ = await play_demo(project)
    assert "already pass" in final and "All five tests pass now" not in final
    assert ran == ["view", "view", "shell"]


async def test_a_denied_edit_is_reported_as_denied_and_nothing_is_claimed(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    final, ran, shell_outputs = await play_demo(project, deny="edit")
    assert final.startswith("You denied the edit") and "unchanged" in final
    assert ran == ["view", "view", "shell"] and len(shell_outputs) == 1
    code, _ = await run_tests(project)
    assert code != 0, "the bug is still there"


async def test_a_failed_edit_quotes_the_error(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    source = (project / "leapyear.py").read_text()
    # A copy whose tests fail for another reason: the edit's old_string is not there.
    (project / "leapyear.py").write_text(source.replace("year % 100 != 0", "year % 100 != 0  # centuries"))
    final, ran, _ = await play_demo(project)
    assert final.startswith("The edit did not go through: old_string not found in leapyear.py")
    assert ran == ["view", "view", "shell", "edit"]


async def test_denied_tests_stop_the_demo_before_any_change(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    final, ran, _ = await play_demo(project, deny="shell")
    assert final.startswith("I could not run the tests (The user denied this tool call.)")
    assert ran == ["view", "view"]


def test_the_demo_project_becomes_a_git_repository_with_the_bug_committed(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    assert make_demo_repository(project)
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True, check=True)
    assert log.stdout.strip() == "The leapyear demo: two tests fail"
    status = subprocess.run(["git", "status", "--short"], cwd=project, capture_output=True, text=True, check=True)
    assert status.stdout == "", "every file is committed"


def test_the_demo_project_and_scripts_are_package_data() -> None:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["reliant"]
    package = REPO / "reliant"
    shipped = [*demo_project_dir().iterdir(), *SCRIPTS_DIR.iterdir()]
    for path in shipped:
        if path.name == "__pycache__":
            continue
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
    assert {p.name for p in demo_project_dir().iterdir()} >= {"leapyear.py", "test_leapyear.py", "README.md"}


def test_copying_leaves_caches_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src"
    shutil.copytree(demo_project_dir(), source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "leapyear.cpython-311.pyc").write_bytes(b"")
    monkeypatch.setattr("reliant.llm.demo._DEMO_PROJECT", source)

    project = copy_demo_project(tmp_path / "copy")

    assert not (project / "__pycache__").exists()
    assert (project / "leapyear.py").read_text() == (source / "leapyear.py").read_text()
