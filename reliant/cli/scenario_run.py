"""One scenario against a running reliant: a copy of the project (so the user's tree is never
touched), its scripts in place, the copy registered and trusted (the runner made it), a chat on the
workflow, the run followed on the chat's update stream — approval nodes and tool approvals answered
as the scenario says — and then every expectation checked. The copy's project is removed afterwards
(and the copy too, unless kept)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct

from reliant.cli import scenario_models
from reliant.cli.conversation import Api
from reliant.cli.scenario_format import Answer, Scenario, is_matcher, mismatch
from reliant.cli.workflow_client import node_line
from reliant.domain.git import git_command
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import control_pb2 as cpb
from reliant.wire.v1.chat_connect import ChatServiceClientSync

FINISHED = ("done", "failed")
_ITERATION = re.compile(r"\[\d+\]")


@dataclass
class Observed:
    """What a run did, as the chat's updates and the copy's files tell it."""

    status: str = ""  # done | failed | cancelled | paused | "" (it did not end)
    error: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)  # the top run's node states, in order
    text: str | None = None  # the last assistant message
    root: Path = Path()
    unscripted_calls: int = 0


@dataclass
class Outcome:
    scenario: Scenario
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)  # what happened, line by line (the report's output)
    chat_id: str = ""
    copy: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


class ScenarioFailed(Exception):
    """The scenario stops here; the message says why."""


def _path_of(instance: str) -> str:
    return _ITERATION.sub("", instance)


def _whole(value: Any) -> Any:
    """A payload as it was written: protobuf's Struct carries every number as a double, so a whole
    one is an integer again (an exit code reads 1, not 1.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def _struct(value: Mapping[str, Any]) -> Struct:
    out = Struct()
    out.update(dict(value))
    return out


class ScenarioRun:
    def __init__(self, api: Api, scenario: Scenario, work: Path, *, keep: bool = False) -> None:
        self.api = api
        self.scenario = scenario
        self.work = work
        self.keep = keep
        self.outcome = Outcome(scenario)
        self.answers = {key: list(items) for key, items in scenario.answers.items()}
        self.project_id = ""

    def run(self) -> Outcome:
        started = time.monotonic()
        try:
            copy = self._copy()
            models = scenario_models.place(copy, self.scenario.workflow, self.scenario.models)
            if self.scenario.git:
                make_repository(copy)
            observed = self._run(copy, models)
            self.outcome.failures.extend(verdict(self.scenario, observed))
        except (ScenarioFailed, scenario_models.ScenarioSetupError) as exc:
            self.outcome.failures.append(str(exc))
        except ConnectError as exc:
            self.outcome.failures.append(f"reliant said: {exc.code.name.lower()}: {exc.message}")
        except OSError as exc:
            self.outcome.failures.append(f"cannot prepare the project's copy: {exc}")
        finally:
            self._clean_up()
            self.outcome.seconds = time.monotonic() - started
        return self.outcome

    # -- the copy ------------------------------------------------------------------------------------

    def _copy(self) -> Path:
        copy = self.work / self.scenario.id
        n = 1
        while copy.exists():
            n += 1
            copy = self.work / f"{self.scenario.id}-{n}"
        if self.scenario.project is not None:
            shutil.copytree(self.scenario.project, copy, symlinks=True, ignore=shutil.ignore_patterns("test-run"))
        else:
            copy.mkdir(parents=True)
        for name, content in self.scenario.files.items():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        self.outcome.copy = copy
        return copy

    # -- the run -------------------------------------------------------------------------------------

    def _run(self, copy: Path, models: scenario_models.Models) -> Observed:
        api = self.api
        scenario = self.scenario
        with api.projects() as projects:
            project = projects.create_project(pb.CreateProjectRequest(path=str(copy)), headers=api.headers)
            self.project_id = project.id
            trust = projects.get_project_trust(pb.GetProjectTrustRequest(project_id=project.id), headers=api.headers)
            if trust.state in ("untrusted", "changed"):  # the runner made this copy: its files are the test's
                projects.trust_project(
                    pb.TrustProjectRequest(project_id=project.id, fingerprint=trust.fingerprint), headers=api.headers
                )
        request = pb.CreateChatRequest(project_id=project.id, model=models.default, workflow=scenario.workflow)
        if scenario.inputs:
            request.inputs.CopyFrom(_struct(scenario.inputs))
        with api.chats() as chats:
            try:
                chat = chats.create_chat(request, headers=api.headers)
            except ConnectError as exc:
                if exc.code is Code.INVALID_ARGUMENT:
                    raise ScenarioFailed(f"the chat could not start: {exc.message}") from None
                raise
            self.outcome.chat_id = chat.id
            if scenario.mode:
                chats.set_mode(pb.SetModeRequest(chat_id=chat.id, mode=scenario.mode), headers=api.headers)
            text = scenario.message or _first_message(scenario)
            chats.send_message(pb.SendMessageRequest(chat_id=chat.id, text=text), headers=api.headers)
        observed = self._follow(chat.id, chat.last_seq)
        observed.root = copy
        observed.text = self._last_text(chat.id)
        if models.unscripted_log is not None:
            observed.unscripted_calls = scenario_models.calls(models.unscripted_log)
        return observed

    def _follow(self, chat_id: str, since: int) -> Observed:
        observed = Observed()
        top = ""
        finished = False
        deadline = time.monotonic() + self.scenario.timeout
        try:
            for kind, payload in self._updates(chat_id, since, deadline):
                line = node_line(kind, payload)
                if line:
                    self.outcome.log.append(line)
                if kind == "run_started" and not top and not payload.get("parent_run_id"):
                    top = str(payload.get("run_id", ""))
                elif kind == "node_state" and payload.get("run_id") == top:
                    observed.states.append(dict(payload))
                elif kind == "run_finished" and payload.get("run_id") == top:
                    finished = True
                    observed.status = str(payload.get("status", ""))
                    observed.error = str(payload.get("error") or "")
                    outputs = payload.get("outputs")
                    observed.outputs = dict(outputs) if isinstance(outputs, dict) else {}
                elif kind == "approval_requested":
                    self._answer(payload)
                elif kind == "question_asked":
                    asked = "; ".join(str(q.get("question", "")) for q in payload.get("questions") or [])
                    raise ScenarioFailed(f"the model asked the user ({asked}): a scenario cannot answer ask_user")
                elif kind == "chat_status":
                    status, reason = payload.get("status"), str(payload.get("reason") or "")
                    if status == "paused":
                        self.outcome.log.append(f"paused: {reason}")
                        observed.status, observed.error = "paused", reason
                        return observed
                    if status in ("idle", "failed") and finished:
                        return observed
                    if status == "failed":
                        observed.status, observed.error = "failed", reason
                        return observed
        except TimeoutError:
            raise ScenarioFailed(f"the run did not end within {self.scenario.timeout:g}s") from None
        return observed

    def _updates(self, chat_id: str, since: int, deadline: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """The chat's updates until the deadline (reconnecting from the last seq if the stream drops)."""
        last = since
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            client = ChatServiceClientSync(self.api.url, proto_json=True, timeout_ms=int(left * 1000) + 1)
            try:
                with client:
                    request = pb.StreamUpdatesRequest(chat_id=chat_id, since_seq=last)
                    for update in client.stream_updates(request, headers=self.api.headers):
                        if update.seq:
                            last = update.seq
                        if time.monotonic() > deadline:
                            raise TimeoutError
                        if update.seq:
                            yield update.kind, _whole(MessageToDict(update.payload))
            except ConnectError as exc:
                if exc.code is Code.DEADLINE_EXCEEDED:
                    raise TimeoutError from None
                if exc.code not in (Code.UNAVAILABLE, Code.UNKNOWN, Code.INTERNAL, Code.CANCELED):
                    raise
            time.sleep(0.2)

    def _answer(self, payload: dict[str, Any]) -> None:
        approval_id = str(payload.get("approval_id", ""))
        with self.api.approvals() as approvals:
            if payload.get("kind") != "node":
                tool = str(payload.get("tool_name", ""))
                self.outcome.log.append(f"  tool approval: {tool} -> {self.scenario.tools}")
                if self.scenario.tools == "approve":
                    approvals.approve(cpb.ApproveRequest(approval_id=approval_id), headers=self.api.headers)
                else:
                    approvals.deny(cpb.DenyRequest(approval_id=approval_id), headers=self.api.headers)
                return
            instance = str(payload.get("node", ""))
            answer = self._next_answer(instance)
            if answer is None:
                raise ScenarioFailed(
                    f"approval node {instance} asked {payload.get('question', '')!r} and the scenario has no answer"
                    f" for it (answers.{instance.rsplit('/', 1)[-1]})"
                )
            self.outcome.log.append(
                f"  {instance} answered {answer.choice}" + (f" ({answer.note})" if answer.note else "")
            )
            approvals.choose(
                cpb.ChooseRequest(approval_id=approval_id, choice=answer.choice, note=answer.note),
                headers=self.api.headers,
            )

    def _next_answer(self, instance: str) -> Answer | None:
        path = _path_of(instance)
        for key in (instance, path, path.rsplit("/", 1)[-1]):
            queue = self.answers.get(key)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return None

    def _last_text(self, chat_id: str) -> str | None:
        with self.api.chats() as chats:
            listed = chats.list_messages(pb.ListMessagesRequest(chat_id=chat_id), headers=self.api.headers)
        for message in reversed(listed.messages):
            if message.role == "assistant":
                return "".join(b.text for b in message.blocks if b.type == "text")
        return None

    def _clean_up(self) -> None:
        """Stop what still runs and forget the copy's project (best effort: the report has the rest)."""
        api = self.api
        try:
            if self.outcome.chat_id:
                with api.chats() as chats:
                    chats.cancel_chat(pb.CancelChatRequest(chat_id=self.outcome.chat_id), headers=api.headers)
            if self.project_id and not self.keep:
                with api.projects() as projects:
                    for _ in range(50):
                        try:
                            projects.delete_project(pb.DeleteProjectRequest(id=self.project_id), headers=api.headers)
                            break
                        except ConnectError as exc:
                            if exc.code is not Code.FAILED_PRECONDITION:
                                raise
                            time.sleep(0.1)  # its chat is still stopping
        except ConnectError as exc:
            self.outcome.log.append(f"clean-up: {exc.message}")
        if self.outcome.copy is not None and not self.keep and self.outcome.passed:
            shutil.rmtree(self.outcome.copy, ignore_errors=True)


def make_repository(copy: Path) -> None:
    """The copy as a git repository with one commit of its files (unless it is one already); the
    runner's own files (.reliant/test-run) stay out of it."""
    if not (copy / ".git").exists():
        _git(copy, "init", "-q")
        who = ("-c", "user.name=reliant test", "-c", "user.email=reliant-test@localhost")
        exclude = copy / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as f:
            f.write(f"/{scenario_models.RUN_DIR.as_posix()}/\n")
        _git(copy, "add", "-A")
        _git(copy, *who, "commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "The scenario's files")


def _git(cwd: Path, *args: str) -> None:
    try:
        subprocess.run(git_command("git", *args), cwd=cwd, check=True, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ScenarioFailed("git: the scenario asks for a git repository and git is not installed") from None
    except subprocess.TimeoutExpired:
        raise ScenarioFailed(f"git {args[0]} in the project's copy took too long") from None
    except subprocess.CalledProcessError as exc:
        raise ScenarioFailed(f"git {args[0]} in the project's copy failed: {exc.stderr.strip()}") from None


def worktrees_left(root: Path) -> int:
    folder = root / ".reliant" / "worktrees"
    return sum(1 for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else 0


def _first_message(scenario: Scenario) -> str:
    task = scenario.inputs.get("task")
    if isinstance(task, str) and task.strip():
        return task
    return f"Run the {scenario.workflow} workflow."


# -- checking --------------------------------------------------------------------------------------


def _pick(states: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The last state of the node `key` names (an instance with [n], else a path)."""
    field_name = "instance" if "[" in key else "path"
    found = [s for s in states if s.get(field_name) == key]
    return found[-1] if found else None


def verdict(scenario: Scenario, observed: Observed) -> list[str]:
    """Every expectation the run did not meet, one line each ([] when it passed)."""
    expect = scenario.expect
    failures: list[str] = []
    wanted_status = expect.get("status", "done")
    if observed.status != wanted_status:
        why = f" ({observed.error})" if observed.error else ""
        failures.append(f"status: expected {wanted_status}, got {observed.status or 'no end'}{why}")
    if "error" in expect and (problem := mismatch(expect["error"], observed.error)):
        failures.append(f"error: {problem}")
    for name, wanted in (expect.get("outputs") or {}).items():
        if problem := mismatch(wanted, observed.outputs.get(name), present=name in observed.outputs):
            failures.append(f"outputs.{name}: {problem}")
    if "path" in expect:
        ended = [s for s in observed.states if s.get("status") in FINISHED]
        wanted_path = list(expect["path"])
        shown = [str(s.get("instance" if any("[" in w for w in wanted_path) else "path")) for s in ended]
        actual = [str(s.get("instance" if "[" in w else "path")) for s, w in zip(ended, wanted_path, strict=False)]
        if len(ended) != len(wanted_path) or actual != wanted_path:
            failures.append(f"path: expected {wanted_path}, got {shown}")
    for key, wanted in (expect.get("nodes") or {}).items():
        state = _pick(observed.states, key)
        status = str(state.get("status")) if state is not None else "waiting"
        if "status" in wanted and wanted["status"] != status:
            failures.append(f"nodes.{key}.status: expected {wanted['status']}, got {status}")
        outputs = state.get("outputs") if state is not None else None
        for name, value in wanted.items():
            if name == "status":
                continue
            if state is None:
                failures.append(f"nodes.{key}.{name}: the node never ran")
            elif not isinstance(outputs, dict):
                failures.append(f"nodes.{key}.{name}: the engine reported no outputs for this node")
            elif problem := mismatch(value, outputs.get(name), present=name in outputs):
                failures.append(f"nodes.{key}.{name}: {problem}")
    if "text" in expect and (problem := mismatch(expect["text"], observed.text, present=observed.text is not None)):
        failures.append(f"text: {problem}")
    if "worktrees" in expect and (left := worktrees_left(observed.root)) != expect["worktrees"]:
        failures.append(f"worktrees: expected {expect['worktrees']} left under .reliant/worktrees/, got {left}")
    for name, wanted in (expect.get("files") or {}).items():
        path = observed.root / name
        present = path.is_file()
        content = path.read_text(encoding="utf-8", errors="replace") if present else None
        test = wanted if is_matcher(wanted) else {"equals": wanted}
        if problem := mismatch(test, content, present=present):
            failures.append(f"files.{name}: {problem}")
    if observed.unscripted_calls:
        n = observed.unscripted_calls
        failures.append(
            f"models: {n} model call{'s' if n != 1 else ''} had no script (give the node one under `models:`, or a"
            " `default`)"
        )
    return failures
