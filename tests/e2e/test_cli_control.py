"""Reviewing and controlling any chat from the terminal, against `reliant up`: `reliant show`,
`resume|pause|stop|interrupt`, `chat --chat` on a paused, idle or running chat, ids by any unique
prefix, `reliant chats` as a table or JSON, errors in one sentence, a closed pipe that is no
connection error, and workspace commands that never register a directory behind the user's back."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reliant.cli.api import Api
from reliant.cli.conversation import EXIT_OK, run_chat
from reliant.cli.render import MARK, Renderer
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1.chat_connect import ChatServiceClientSync
from tests.e2e.harness import Appliance, Rest, clean_env, reliant_cmd
from tests.e2e.terminal import Terminal
from tests.support import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    up = Appliance(tmp_path_factory.mktemp("cli-control") / "data", env=clean_env())
    up.start()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def project(appliance: Appliance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("controlled").resolve()
    (path / "AGENTS.md").write_text("Run the tests with pytest.\n")
    assert appliance.cli("project", "add", str(path)).returncode == 0
    return path


@pytest.fixture(scope="module")
def rest(appliance: Appliance) -> Rest:
    return Rest(appliance.url, appliance.token)


def scripted(up: Appliance, turns: list[dict[str, object]], **extra: object) -> str:
    path = up.data_dir / f"script-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump({"turns": turns, **extra}))
    return f"scripted:{path}"


def start(rest: Rest, project: Path, model: str, text: str) -> str:
    project_id = next(p["id"] for p in rest.call("GET", "/api/projects") if p["path"] == str(project))
    chat = rest.chat(project_id, model)
    rest.send(chat["id"], text)
    return str(chat["id"])


def status(rest: Rest, chat_id: str) -> str:
    return str(rest.get_chat(chat_id)["status"])


def test_show_draws_the_transcript_with_outcomes_and_instruction_files(
    appliance: Appliance, project: Path, rest: Rest
) -> None:
    model = scripted(
        appliance,
        [
            {"text": "Running the tests.", "tools": [{"name": "shell", "input": {"command": "echo 2 failed; exit 1"}}]},
            {"text": "Two tests **fail**.", "usage": {"input_tokens": 500, "output_tokens": 20}},
        ],
    )
    chat_id = start(rest, project, model, "run the tests")
    rest.wait_idle(chat_id)
    shown = appliance.cli("show", chat_id[:6])
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "run the tests"  # the title
    assert lines[1].startswith(f"chat {chat_id} · {project.name} ({project}) · {model[:20]}")
    assert f"{MARK} run the tests" in lines
    assert "instructions in effect: AGENTS.md" in lines
    at = lines.index("● shell echo 2 failed; exit 1")
    assert lines[at + 1].startswith("  └ ✗ exit 1 (") and lines[at + 2] == "    2 failed"
    assert "Two tests **fail**." in lines  # a pipe: the markdown as written
    assert lines[-1].startswith("─ ") and " in · " in lines[-1] and " out · $" in lines[-1]
    assert "\x1b" not in shown.stdout


def test_chat_follow_shows_the_turn_so_far_and_says_what_an_idle_chat_is(
    appliance: Appliance, project: Path, rest: Rest
) -> None:
    words = " ".join(f"word{i}" for i in range(60))
    model = scripted(appliance, [{"text": f"Beginning {words} end.", "delay_ms": 150}])  # ~9 s of streaming
    chat_id = start(rest, project, model, "talk slowly")
    # The streamed words are not in the log (only the stored answer is): follow once the turn runs.
    wait_until(lambda: status(rest, chat_id) == "running", timeout=60)
    followed = appliance.cli("chat", "--chat", chat_id[:7])
    assert followed.returncode == 0, followed.stderr
    assert f"{MARK} talk slowly" in followed.stdout
    assert f"Beginning {words} end." in followed.stdout, "the text streamed before it followed is shown too"
    assert followed.stdout.count("Beginning") == 1

    idle = appliance.cli("chat", "--chat", chat_id[:7])  # the last turn as it ended, then what next
    assert idle.returncode == 0
    assert f"{MARK} talk slowly" in idle.stdout and idle.stdout.count(f"Beginning {words} end.") == 1
    short = chat_id[:8]
    assert idle.stderr.endswith(
        f"chat {short} is idle: its last turn is over. Send it a message with"
        f" `reliant chat --chat {short} MESSAGE`, or read all of it with `reliant show {short}`\n"
    )


def test_following_a_chat_whose_turn_ends_just_after_its_status_is_read_ends_with_the_turn(
    appliance: Appliance, project: Path, rest: Rest
) -> None:
    """The turn ends between the follow's reading of the chat (running) and of its stored turn: the
    follow still sees the end, instead of streaming from past it and waiting forever."""
    model = scripted(appliance, [{"text": "A slow answer, word by word, to the end.", "delay_ms": 150}])
    chat_id = start(rest, project, model, "answer slowly")
    wait_until(lambda: status(rest, chat_id) == "running", timeout=60)

    class TurnEndsAfterTheStatusRead(Api):
        def chats(self) -> ChatServiceClientSync:
            client = super().chats()
            read = client.get_chat

            def get_chat(request: pb.GetChatRequest, **kwargs: Any) -> pb.Chat:
                chat = read(request, **kwargs)
                wait_until(lambda: status(rest, chat_id) == "idle", timeout=60)
                return chat

            client.get_chat = get_chat  # type: ignore[method-assign]
            return client

    out, err = io.StringIO(), io.StringIO()
    renderer = Renderer(echo_user=True, out=out, err=err, styled=False)
    api = TurnEndsAfterTheStatusRead(appliance.url, appliance.token)
    codes: list[int] = []
    # A daemon thread: a follow that hangs (the defect) fails the test without holding pytest open.
    following = threading.Thread(
        target=lambda: codes.append(
            run_chat(api, message="", chat_id=chat_id, project=None, model="", renderer=renderer)
        ),
        daemon=True,
    )
    following.start()
    following.join(timeout=60)
    assert codes == [EXIT_OK], f"the follow {'hung' if following.is_alive() else 'ended'}: {err.getvalue()}"
    assert "A slow answer, word by word, to the end." in out.getvalue()


def test_pause_resume_stop_and_interrupt(appliance: Appliance, project: Path, rest: Rest) -> None:
    model = scripted(
        appliance,
        [
            {"text": "First.", "tools": [{"name": "shell", "input": {"command": "sleep 2; echo one >> steps"}}]},
            {"text": "Second.", "tools": [{"name": "shell", "input": {"command": "echo two >> steps"}}]},
            {"text": "Finished."},
        ],
    )
    chat_id = start(rest, project, model, "two steps")
    wait_until(lambda: any(u["kind"] == "tool_started" for u in rest.updates(chat_id)), timeout=60)
    paused = appliance.cli("pause", chat_id[:8])
    # "pausing" while the step runs, or "is paused" if it ended before the command looked
    assert paused.returncode == 0 and ("pausing chat" in paused.stdout or "is paused" in paused.stdout), paused.stderr
    wait_until(lambda: status(rest, chat_id) == "paused", timeout=60)
    assert (project / "steps").read_text() == "one\n"

    # Without a terminal, following a paused chat says so and what to do, and exits 2 at once.
    waiting = appliance.cli("chat", "--chat", chat_id)
    assert waiting.returncode == 2, waiting.stdout + waiting.stderr
    assert f"chat {chat_id[:8]} is paused: paused by the user" in waiting.stderr
    assert f"resume it with `reliant resume {chat_id[:8]}`" in waiting.stderr
    # In a terminal it offers to resume.
    term = Terminal("chat", "--chat", chat_id[:8], "--data-dir", str(appliance.data_dir), cwd=project)
    term.expect("Resume it now? [y/N]")
    term.press("n")
    assert term.wait() == 2

    resumed = appliance.cli("resume", chat_id[:8])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Finished." in resumed.stdout and (project / "steps").read_text() == "one\ntwo\n"
    again = appliance.cli("resume", chat_id[:8])
    assert again.returncode == 1 and "is idle, not paused: there is nothing to resume" in again.stderr

    slow = scripted(
        appliance,
        [{"text": "Waiting.", "tools": [{"name": "shell", "input": {"command": "sleep 60"}}]}],
        final_text="Doing the other thing.",
    )
    chat_id = start(rest, project, slow, "wait")
    wait_until(lambda: any(u["kind"] == "tool_started" for u in rest.updates(chat_id)), timeout=60)
    interrupted = appliance.cli("interrupt", chat_id[:8], "do the other thing")
    assert interrupted.returncode == 0, interrupted.stdout + interrupted.stderr
    assert "└ ■ cancelled" in interrupted.stdout and "Doing the other thing." in interrupted.stdout

    chat_id = start(rest, project, slow, "wait again")
    wait_until(lambda: any(u["kind"] == "tool_started" for u in rest.updates(chat_id)), timeout=60)
    stopped = appliance.cli("stop", chat_id[:8])
    assert stopped.returncode == 0 and stopped.stdout == f"stopped chat {chat_id[:8]}\n"
    wait_until(lambda: status(rest, chat_id) == "idle", timeout=60)
    finished = [u["payload"] for u in rest.updates(chat_id) if u["kind"] == "tool_finished"]
    assert finished and {f["outcome"] for f in finished} == {"cancelled"}
    nothing = appliance.cli("stop", chat_id[:8])
    assert nothing.stdout == f"chat {chat_id[:8]} is idle: there is no turn to stop\n"


def test_stopping_a_chat_that_waits_for_approval_ends_the_call_as_cancelled(
    appliance: Appliance, project: Path, rest: Rest
) -> None:
    model = scripted(appliance, [{"tools": [{"name": "shell", "input": {"command": "touch never"}}]}])
    project_id = next(p["id"] for p in rest.call("GET", "/api/projects") if p["path"] == str(project))
    chat = rest.chat(project_id, model)
    asked = appliance.cli("chat", "--chat", chat["id"], "--mode", "manual", "--wait-for-gate", "touch it")
    assert asked.returncode == 3, asked.stdout + asked.stderr
    assert appliance.cli("stop", chat["id"][:8]).returncode == 0
    wait_until(lambda: status(rest, chat["id"]) == "idle", timeout=60)
    finished = [u["payload"] for u in rest.updates(chat["id"]) if u["kind"] == "tool_finished"]
    assert [(f["tool_name"], f["outcome"]) for f in finished] == [("shell", "cancelled")], "not left pending"
    shown = appliance.cli("show", chat["id"][:8]).stdout
    assert "● shell touch never\n  └ ■ cancelled\n" in shown and not (project / "never").exists()


def test_following_a_paused_chat_in_a_terminal_resumes_it_on_y_and_streams_to_the_end(
    appliance: Appliance, project: Path, rest: Rest
) -> None:
    model = scripted(
        appliance,
        [
            {"text": "First.", "tools": [{"name": "shell", "input": {"command": "sleep 2; echo one >> resumed"}}]},
            {"text": "Done after **resuming**."},
        ],
    )
    chat_id = start(rest, project, model, "resume me")
    wait_until(lambda: any(u["kind"] == "tool_started" for u in rest.updates(chat_id)), timeout=60)
    assert appliance.cli("pause", chat_id[:8]).returncode == 0
    wait_until(lambda: status(rest, chat_id) == "paused", timeout=60)
    term = Terminal("chat", "--chat", chat_id[:8], "--data-dir", str(appliance.data_dir), cwd=project)
    term.expect("Resume it now? [y/N]")
    term.press("y")
    assert term.wait() == 0, term.text
    assert "Done after resuming." in term.text, term.text
    assert status(rest, chat_id) == "idle" and (project / "resumed").read_text() == "one\n"


def chats_json(appliance: Appliance) -> list[dict[str, Any]]:
    listed = appliance.cli("chats", "--json")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_ids_by_prefix_and_the_chats_table(appliance: Appliance, project: Path, rest: Rest) -> None:
    model = scripted(appliance, [{"text": "ok"}])
    project_id = next(p["id"] for p in rest.call("GET", "/api/projects") if p["path"] == str(project))
    while True:  # two chats whose ids share a first character (17 are enough for 16 hex digits)
        listed = chats_json(appliance)
        firsts = [c["id"][0] for c in listed]
        shared = next((f for f in firsts if firsts.count(f) > 1), None)
        if shared:
            break
        rest.chat(project_id, model)
    ambiguous = appliance.cli("show", shared)
    assert ambiguous.returncode == 1
    candidates = [c for c in listed if c["id"].startswith(shared)]
    assert ambiguous.stderr.startswith(f"error: {shared} is ambiguous: {len(candidates)} chats start with it:\n")
    for c in candidates:
        assert f"  {c['short_id']}  " in ambiguous.stderr
    unknown = next(p for p in ("0000", "ffff", "abcd") if not any(c["id"].startswith(p) for c in listed))
    none = appliance.cli("chat", "--chat", unknown)
    assert none.returncode == 1 and none.stderr == f"error: no chat id starts with {unknown} (see `reliant chats`)\n"

    table = appliance.cli("chats")
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "PROJECT", "STATUS", "ACTIVE", "COST", "TITLE"]
    assert len(rows) == len(listed) and "\x1b" not in table.stdout
    first = listed[0]
    assert rows[0].split()[:3] == [first["short_id"], project.name, first["status"]]
    assert all(len(c["short_id"]) >= 8 and c["id"].startswith(c["short_id"]) for c in listed)
    assert all(not row.endswith(" ") for row in rows)


def test_the_chats_table_shows_when_each_chat_was_last_active_and_what_it_cost(
    appliance: Appliance, project: Path, rest: Rest
) -> None:
    priced = scripted(appliance, [{"text": "ok", "usage": {"input_tokens": 1_000_000, "output_tokens": 100_000}}])
    free = scripted(appliance, [{"text": "ok", "usage": {"input_tokens": 1_000_000, "output_tokens": 100_000}}])
    prices = {"prices": [{"model": priced, "input": 2.5, "output": 10}]}  # $2.50 + $1.00
    rest.call("PATCH", "/api/settings", {"model_prices": prices})
    try:
        spent, unpriced = start(rest, project, priced, "spend"), start(rest, project, free, "spend nothing")
        rest.wait_idle(spent)
        rest.wait_idle(unpriced)
    finally:
        rest.call("PATCH", "/api/settings", {"model_prices": {"prices": []}})
    shorts = {c["id"]: c["short_id"] for c in chats_json(appliance)}
    table = appliance.cli("chats")
    assert table.returncode == 0, table.stderr
    for chat_id, cost in ((spent, r"\$3\.5000"), (unpriced, r"\$0\.0000")):
        [row] = [line for line in table.stdout.splitlines() if line.startswith(shorts[chat_id] + " ")]
        # ACTIVE is relative to now (a chat just done is "just now"), COST in dollars to the hundredth of a cent.
        assert re.match(rf"{shorts[chat_id]}\s+{project.name}\s+idle\s+just now\s+{cost}\s+spend", row), row


def test_a_closed_pipe_is_not_a_connection_error_and_errors_are_one_sentence(
    appliance: Appliance, project: Path
) -> None:
    read, write = os.pipe()
    os.close(read)  # like `reliant chats | head -1` once head has exited
    try:
        done = subprocess.run(
            [*reliant_cmd("chats", "--data-dir", str(appliance.data_dir))],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=appliance.env,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode != 0

    missing = str(uuid.uuid4())
    refused = appliance.cli("approvals", "approve", missing)
    assert refused.returncode == 1
    assert refused.stderr == f"error: approval {missing} not found\n"
    unreachable = appliance.cli("chats", "--api-url", "http://127.0.0.1:9")
    assert unreachable.stderr.startswith("error: cannot reach the api at http://127.0.0.1:9 (--api-url): ")
    assert len(unreachable.stderr.splitlines()) == 1
    stranger = appliance.cli("chats", "--token", "wrong")
    assert stranger.stderr == (
        f"error: the api at {appliance.url} (the reliant up of {appliance.data_dir.resolve()}) does not accept "
        "this token (pass --token, or check --data-dir or the context's token)\n"
    )
    # An argument the api refuses (invalid_argument): its sentence alone, no address or code before it.
    bad_model = appliance.cli("chat", "--project", str(project), "--model", "nowhere:model", "hi")
    assert bad_model.returncode == 1, bad_model.stdout + bad_model.stderr
    [line] = bad_model.stderr.splitlines()
    assert line.startswith("error: unknown model 'nowhere:model'; use "), line
    assert not re.search(r"https?://|invalid.?argument", line, re.IGNORECASE), line


@pytest.mark.parametrize("command", [("mcp", "list"), ("worktree", "list"), ("term",), ("mcp", "restart", "x")])
def test_workspace_commands_never_register_a_directory_silently(
    appliance: Appliance, tmp_path: Path, command: tuple[str, ...]
) -> None:
    here = (tmp_path / "stranger").resolve()
    here.mkdir()
    done = subprocess.run(
        [*reliant_cmd(*command, "--data-dir", str(appliance.data_dir))],
        cwd=here,
        capture_output=True,
        text=True,
        env=appliance.env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    hint = f"reliant project add {here} --data-dir {appliance.data_dir}"
    assert done.stderr == f"error: {here} is not a registered project; register it with: {hint}\n"
    projects = Rest(appliance.url, appliance.token).call("GET", "/api/projects")
    assert str(here) not in {p["path"] for p in projects}
