"""The built-in demo: the script is valid and really fixes the shipped demo project."""

from __future__ import annotations

import asyncio
import fnmatch
import shutil
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, ToolDefinition
from reliant.llm import DEMO_MODEL, Providers, copy_demo_project, demo_project_dir
from reliant.llm.base import LlmRequest, LlmResponse, Provider
from reliant.llm.demo import DEMO_WORKFLOW, demo_model, is_demo_model, make_demo_repository
from reliant.llm.script import SCRIPTS_DIR, Script, ScriptedToolCall, load_script
from reliant.workflow_library import builtin_workflows
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
READ_ONLY = {"view", "glob", "grep"}


async def run_tests(project: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        PYTHON, "test_leapyear.py", cwd=project, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


def check_tool_calls(script: Script) -> None:
    """Every call of the script is a daemon tool's with its inputs, on a file of the demo project."""
    for turn in script.turns:
        for tool in turn.tools:
            keys = set(tool.input)
            assert DAEMON_TOOLS[tool.name] <= keys <= DAEMON_TOOLS[tool.name] | OPTIONAL.get(tool.name, set())
            if "path" in tool.input:
                assert (demo_project_dir() / tool.input["path"]).is_file()


def test_the_demo_plays_view_view_shell_edit_shell_then_answers() -> None:
    script = load_script("demo")
    main_line = script.turns[: next(i for i, t in enumerate(script.turns) if t.end) + 1]

    sequence = [[tool.name for tool in turn.tools] for turn in main_line]
    assert sequence == [["view"], ["view"], ["shell"], ["edit"], ["shell"], []]
    assert main_line[-1].text
    branches = script.turns[len(main_line) :]
    assert branches and all(t.end and t.name and not t.tools for t in branches), "branch targets end the demo"
    check_tool_calls(script)


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


class LocalTools:
    """A tiny local tool executor for the demo's calls; a call of the tool named `deny` is refused as
    the user's denial would be, and so is every mutating call in plan mode. Records the tools that
    ran and each test run's (exit code, output)."""

    def __init__(self, project: Path, *, deny: str = "") -> None:
        self.project = project
        self.deny = deny
        self.ran: list[str] = []
        self.shell_outputs: list[tuple[int, str]] = []

    async def __call__(self, name: str, args: dict[str, Any], mode: str) -> tuple[str, bool]:
        if name == self.deny:
            return "The user denied this tool call.", True
        if mode == "plan" and name not in READ_ONLY:
            return "Plan mode: changes are not allowed; this tool call was denied.", True
        self.ran.append(name)
        project = self.project
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
        self.shell_outputs.append(await run_tests(project))
        code, output = self.shell_outputs[-1]
        return f"{output}\n[exit code {code}]", False


async def run_agent(
    provider: Provider, model: str, messages: list[Message], tools: LocalTools, mode: str = "auto"
) -> LlmResponse:
    """The agent loop: call the model and run its tools until it answers without any."""
    offered = tuple(
        ToolDefinition(name, name, {"type": "object"}, read_only=name in READ_ONLY)
        for name in DAEMON_TOOLS
        if mode != "plan" or name in READ_ONLY
    )
    for _ in range(10):
        response = await provider.stream(
            LlmRequest(model=model, system="", messages=tuple(messages), tools=offered), Events()
        )
        messages.append(Message(Role.ASSISTANT, response.blocks))
        calls = [b for b in response.blocks if b.type is BlockType.TOOL_CALL]
        if not calls:
            return response
        results = [await tools(c.tool_name, c.tool_input, mode) for c in calls]
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
    raise AssertionError("the script did not answer within 10 turns")


def user(text: str) -> Message:
    return Message(Role.USER, (ContentBlock.of_text(text),))


def text_of(response: LlmResponse) -> str:
    return "".join(b.text for b in response.blocks if b.type is BlockType.TEXT)


async def play_demo(project: Path, *, deny: str = "") -> tuple[str, list[str], list[tuple[int, str]]]:
    """Drive the scripted demo the way the agent loop does, with a tiny local tool executor; a call
    of the tool named `deny` is refused as the user's denial would be. Returns the final answer, the
    tools that ran, and each test run's (exit code, output)."""
    providers = Providers()
    provider, model = providers.get(DEMO_MODEL)
    tools = LocalTools(project, deny=deny)
    messages = [user("Fix the failing test")]
    try:
        response = await run_agent(provider, model, messages, tools)
        # A new message after the demo ended gets the closing words, not a leftover turn.
        messages.append(user("Thanks!"))
        after = await provider.stream(LlmRequest(model=model, system="", messages=tuple(messages)), Events())
        assert "The demo is over" in after.blocks[-1].text and not any(b.tool_call_id for b in after.blocks)
    finally:
        await providers.close()
    assert response.stop_reason == "end_turn"
    ids = [b.tool_call_id for m in messages for b in m.blocks if b.type is BlockType.TOOL_CALL]
    assert len(ids) == len(set(ids))
    return response.blocks[-1].text, tools.ran, tools.shell_outputs


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


# The prompts plan-then-build gives its nodes (reliant/engine/builtin/plan-then-build.yaml).
PLAN = "Write a plan for the request above."
REVISE = "Revise the plan. The user says: "
BUILD = "The plan is approved. Implement it now."
STOPPED = "Stopped without building. The plan above was not approved."


async def play_plan_then_build(
    project: Path, answers: list[str | tuple[str, str]], *, deny: str = "", messages: list[Message] | None = None
) -> tuple[list[str], LocalTools]:
    """Drive `scripted:demo` on plan-then-build the way the workflow does: the plan node (plan mode)
    with its prompt, the approval answered from `answers` (a choice, or a choice with a note), again
    while the answer is revise, then the build node or the stop message. Returns what each node
    answered, and the tools."""
    providers = Providers()
    provider, model = providers.get(demo_model(DEMO_MODEL, DEMO_WORKFLOW))
    tools = LocalTools(project, deny=deny)
    messages = messages if messages is not None else [user("Fix the failing test")]
    said: list[str] = []
    prompt = PLAN
    try:
        for answer in answers:
            choice, note = answer if isinstance(answer, tuple) else (answer, "")
            messages.append(user(prompt))
            said.append(text_of(await run_agent(provider, model, messages, tools, mode="plan")))
            if choice == "revise":
                prompt = REVISE + note
                continue
            if choice == "build":
                messages.append(user(BUILD + (f" Note from the user: {note}" if note else "")))
                said.append(text_of(await run_agent(provider, model, messages, tools)))
            else:
                messages.append(Message(Role.ASSISTANT, (ContentBlock.of_text(STOPPED),)))
            break
    finally:
        await providers.close()
    ids = [b.tool_call_id for m in messages for b in m.blocks if b.type is BlockType.TOOL_CALL]
    assert len(ids) == len(set(ids))
    return said, tools


def test_the_workflow_demo_answers_plan_then_builds_own_prompts_with_the_daemons_tools() -> None:
    script = load_script(demo_model(DEMO_MODEL, DEMO_WORKFLOW).removeprefix("scripted:"))
    [definition] = [w for w in builtin_workflows() if w.name == DEMO_WORKFLOW]
    for prompt in (PLAN, REVISE, BUILD, STOPPED):
        assert prompt in definition.text
    asked = {b.when.prompt for turn in script.turns for b in turn.branches if b.when.prompt}
    assert asked == {"Write a plan", "Revise the plan", "The plan is approved"}
    assert all(any(p in prompt for prompt in (PLAN, REVISE, BUILD)) for p in asked)
    check_tool_calls(script)
    [edit] = [tool for turn in script.turns for tool in turn.tools if tool.name == "edit"]
    [plain] = [tool for turn in load_script("demo").turns for tool in turn.tools if tool.name == "edit"]
    assert edit == plain, "the workflow makes the fix the plain demo makes (test_the_demo_edit_fixes_...)"


def test_the_demo_model_plays_a_workflows_own_demo_script_where_there_is_one() -> None:
    assert demo_model(DEMO_MODEL, DEMO_WORKFLOW) == "scripted:demo-plan-then-build"
    assert demo_model(DEMO_MODEL, "tdd") == "scripted:demo-tdd"
    assert demo_model(DEMO_MODEL, "agent") == DEMO_MODEL
    assert demo_model(DEMO_MODEL, "solve") == DEMO_MODEL, "the plain demo is solve's"
    assert demo_model("anthropic:claude-sonnet-4-6", DEMO_WORKFLOW) == "anthropic:claude-sonnet-4-6"


def test_the_demo_is_scripted_demo_or_a_shipped_demo_script() -> None:
    assert is_demo_model(DEMO_MODEL) and is_demo_model("scripted:demo-best-of-n")
    assert not is_demo_model("scripted:demo-nothing") and not is_demo_model("scripted:demo-/tmp/x.yaml")
    assert (
        not is_demo_model("scripted:/tmp/demo.yaml") and not is_demo_model("anthropic:demo") and not is_demo_model("")
    )


def response_schemas(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `response` schemas of a definition's nodes, loop bodies included."""
    found = []
    for node in nodes:
        if "response" in node:
            found.append(node["response"])
        found += response_schemas(node.get("body", {}).get("nodes", []))
    return found


@pytest.mark.parametrize("name", sorted(p.stem for p in SCRIPTS_DIR.glob("demo-*.yaml")))
def test_a_workflows_demo_script_calls_the_daemons_tools_and_answers_in_its_nodes_shape(name: str) -> None:
    """A workflow's demo script plays a built-in workflow; its `respond` calls fit a response schema
    of that workflow's nodes, and its other calls are the daemon's, on the demo project's files."""
    [definition] = [w for w in builtin_workflows() if w.name == name.removeprefix("demo-")]
    schemas = response_schemas(yaml.safe_load(definition.text)["nodes"])
    script = load_script(name)
    answers = [tool.input for turn in script.turns for tool in turn.tools if tool.name == "respond"]
    assert bool(answers) is bool(schemas), "a node that asks for a response gets one"
    for answer in answers:
        assert any(not list(Draft202012Validator(schema).iter_errors(answer)) for schema in schemas), answer
    check_tool_calls(replace(script, turns=tuple(replace(t, tools=without_respond(t.tools)) for t in script.turns)))


def without_respond(tools: tuple[ScriptedToolCall, ...]) -> tuple[ScriptedToolCall, ...]:
    return tuple(t for t in tools if t.name != "respond")


async def test_the_workflow_demo_plans_read_only_then_builds_the_fix_and_tests_it(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    said, tools = await play_plan_then_build(project, ["build"])

    plan, built = said
    assert "The plan:" in plan and "year % 400 == 0" in plan and "not run the tests" in plan
    assert built.startswith("Done as planned: all five tests pass now.")
    assert tools.ran == ["view", "view", "shell", "edit", "shell"]
    assert [code == 0 for code, _ in tools.shell_outputs] == [False, True]
    code, output = await run_tests(project)
    assert code == 0, output


async def test_a_revision_the_demo_cannot_make_is_said_and_the_plan_is_built_as_it_stands(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    said, tools = await play_plan_then_build(
        project, [("revise", "use calendar.isleap"), ("revise", "really"), "build"]
    )

    plan, revised, again, built = said
    assert "The plan:" in plan
    assert revised == again and "cannot rework it for your note" in revised
    assert built.startswith("Done as planned")
    assert tools.ran == ["view", "view", "shell", "edit", "shell"], "nothing was run while revising"


async def test_stopping_changes_nothing_and_a_new_message_plans_afresh(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    messages = [user("Fix the failing test")]
    said, tools = await play_plan_then_build(project, ["stop"], messages=messages)
    assert len(said) == 1 and tools.ran == ["view", "view"]
    code, _ = await run_tests(project)
    assert code != 0, "nothing changed"

    messages.append(user("Fix it after all"))  # the chat's next message runs the workflow again
    said, tools = await play_plan_then_build(project, ["build"], messages=messages)
    assert "The plan:" in said[0] and said[1].startswith("Done as planned")
    assert tools.ran == ["view", "view", "shell", "edit", "shell"]


async def test_on_a_project_already_fixed_the_plan_is_to_change_nothing(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    await play_plan_then_build(project, ["build"])

    said, tools = await play_plan_then_build(project, [("revise", "do it anyway"), "build"])
    plan, revised, built = said
    assert "already follows the full Gregorian rule" in plan and "The plan: change nothing" in plan
    assert "cannot rework it" in revised
    assert built.startswith("The tests already pass") and "changed nothing" in built
    assert tools.ran == ["view", "view", "shell"]


async def test_a_denied_edit_in_the_build_is_reported_and_nothing_is_claimed(tmp_path: Path) -> None:
    project = copy_demo_project(tmp_path / "demo")
    said, tools = await play_plan_then_build(project, ["build"], deny="edit")

    assert said[1].startswith("You denied the edit") and "unchanged" in said[1]
    assert tools.ran == ["view", "view", "shell"]
    code, _ = await run_tests(project)
    assert code != 0, "the bug is still there"
