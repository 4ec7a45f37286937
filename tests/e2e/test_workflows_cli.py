"""Workflows from the terminal against `reliant up`: `reliant workflow list` (the built-ins, a
project's own files once trusted, which one is used when a file shadows a built-in), `reliant
workflow show` (inputs, the nodes as a tree, the source), and `--input key=value` typed by the
definition: a value of the wrong type, an unknown input or a missing one is refused with the input
and the type named, before anything runs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Appliance, Rest, clean_env, http_json, reliant_cmd

pytestmark = pytest.mark.e2e

MINE = """name: mine
description: Runs the checks.
inputs:
  target: {type: string, description: What to check}
  strict: {type: boolean, default: false}
entry: check
nodes:
  - {id: check, type: run, command: "make {{inputs.target}}"}
"""
SHADOW = "name: tdd\ndescription: Our own tdd.\nentry: only\nnodes:\n  - {id: only, type: run, command: pytest}\n"


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("workflows-cli") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


def run(up: Appliance, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*reliant_cmd(*args), "--data-dir", str(up.data_dir)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=up.env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def project(appliance: Appliance, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".reliant" / "workflows").mkdir(parents=True)
    (root / ".reliant" / "workflows" / "mine.yaml").write_text(MINE)
    (root / ".reliant" / "workflows" / "tdd.yaml").write_text(SHADOW)
    Rest(appliance.url, appliance.token).project(root)
    return root


def test_list_shows_the_builtins_and_a_trusted_projects_own_workflows(
    appliance: Appliance, project: Path, tmp_path: Path
) -> None:
    outside = run(appliance, tmp_path, "workflow", "list")
    assert outside.returncode == 0, outside.stderr
    names = [line.split()[0] for line in outside.stdout.splitlines() if line and not line.startswith((" ", "("))]
    assert names == ["agent", "best-of-n", "plan-then-build", "review", "review-changes", "solve", "tdd"]
    assert "inputs: task*, test_command, max_rounds" in outside.stdout
    assert "inputs: task*, n, test_command, models" in outside.stdout

    held = run(appliance, project, "workflow", "list")
    assert held.returncode == 0, held.stderr
    assert held.stdout.startswith(f"workflows of {project}:\n")
    assert "note: the project's own workflows and presets are not used" in held.stdout and "mine" not in held.stdout

    trusted = run(appliance, project, "trust", "--yes")
    assert trusted.returncode == 0, trusted.stderr
    listed = run(appliance, tmp_path, "workflow", "list", "--project", str(project))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "tdd              builtin  (shadowed by the project's file)" in lines
    assert f"tdd              {project}/.reliant/workflows/tdd.yaml  (shadows builtin/tdd.yaml)" in lines
    assert f"mine             {project}/.reliant/workflows/mine.yaml" in lines
    assert "note:" not in listed.stdout


def test_show_prints_the_inputs_the_nodes_as_a_tree_and_the_source(appliance: Appliance, tmp_path: Path) -> None:
    shown = run(appliance, tmp_path, "workflow", "show", "tdd")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert out.startswith("tdd  (builtin)\nWrite a failing test")
    assert "  task: string, required  What to build\n" in out
    assert "  max_rounds: integer, default 5  Implementation rounds before giving up\n" in out
    assert "  ├─ ▸ write_test · agent  (preset test-writer)" in out
    assert "  ├─ fix · loop  at most {{inputs.max_rounds}} times while" in out
    assert "  │  ├─ ▸ implement · agent  (preset implementer)" in out
    assert "  │  └─ check · run  {{inputs.test_command}}\n" in out
    assert "\n--- builtin/tdd.yaml\n# Test first" in out
    best = run(appliance, tmp_path, "workflow", "show", "best-of-n", "--no-source")
    assert best.returncode == 0, best.stderr
    assert "solve · workflow  runs solve {{inputs.n}} times side by side, each in a worktree of its own" in best.stdout
    assert "merge · worktree  merge the worktrees of {{nodes.solve.runs.filter(" in best.stdout
    short = run(appliance, tmp_path, "workflow", "show", "review", "--no-source")
    assert short.returncode == 0 and "---" not in short.stdout and "verdict · call_llm" in short.stdout
    unknown = run(appliance, tmp_path, "workflow", "show", "nope")
    assert unknown.returncode == 1 and "no workflow called 'nope'" in unknown.stderr


def test_show_of_a_broken_workflow_prints_the_problem_and_exits_1(appliance: Appliance, tmp_path: Path) -> None:
    """As `reliant workflow run` does: a script asking whether a workflow can run gets the answer."""
    root = tmp_path / "broken"
    (root / ".reliant" / "workflows").mkdir(parents=True)
    (root / ".reliant" / "workflows" / "broken.yaml").write_text("name: broken\nentry: [unclosed\n")
    Rest(appliance.url, appliance.token).project(root)
    trusted = run(appliance, root, "trust", "--yes")
    assert trusted.returncode == 0, trusted.stderr
    shown = run(appliance, root, "workflow", "show", "broken")
    assert "problem: " in shown.stdout and "broken.yaml:" in shown.stdout, shown.stdout + shown.stderr
    assert "--- " in shown.stdout  # the source is still shown, to find the problem in
    assert shown.returncode == 1, shown.stdout + shown.stderr
    ran = run(appliance, root, "workflow", "run", "broken", "go")
    assert ran.returncode == 1 and "workflow broken cannot run: " in ran.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--input", "task=x", "--input", "max_rounds=five"], "--input max_rounds=five: max_rounds is an integer"),
        (["--input", "task=x", "--input", "colour=red"], "workflow tdd has no input 'colour' (its inputs: task,"),
        (["--input", "taskx"], "--input takes key=value, not 'taskx'"),
        ([], "--input task=… is required by workflow tdd (What to build)"),
    ],
)
def test_inputs_are_typed_by_the_definition_and_refused_with_the_input_named(
    appliance: Appliance, tmp_path: Path, args: list[str], said: str
) -> None:
    done = run(appliance, tmp_path, "workflow", "run", "tdd", "--project", str(tmp_path), *args)
    assert done.returncode == 1, done.stdout
    assert said in done.stderr
    chats = Rest(appliance.url, appliance.token).call("GET", "/api/chats")
    assert not [c for c in chats if c["workflow"] == "tdd"]  # nothing ran


def test_chat_with_an_unknown_workflow_says_which_there_are(appliance: Appliance, tmp_path: Path) -> None:
    done = run(appliance, tmp_path, "chat", "--project", str(tmp_path), "--workflow", "nope", "go")
    assert done.returncode == 1
    assert "no workflow called 'nope'" in done.stderr and "plan-then-build" in done.stderr
    mixed = run(appliance, tmp_path, "chat", "--input", "a=b", "go")
    assert mixed.returncode == 1 and "--input needs --workflow" in mixed.stderr


GATED = """name: gated
inputs:
  greeting: {type: string, default: hello}
  times: {type: integer, default: 1}
