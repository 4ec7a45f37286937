"""A chat whose agents run side by side, followed and shown in the terminal against `reliant up`:
best-of-n with two scripted agents that stream and call tools at the same time. The main view
(`reliant chat` live, `reliant show`) has the workflow's own thread and a line when each agent
starts and ends, none of the agents' text or tool calls; `reliant show --agent` has one agent's."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import Appliance, clean_env, reliant_cmd
from tests.support import committed_repo

pytestmark = pytest.mark.e2e

AGENTS = {"a": "hi", "b": "hello"}


def agent_script(folder: Path, name: str, greeting: str) -> str:
    """One agent: reads greet.py, writes its greeting, says it is done (its text streamed slowly,
    so the two agents' answers arrive interleaved)."""
    turns = [
        {
            "text": f"Agent {name} reads greet.py first.",
            "delay_ms": 20,
            "tools": [{"name": "view", "input": {"path": "greet.py"}}],
        },
        {
            "text": f"Agent {name} writes its greeting.",
            "delay_ms": 20,
            "tools": [
                {"name": "write", "input": {"path": "greet.py", "content": f"def greet():\n    return '{greeting}'\n"}}
            ],
        },
        {"text": f"Agent {name} is done: greet() returns {greeting}. " + "It is a small change. " * 10, "delay_ms": 5},
    ]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"turns": turns}))
    return f"scripted:{path}"


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("cli-agents") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


def cli(up: Appliance, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*reliant_cmd(*args), "--data-dir", str(up.data_dir)],
        capture_output=True,
        text=True,
        timeout=180,
        env=up.env,
        stdin=subprocess.DEVNULL,
    )


def assert_main_view(out: str) -> None:
    for name in AGENTS:
        for own in (f"Agent {name} reads greet.py", f"Agent {name} writes its greeting"):
            assert own not in out, f"an agent's {own!r} is in the main view:\n{out}"
    assert "● view greet.py" not in out and "● write greet.py" not in out, out
    for number, (name, greeting) in enumerate(AGENTS.items(), 1):
        assert re.search(rf"^▸ agent solve #{number} \([0-9a-f]{{8}}\) started: greet\(\) says hello$", out, re.M), out
        [ended] = re.findall(rf"^■ agent solve #{number} \([0-9a-f]{{8}}\) done · \$0\.0000 · .*$", out, re.M)
        assert f"Agent {name} is done: greet() returns {greeting}." in ended and len(ended) <= 160, ended
    assert "I pick b." in out


def test_the_main_view_shows_each_agent_as_lines_of_its_life_and_one_agents_view_its_transcript(
    appliance: Appliance, tmp_path: Path
) -> None:
    project = committed_repo((tmp_path / "greet").resolve(), {"greet.py": "def greet():\n    return ''\n"})
    scripts = project / ".scripts"
    scripts.mkdir()
    (project / ".git" / "info" / "exclude").write_text("/.scripts/\n")
    models = ",".join(agent_script(scripts, name, greeting) for name, greeting in AGENTS.items())
    judge = scripts / "judge.yaml"
    judge.write_text(
        yaml.safe_dump(
            {
                "turns": [
                    {"text": "I pick b.", "tools": [{"name": "respond", "input": {"winner": 2, "reason": "hello"}}]}
                ]
            }
        )
    )
    args = ["--project", str(project), "--workflow", "best-of-n", "--model", f"scripted:{judge}"]
    inputs = ["--input", "task=greet() says hello", "--input", "n=2", "--input", f"models={models}"]
    followed = cli(appliance, "chat", *args, *inputs, "go")
    assert followed.returncode == 0, followed.stderr
    assert_main_view(followed.stdout)
    assert followed.stderr.count("instructions in effect") <= 1, followed.stderr
    chat = re.search(r"^chat ([0-9a-f-]{36}) ", followed.stderr, re.M)
    assert chat is not None, followed.stderr

    shown = cli(appliance, "show", chat[1])
    assert shown.returncode == 0, shown.stderr
    assert_main_view(shown.stdout)

    b = re.search(r"^■ agent solve #2 \(([0-9a-f]{8})\)", shown.stdout, re.M)
    assert b is not None
    one = cli(appliance, "show", chat[1][:8], "--agent", b[1])
    assert one.returncode == 0, one.stderr
    assert one.stdout.count("Agent b reads greet.py first.") == 1, one.stdout
    assert "● write greet.py" in one.stdout and "Agent b is done" in one.stdout
    assert "Agent a" not in one.stdout and "I pick b." not in one.stdout, "only that agent's transcript"
    assert one.stdout.rstrip().endswith("agent solve #2 done")
