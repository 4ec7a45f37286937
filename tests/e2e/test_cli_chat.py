"""`reliant chat` as a daily driver, against `reliant up` in a real terminal: every tool outcome with
its own look (never `ok exit 1`), markdown rendered, each result under its call, an end-of-turn
line; plain text in a pipe; and approval and question prompts that go away when answered
elsewhere."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reliant.cli.render import MARK
from tests.e2e.harness import Appliance, clean_env, reliant_cmd
from tests.e2e.terminal import Terminal
from tests.support import wait_until

pytestmark = pytest.mark.e2e

ANSWER = (
    "# Plan\n\nI will run **three** checks:\n\n- a failing test\n- a file outside\n\n"
    "| check | expect |\n|---|---|\n| tests | fail |\n\n```python\ndef check():\n    return 1\n```\n"
)


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("cli-chat") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


@pytest.fixture
def project(appliance: Appliance, tmp_path: Path) -> Path:
    path = (tmp_path / "project").resolve()
    path.mkdir()
    (path / "a.txt").write_text("alpha\n")
    (path / "b.txt").write_text("beta\n")
    (path / "notes.md").write_text("old line\n")
    assert appliance.cli("project", "add", str(path)).returncode == 0
    return path


def scripted(up: Appliance, turns: list[dict[str, object]], **extra: object) -> str:
    path = up.data_dir / f"script-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump({"turns": turns, **extra}))
    return f"scripted:{path}"


def shell(command: str, **more: object) -> dict[str, object]:
    return {"name": "shell", "input": {"command": command, **more}}


OUTCOMES = [
    {"text": ANSWER, "tools": [shell("echo FAILED test_one; exit 1")]},
    {"tools": [{"name": "view", "input": {"path": "/etc/hostname"}}]},
    {"tools": [shell("sleep 5", timeout=1)]},
    {
        "text": "Reading in parallel.",
        "tools": [
            {"name": "view", "input": {"path": "a.txt"}},
            {"name": "view", "input": {"path": "/etc/passwd"}},
            {"name": "view", "input": {"path": "b.txt"}},
        ],
    },
    {"tools": [{"name": "view", "input": {"path": "notes.md"}}]},
    {"tools": [{"name": "edit", "input": {"path": "notes.md", "old_string": "old line", "new_string": "new line"}}]},
    {"text": "All **done**.", "usage": {"input_tokens": 1200, "output_tokens": 34}},
]


def test_a_terminal_shows_each_outcome_its_own_way_and_renders_markdown(appliance: Appliance, project: Path) -> None:
    model = scripted(appliance, OUTCOMES)
    term = Terminal("chat", "--model", model, "check it", "--data-dir", str(appliance.data_dir), cwd=project)
    assert term.wait() == 0, term.text
    raw, text = term.seen, term.text
    lines = [line.rstrip() for line in text.splitlines()]

    # Outcomes: symbol, word and colour of their own.
    assert "ok exit" not in text
    for colour, shown in (
        ("31", "✗ exit 1"),  # red
        ("35", "⊘ refused"),  # magenta
        ("33", "◷ timed out"),  # yellow
        ("32", "✓ ok"),  # green
    ):
        assert re.search(rf"\x1b\[{colour}m{re.escape(shown)}", raw), (shown, raw)
    assert "    FAILED test_one" in lines, "a failing command shows its last lines"
    # Markdown: rendered, not shown as source.
    assert "Plan" in lines and "# Plan" not in text and "**" not in text and "```" not in text
    assert " • a failing test" in lines
    # The table drawn: no source pipes or `|---|` rule left; a drawn rule under the header, and the
    # cells in columns that line up.
    assert not any(re.fullmatch(r"\s*\|?\s*:?-{3,}.*\|.*", line) for line in lines), "the |---| rule is gone"
    [at] = [i for i, line in enumerate(lines) if "check" in line and "expect" in line]
    header, rule, row = lines[at : at + 3]
    assert "|" not in header + row, (header, row)
    assert re.fullmatch(r"\s*─{10,}", rule), (header, rule, row)
    assert (row.index("tests"), row.index("fail")) == (header.index("check"), header.index("expect")), (header, row)
    assert re.search(r"\x1b\[1mthree", raw), "bold"
    assert re.search(r"\x1b\[[0-9;]+mreturn", raw), "code is highlighted"
    # Parallel calls: each result right under its own call.
    for call, result in (("● view a.txt", "✓ ok"), ("● view /etc/passwd", "⊘ refused"), ("● view b.txt", "✓ ok")):
        under = [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == call]
        assert any(line.startswith(f"  └ {result}") for line in under), (call, under)
    # The edit as a coloured diff, in auto mode.
    assert re.search(r"\x1b\[31m\s+-old line", raw) and re.search(r"\x1b\[32m\s+\+new line", raw), raw
    # The end of the turn: tokens, cost, time.
    assert re.search(r"^─ [0-9.k]+ in · [0-9.k]+ out · \$\d+\.\d{4} · \d+\.\ds$", lines[-1]), lines[-3:]


def test_a_pipe_gets_plain_text_and_no_color_keeps_the_words(appliance: Appliance, project: Path) -> None:
    model = scripted(appliance, OUTCOMES)
    piped = subprocess.run(
        [*reliant_cmd("chat", "--model", model, "check it"), "--data-dir", str(appliance.data_dir)],
        cwd=project,
        capture_output=True,
        text=True,
        env=appliance.env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stdout + piped.stderr
    assert "\x1b" not in piped.stdout and "\x1b" not in piped.stderr
    assert ANSWER.rstrip("\n") in piped.stdout, "the markdown as the model wrote it"
    assert "  └ ✗ exit 1 (" in piped.stdout and "  └ ⊘ refused (" in piped.stdout
    assert "  └ ◷ timed out (" in piped.stdout and "ok exit" not in piped.stdout

    env = {**clean_env(), "NO_COLOR": "1"}
    term = Terminal("chat", "--model", model, "check it", "--data-dir", str(appliance.data_dir), cwd=project, env=env)
    assert term.wait() == 0, term.text
    assert "✗ exit 1" in term.text and " • a failing test" in term.text
    assert not colours(term.seen), "no colour with NO_COLOR"


def test_denied_and_cancelled_calls_have_their_own_look(appliance: Appliance, project: Path) -> None:
    planned = scripted(appliance, [{"tools": [shell("touch made")]}, {"text": "Planned."}])
    done = appliance.cli("chat", "--project", str(project), "--mode", "plan", "--model", planned, "plan it")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "● shell touch made\n  └ ⊗ denied: " in done.stdout and not (project / "made").exists()

    slow = scripted(appliance, [{"text": "Waiting.", "tools": [shell("sleep 60")]}, {"text": "never"}])
    follower = subprocess.Popen(
        [
            *reliant_cmd("chat", "--project", str(project), "--model", slow, "wait"),
            "--data-dir",
            str(appliance.data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=appliance.env,
    )
    listed = wait_until(lambda: _running_chat(appliance), timeout=60)
    stopped = appliance.cli("stop", listed[:6])
    assert stopped.returncode == 0 and f"stopped chat {listed[:8]}" in stopped.stdout, stopped.stderr
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, out + err
    assert "● shell sleep 60\n  └ ■ cancelled" in out, out
    assert "cancelled by the user" in err


def colours(raw: str) -> set[str]:
    """The colour parameters of the escape sequences in `raw` (foreground, background, 256, rgb)."""
    found = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", raw):
        for p in params.split(";"):
            if p.isdigit() and (30 <= int(p) <= 49 or 90 <= int(p) <= 107):
                found.add(p)
    return found


def _running_chat(appliance: Appliance) -> str:
    listed = appliance.cli("chats", "--json")
    running = [c for c in json.loads(listed.stdout) if c["status"] == "running"]
    tools = running and appliance.cli("show", running[0]["id"]).stdout
    return running[0]["id"] if tools and "● shell sleep 60" in tools else ""


def test_a_blank_message_is_refused_before_a_chat_is_made(appliance: Appliance, project: Path) -> None:
    """The api refuses a blank message too, but only once the new chat exists: an empty one was left."""
    before = appliance.cli("chats", "--json")
    assert before.returncode == 0, before.stderr
    done = subprocess.run(
        reliant_cmd("chat", "   ", "--data-dir", str(appliance.data_dir)),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env=appliance.env,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: say what you want done: reliant chat MESSAGE (or follow a chat with --chat ID)"
    ], done.stderr
    assert json.loads(appliance.cli("chats", "--json").stdout) == json.loads(before.stdout)


def test_an_approval_answered_elsewhere_leaves_the_prompt_and_the_turn_goes_on(
    appliance: Appliance, project: Path
) -> None:
    model = scripted(
        appliance,
        [
            {"text": "Writing it.", "tools": [shell("echo one >> out.txt")]},
            {"text": "Wrote it, and I am telling you so slowly.", "delay_ms": 150},
        ],
    )
    term = Terminal(
        "chat", "--mode", "manual", "--model", model, "write", "--data-dir", str(appliance.data_dir), cwd=project
    )
    term.expect("[y]es, [a]lways in this chat, [p]roject-wide, [n]o")
    approval = _pending(appliance)
    approved = appliance.cli("approvals", "approve", approval[:8])  # a prefix is enough
    assert approved.returncode == 0 and approved.stdout == "approved\n", approved.stderr
    term.expect("✓ approved elsewhere")
    term.press("y")  # too late: this key must do nothing
    term.expect("Wrote it, and I am telling you so slowly.")
    assert term.wait() == 0, term.text
    assert "not pending" not in term.text and "error" not in term.text
    assert (project / "out.txt").read_text() == "one\n"
    after = term.text.split("approved elsewhere", 1)[1]
    assert "[y]es" not in after and "\ny\n" not in after, "the prompt is gone and the key was not echoed"

    denied = Terminal(
        "chat", "--mode", "manual", "--model", model, "write", "--data-dir", str(appliance.data_dir), cwd=project
    )
    denied.expect("[y]es, [a]lways in this chat, [p]roject-wide, [n]o")
    assert appliance.cli("approvals", "deny", _pending(appliance)[:8], "-m", "not now").returncode == 0
    denied.expect("⊗ denied elsewhere")
    assert denied.wait() == 0, denied.text
    assert "● shell echo one >> out.txt\n  └ ⊗ denied: The user denied this tool call. Their message: not now" in (
        denied.text
    )
    assert (project / "out.txt").read_text() == "one\n"


def test_answering_here_still_works_and_a_question_answered_elsewhere_goes_away(
    appliance: Appliance, project: Path
) -> None:
    model = scripted(appliance, [{"tools": [shell("echo two >> mine.txt")]}, {"text": "Done here."}])
    term = Terminal(
        "chat", "--mode", "manual", "--model", model, "write", "--data-dir", str(appliance.data_dir), cwd=project
    )
    term.expect("[y]es, [a]lways in this chat, [p]roject-wide, [n]o")
    term.press("y")
    term.expect("Done here.")
    assert term.wait() == 0, term.text
    assert f"{MARK} yes" in term.text and "elsewhere" not in term.text
    assert (project / "mine.txt").read_text() == "two\n"

    questions = [{"question": "Which colour?", "choices": ["red", "blue"]}]
    asking = scripted(
        appliance, [{"tools": [{"name": "ask_user", "input": {"questions": questions}}]}, {"text": "Blue it is."}]
    )
    term = Terminal("chat", "--model", asking, "ask me", "--data-dir", str(appliance.data_dir), cwd=project)
    term.expect("? Which colour?")
    term.expect("2. blue")
    listed = appliance.cli("approvals").stdout
    question = re.search(r"question (\S+)", listed).group(1)  # type: ignore[union-attr]
    assert appliance.cli("answer", question, "blue").returncode == 0
    term.expect("→ answered elsewhere: blue")
    term.expect("Blue it is.")
    assert term.wait() == 0, term.text


def test_an_approval_shows_the_whole_command_and_none_of_its_escapes_act_on_the_terminal(
    appliance: Appliance, project: Path
) -> None:
    """A command past the length of a summary line, on two lines, with sequences that would erase the
    line and write the clipboard: the prompt and `reliant approvals` show every part of it."""
    command = "echo " + "a" * 120 + " \x1b]52;c;Y3VybA==\x07&& touch pwned\ntouch \x1b[1A\x1b[2Kpwned2"
    model = scripted(appliance, [{"tools": [shell(command)]}, {"text": "Not run."}])
    term = Terminal(
        "chat", "--mode", "manual", "--model", model, "write", "--data-dir", str(appliance.data_dir), cwd=project
    )
    term.expect("[y]es, [a]lways in this chat, [p]roject-wide, [n]o")
    assert "\x1b]52" not in term.seen and "\x1b[1A\x1b[2Kpwned2" not in term.seen
    asked = term.text.replace("\n", "")  # the terminal wraps the long line
    assert "&& touch pwned" in asked and "    touch pwned2" in asked, term.text
    listed = appliance.cli("approvals").stdout
    assert " && touch pwned\n" in listed and "\n      touch pwned2\n" in listed and "\x1b" not in listed
    term.press("n")
    term.expect("tell the model why (optional):")
    term.type("no")
    term.expect("Not run.")
    assert term.wait() == 0, term.text
    assert not (project / "pwned").exists() and not (project / "pwned2").exists()


def _pending(appliance: Appliance) -> str:
    def found() -> str:
        match = re.search(r"approval (\S+)", appliance.cli("approvals").stdout)
        return match.group(1) if match else ""

    return wait_until(found, timeout=30)


@pytest.mark.timeout(300)
def test_following_a_chat_whose_api_stops_answering_ends_with_one_line(tmp_path: Path) -> None:
    """SIGSTOP leaves the api's socket open with nothing answering, as a frozen process or a network
    gone quiet does: `reliant chat` says it lost the api instead of waiting for ever."""
    up = Appliance(tmp_path / "data", env=clean_env()).start()
    workspace = tmp_path / "project"
    workspace.mkdir()
    out, err = tmp_path / "chat.out", tmp_path / "chat.err"
    chat: subprocess.Popen[bytes] | None = None
    try:
        assert up.cli("project", "add", str(workspace)).returncode == 0
        model = scripted(up, [{"text": "slowly " * 400}], delay_ms=100)  # streams for about 40 s
        args = ("chat", "--project", str(workspace), "--model", model, "go", "--data-dir", str(up.data_dir))
        with out.open("wb") as stdout, err.open("wb") as stderr:
            chat = subprocess.Popen(
                reliant_cmd(*args),
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                env=up.env,
            )
        wait_until(lambda: "slowly slowly" in out.read_text(), timeout=60)
        assert up.proc is not None
        os.kill(up.proc.pid, signal.SIGSTOP)
        try:
            code = chat.wait(timeout=200)
        finally:
            os.kill(up.proc.pid, signal.SIGCONT)
        assert code == 1, err.read_text()
        last = err.read_text().strip().splitlines()[-1]
        assert last == f"error: lost the connection to {up.url} and could not reconnect", err.read_text()
    finally:
        if chat is not None and chat.poll() is None:
            chat.kill()
        up.stop()
