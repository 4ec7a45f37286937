"""The built-in demo: the script is valid and really fixes the shipped demo project."""

from __future__ import annotations

import asyncio
import fnmatch
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition
from reliant.llm import DEMO_MODEL, Providers, copy_demo_project, demo_project_dir
from reliant.llm.base import LlmRequest
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

    sequence = [[tool.name for tool in turn.tools] for turn in script.turns]
    assert sequence == [["view"], ["view"], ["shell"], ["edit"], ["shell"], []]
    assert script.turns[-1].text
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


async def test_playing_the_whole_demo_with_real_tools_leaves_the_tests_passing(tmp_path: Path) -> None:
    """Drive the scripted model the way the agent loop does, with a tiny local tool executor."""
    project = copy_demo_project(tmp_path / "demo")
    providers = Providers()
    provider, model = providers.get(DEMO_MODEL)
    tools = tuple(ToolDefinition(name, name, {"type": "object"}) for name in DAEMON_TOOLS)
    messages = [Message(Role.USER, (ContentBlock.of_text("Fix the failing test"),))]
    shell_outputs: list[tuple[int, str]] = []

    async def execute(name: str, args: dict[str, Any]) -> str:
        if name == "view":
            return (project / str(args["path"])).read_text()
        if name == "edit":
            path = project / args["path"]
            source = path.read_text()
            assert source.count(args["old_string"]) == 1
            path.write_text(source.replace(args["old_string"], args["new_string"]))
            return "edited"
        assert name == "shell" and args["command"] == "python3 test_leapyear.py"
        shell_outputs.append(await run_tests(project))
        return shell_outputs[-1][1]

    try:
        for _ in range(10):
            response = await provider.stream(
                LlmRequest(model=model, system="", messages=tuple(messages), tools=tools), Events()
            )
            messages.append(Message(Role.ASSISTANT, response.blocks))
            calls = [b for b in response.blocks if b.type is BlockType.TOOL_CALL]
            if not calls:
                break
            outputs = [await execute(c.tool_name, c.tool_input) for c in calls]
            messages.append(
                Message(
                    Role.TOOL,
                    tuple(
                        ContentBlock(BlockType.TOOL_RESULT, tool_call_id=c.tool_call_id, tool_name=c.tool_name, text=o)
                        for c, o in zip(calls, outputs, strict=True)
                    ),
                )
            )
    finally:
        await providers.close()

    assert response.stop_reason == "end_turn"
    assert "pass" in response.blocks[-1].text
    assert [code == 0 for code, _ in shell_outputs] == [False, True]
    ids = [b.tool_call_id for m in messages for b in m.blocks if b.type is BlockType.TOOL_CALL]
    assert len(ids) == len(set(ids)) == 5


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