outputs:
  wrote: "{{has(nodes.write) ? nodes.write.exit_code == 0 : false}}"
entry: ask
nodes:
  - {id: ask, type: approval, question: "Write the greeting?", choices: [write, skip]}
  - {id: write, type: run, command: "for i in $(seq {{inputs.times}}); do echo {{inputs.greeting}} >> out.txt; done"}
  - {id: done, type: save_message, role: assistant, content: "wrote {{inputs.times}} greeting(s): {{nodes.ask.note}}"}
edges:
  - from: ask
    cases: [{to: write, condition: "nodes.ask.choice == 'write'"}]
  - {from: write, default: done}
"""


@pytest.fixture
def gated(appliance: Appliance, tmp_path: Path) -> Path:
    root = tmp_path / "gated"
    (root / ".reliant" / "workflows").mkdir(parents=True)
    (root / ".reliant" / "workflows" / "gated.yaml").write_text(GATED)
    Rest(appliance.url, appliance.token).project(root)
    trusted = run(appliance, root, "trust", "--yes")
    assert trusted.returncode == 0, trusted.stderr
    return root


def test_a_run_streams_its_nodes_waits_at_its_approval_node_and_goes_on_once_chosen(
    appliance: Appliance, gated: Path
) -> None:
    waiting = run(appliance, gated, "workflow", "run", "gated", "--input", "times=2", "--wait-for-gate")
    assert waiting.returncode == 3, waiting.stdout + waiting.stderr
    chat_id = waiting.stderr.split("chat ", 1)[1].split(" ", 1)[0]
    assert f"on workflow gated in {gated}" in waiting.stderr
    assert "▶ workflow gated · " in waiting.stdout and "  ◦ ask · approval" in waiting.stdout
    hint = waiting.stderr.split("the workflow asks: Write the greeting? [write | skip]: ", 1)[1].splitlines()[0]
    approval_id = hint.split()[3]
    assert hint == f"reliant approvals choose {approval_id} CHOICE [-m NOTE]"

    listed = run(appliance, gated, "approvals")
    assert f"approval {approval_id}  chat {chat_id}" in listed.stdout
    assert "  ? Write the greeting?  [write | skip]  (workflow node ask)" in listed.stdout
    # Approved or denied as if it gated a tool call: the api says what it takes in any client's
    # words, and the CLI names its own command.
    status, doc = http_json(
        "POST",
        f"{appliance.url}/reliant.v1.ApprovalService/Approve",
        token=appliance.token,
        body={"approvalId": approval_id},
    )
    assert (status, doc["code"]) == (400, "invalid_argument"), doc
    assert doc["message"].endswith("it is a choice: answer with one of write, skip"), doc
    for verb in ("approve", "deny"):
        refused = run(appliance, gated, "approvals", verb, approval_id)
        assert refused.returncode == 1, refused.stdout
        assert f"answer it with `reliant approvals choose {approval_id} CHOICE`" in refused.stderr, refused.stderr
        assert "CHOICE one of write, skip" in refused.stderr and "Choose" not in refused.stderr
    wrong = run(appliance, gated, "approvals", "choose", approval_id, "maybe")
    assert wrong.returncode == 1 and "choice: 'maybe' is not one of write, skip" in wrong.stderr
    chose = run(appliance, gated, "approvals", "choose", approval_id, "write", "-m", "as asked")
    assert chose.returncode == 0 and chose.stdout == "chose write\n"

    followed = run(appliance, gated, "chat", "--chat", chat_id)
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert (gated / "out.txt").read_text() == "hello\nhello\n"
    transcript = Rest(appliance.url, appliance.token).messages(chat_id)
    assert transcript[-1]["blocks"][0]["text"] == "wrote 2 greeting(s): as asked"
    runs = Rest(appliance.url, appliance.token).call("GET", f"/api/chats/{chat_id}/runs")["runs"]
    assert [(r["workflow"], r["status"], r["outputs"]) for r in runs] == [("gated", "done", {"wrote": True})]
    states = {s["path"]: s for s in runs[0]["states"]}
    assert states["ask"]["outputs"] == {"choice": "write", "note": "as asked"}
    assert states["write"]["outputs"]["exit_code"] == 0


def test_in_a_terminal_the_approval_node_is_asked_there(appliance: Appliance, gated: Path) -> None:
    from tests.e2e.test_projects_cli import Terminal

    term = Terminal(appliance, gated, "chat", "--workflow", "gated", "--input", "greeting=hi", "say hi")
    term.expect("? Write the greeting?")
    term.expect("  2. skip")
    term.type("maybe")
    term.expect("one of: write, skip (or its number)")
    term.type("2")
    term.expect("a note for the workflow (optional)")
    term.type("not today")
    assert term.wait() == 0, term.seen
    assert "■ workflow done · wrote=false" in term.seen
    assert not (gated / "out.txt").exists()
