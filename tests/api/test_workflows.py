"""The WorkflowService and its REST twins over real HTTP -> api -> NATS -> gateway -> daemon: which
workflows a project sees (built-ins, its own files once trusted, which one is used when a file
shadows a built-in), a definition's inputs and nodes, every problem of a text with line and column,
saving a file through the daemon (trust kept for exactly the new content), chats started on a
workflow with typed inputs (a 4xx naming the field), a chat's runs with their node states, and
node approvals answered with one of their choices."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct

from reliant import workflow_library
from reliant.db import Database
from reliant.db import approvals as approvals_db
from reliant.db import projects as projects_db
from reliant.db import runs as runs_db
from reliant.db import updates as updates_db
from reliant.domain.runs import PinnedText, RunRecord
from reliant.wire.v1 import chat_pb2 as pb
from reliant.wire.v1 import control_pb2 as cpb
from reliant.wire.v1 import workflow_pb2 as wpb
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from reliant.wire.v1.control_connect import ApprovalServiceClient
from reliant.wire.v1.workflow_connect import WorkflowServiceClient
from tests.api.conftest import ApiEnv
from tests.api.test_api import rest
from tests.support import eventually

MINE = """name: mine
description: Runs the checks.
inputs:
  target: {type: string, description: What to check}
  rounds: {type: integer, default: 2}
entry: check
nodes:
  - id: check
    type: run
    command: "make {{inputs.target}}"
"""
SCALED = """name: scaled
inputs:
  ratio: {type: number, default: 1}
entry: check
nodes:
  - {id: check, type: run, command: "echo {{inputs.ratio}}"}
"""
CAPPED = """name: capped
inputs:
  budget_usd: {type: number, default: 0.5}
entry: say
nodes:
  - {id: say, type: save_message, role: assistant, content: capped}
"""
SHADOW = "name: tdd\ndescription: Our own tdd.\nentry: only\nnodes:\n  - {id: only, type: run, command: pytest}\n"
BROKEN = "name: broken\nentry: a\nnodes:\n  - {id: a, type: nope}\n  - {id: b, type: run, command: x}\n"

BUILTINS = ["agent", "best-of-n", "plan-then-build", "review", "review-changes", "solve", "tdd"]


def struct(value: dict[str, object]) -> Struct:
    out = Struct()
    out.update(value)
    return out


@pytest.fixture
async def project(api_env: ApiEnv) -> AsyncIterator[pb.Project]:
    async with ProjectServiceClient(api_env.url) as projects:
        request = pb.CreateProjectRequest(path=str(api_env.workspace), daemon_id=api_env.settings.daemon_id)
        yield await eventually(lambda: projects.create_project(request, headers=api_env.headers), timeout=20)


def write(project: pb.Project, name: str, text: str) -> Path:
    path = Path(project.path) / ".reliant" / "workflows" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def trust(api_env: ApiEnv, project: pb.Project) -> None:
    async with ProjectServiceClient(api_env.url) as projects:
        shown = await projects.get_project_trust(
            pb.GetProjectTrustRequest(project_id=project.id), headers=api_env.headers
        )
        await projects.trust_project(
            pb.TrustProjectRequest(project_id=project.id, fingerprint=shown.fingerprint), headers=api_env.headers
        )


async def test_the_builtins_are_listed_with_their_typed_inputs(api_env: ApiEnv) -> None:
    async with WorkflowServiceClient(api_env.url) as flows:
        listed = await flows.list_workflows(wpb.ListWorkflowsRequest(), headers=api_env.headers)
    assert [(w.name, w.origin, w.used, w.problems) for w in listed.workflows] == [
        ("agent", "builtin", True, 0),
        ("best-of-n", "builtin", True, 0),
        ("plan-then-build", "builtin", True, 0),
        ("review", "builtin", True, 0),
        ("review-changes", "builtin", True, 0),
        ("solve", "builtin", True, 0),
        ("tdd", "builtin", True, 0),
    ]
    best = {i.name: i for i in listed.workflows[1].inputs}
    assert best["n"].type == "integer" and best["n"].default.number_value == 3 and best["task"].required
    tdd = listed.workflows[6]
    assert tdd.source == "builtin/tdd.yaml" and tdd.description.startswith("Write a failing test")
    inputs = {i.name: i for i in tdd.inputs}
    assert inputs["task"].type == "string" and inputs["task"].required and not inputs["task"].HasField("default")
    assert inputs["max_rounds"].type == "integer" and inputs["max_rounds"].default.number_value == 5
    plan = {i.name: i for i in listed.workflows[2].inputs}["build_mode"]
    assert plan.type == "enum" and list(plan.values) == ["auto", "manual"] and plan.default.string_value == "auto"
    assert listed.trust == "" and listed.note == ""
    status, doc = await rest(api_env, "GET", "/api/workflows")
    assert status == 200 and [w["name"] for w in doc["workflows"]] == BUILTINS
    status, doc = await rest(api_env, "GET", "/api/workflows/tdd")
    assert status == 200 and doc["inputs"][0] == {
        "name": "task",
        "type": "string",
        "description": "What to build",
        "required": True,
        "values": [],
    }
    status, doc = await rest(api_env, "GET", "/api/workflows/nope")
    assert status == 404 and "no workflow called 'nope'" in doc["detail"]


async def test_a_projects_own_files_count_once_trusted_and_a_file_shadows_its_builtin(
    api_env: ApiEnv, project: pb.Project
) -> None:
    write(project, "mine", MINE)
    shadow = write(project, "tdd", SHADOW)
    write(project, "broken", BROKEN)
    request = wpb.ListWorkflowsRequest(project_id=project.id)
    async with WorkflowServiceClient(api_env.url) as flows:
        held = await flows.list_workflows(request, headers=api_env.headers)
        assert held.trust == "untrusted" and "not trusted" in held.note and "reliant trust" in held.note
        assert [w.name for w in held.workflows] == BUILTINS
        await trust(api_env, project)
        listed = await flows.list_workflows(request, headers=api_env.headers)
        assert listed.trust == "trusted" and listed.note == ""
        rows = [(w.name, w.origin, w.used, w.shadows) for w in listed.workflows]
        assert rows == [
            ("agent", "builtin", True, ""),
            ("best-of-n", "builtin", True, ""),
            ("broken", "project", True, ""),
            ("mine", "project", True, ""),
            ("plan-then-build", "builtin", True, ""),
            ("review", "builtin", True, ""),
            ("review-changes", "builtin", True, ""),
            ("solve", "builtin", True, ""),
            ("tdd", "builtin", False, ""),
            ("tdd", "project", True, "builtin/tdd.yaml"),
        ]
        broken = listed.workflows[2]
        assert broken.problems == 2
        assert broken.error.startswith(
            f"{project.path}/.reliant/workflows/broken.yaml:4:19: node `a`: unknown node type"
        )
        used = await flows.get_workflow(
            wpb.GetWorkflowRequest(project_id=project.id, name="tdd"), headers=api_env.headers
        )
        assert used.origin == "project" and used.source == str(shadow) and used.text == SHADOW
        builtin = await flows.get_workflow(wpb.GetWorkflowRequest(name="tdd"), headers=api_env.headers)
        assert builtin.origin == "builtin" and builtin.text == workflow_library.BUILTIN.joinpath("tdd.yaml").read_text()


async def test_a_definition_shows_its_inputs_outputs_and_nodes_as_a_tree(api_env: ApiEnv) -> None:
    async with WorkflowServiceClient(api_env.url) as flows:
        tdd = await flows.get_workflow(wpb.GetWorkflowRequest(name="tdd"), headers=api_env.headers)
        review = await flows.get_workflow(wpb.GetWorkflowRequest(name="review"), headers=api_env.headers)
        best = await flows.get_workflow(wpb.GetWorkflowRequest(name="best-of-n"), headers=api_env.headers)
    assert [n.id for n in tdd.nodes] == ["write_test", "red", "fix", "green", "still_red", "already_green"]
    write_test, red, fix = tdd.nodes[:3]
    assert write_test.entry and write_test.preset == "test-writer" and list(write_test.next) == ["red"]
    assert red.kind == "run" and red.detail == "{{inputs.test_command}}" and list(red.next) == ["fix", "already_green"]
    assert fix.kind == "loop" and fix.max_iterations == "{{inputs.max_rounds}}" and "while" in fix.detail
    assert [(c.id, c.path, c.entry) for c in fix.children] == [
        ("implement", "fix/implement", True),
        ("check", "fix/check", False),
    ]
    assert {o.name for o in tdd.outputs} == {"passed", "rounds"}
    assert tdd.presets == ["implementer", "test-writer"] and not tdd.problems
    assert [(n.id, n.kind) for n in best.nodes] == [
        ("solve", "workflow"),
        ("judge", "call_llm"),
        ("merge", "worktree"),
        ("cleanup", "worktree"),
    ]
    assert best.nodes[0].detail == "runs solve {{inputs.n}} times side by side, each in a worktree of its own"
    assert best.nodes[2].detail.startswith("merge the worktrees of {{nodes.solve.runs.filter(")
    verdict = review.nodes[0].children[3]
    assert (verdict.id, verdict.kind, verdict.path) == ("verdict", "call_llm", "rounds/verdict")


async def test_unknown_and_empty_names_get_a_clear_error(api_env: ApiEnv) -> None:
    async with WorkflowServiceClient(api_env.url) as flows:
        with pytest.raises(ConnectError) as unknown:
            await flows.get_workflow(wpb.GetWorkflowRequest(name="tdd-x"), headers=api_env.headers)
        with pytest.raises(ConnectError) as empty:
            await flows.get_workflow(wpb.GetWorkflowRequest(), headers=api_env.headers)
    assert unknown.value.code == Code.NOT_FOUND and ", ".join(BUILTINS) in unknown.value.message
    assert empty.value.code == Code.INVALID_ARGUMENT and empty.value.message.startswith("name: is required")


async def test_validate_returns_every_problem_with_its_line_and_column(api_env: ApiEnv) -> None:
    text = (
        "name: bad\nentry: a\nnodes:\n  - {id: a, type: run, command: x}\n  - {id: b, type: nope}\n"
        "edges:\n  - {from: a, default: c}\n"
    )
    async with WorkflowServiceClient(api_env.url) as flows:
        checked = await flows.validate_workflow(
            wpb.ValidateWorkflowRequest(text=text, name="bad.yaml"), headers=api_env.headers
        )
        fine = await flows.validate_workflow(wpb.ValidateWorkflowRequest(text=MINE), headers=api_env.headers)
    assert not checked.valid and checked.name == "bad"
    found = [(p.source, p.line, p.column, p.message.split(";")[0]) for p in checked.problems]
    assert found == [
        ("bad.yaml", 5, 19, "node `b`: unknown node type `nope`"),
        ("bad.yaml", 7, 5, "edge from `a` goes to `c`, which is not a node of the workflow"),
    ]
    assert fine.valid and not fine.problems and fine.name == "mine"
    status, doc = await rest(api_env, "POST", "/api/workflows/validate", {"text": text})
    assert status == 200 and doc["valid"] is False and len(doc["problems"]) == len(checked.problems)


async def test_save_writes_the_file_through_the_daemon_and_keeps_a_trusted_project_trusted(
    api_env: ApiEnv, project: pb.Project
) -> None:
    write(project, "old", "name: old\nentry: a\nnodes:\n  - {id: a, type: run, command: 'true'}\n")
    await trust(api_env, project)
    target = Path(project.path) / ".reliant" / "workflows" / "mine.yaml"
    async with WorkflowServiceClient(api_env.url) as flows, ProjectServiceClient(api_env.url) as projects:
        with pytest.raises(ConnectError) as invalid:
            await flows.save_workflow(
                wpb.SaveWorkflowRequest(project_id=project.id, text=BROKEN), headers=api_env.headers
            )
        assert invalid.value.code == Code.INVALID_ARGUMENT and invalid.value.message.startswith("text: 2 problems")
        assert "nothing was saved" in invalid.value.message and not target.exists()
        with pytest.raises(ConnectError) as renamed:
            await flows.save_workflow(
                wpb.SaveWorkflowRequest(project_id=project.id, text=MINE, name="other"), headers=api_env.headers
            )
        assert renamed.value.message.startswith("name: the workflow is called 'mine'")

        saved = await flows.save_workflow(
            wpb.SaveWorkflowRequest(project_id=project.id, text=MINE), headers=api_env.headers
        )
        assert saved.path == str(target) and saved.created and target.read_text() == MINE
        assert saved.trust == "trusted" and saved.trust_renewed and "stays trusted" in saved.note
        trust_now = await projects.get_project_trust(
            pb.GetProjectTrustRequest(project_id=project.id), headers=api_env.headers
        )
        assert trust_now.state == "trusted" and ".reliant/workflows/mine.yaml" in trust_now.files
        listed = await flows.list_workflows(wpb.ListWorkflowsRequest(project_id=project.id), headers=api_env.headers)
        assert "mine" in [w.name for w in listed.workflows]

        shadow = await flows.save_workflow(
            wpb.SaveWorkflowRequest(project_id=project.id, text=SHADOW), headers=api_env.headers
        )
        assert shadow.shadows == "builtin/tdd.yaml" and shadow.created
    status, doc = await rest(
        api_env, "PUT", f"/api/projects/{project.id}/workflows/mine", {"text": MINE.replace("make", "make -k")}
    )
    assert status == 200 and doc["created"] is False and doc["trust"] == "trusted"
    assert "make -k" in target.read_text()


async def test_save_in_an_untrusted_project_writes_but_says_it_waits_for_trust(
    api_env: ApiEnv, project: pb.Project
) -> None:
    (Path(project.path) / ".reliant").mkdir()
    (Path(project.path) / ".reliant" / "mcp.json").write_text('{"mcpServers": {}}')
    async with WorkflowServiceClient(api_env.url) as flows:
        saved = await flows.save_workflow(
            wpb.SaveWorkflowRequest(project_id=project.id, text=MINE), headers=api_env.headers
        )
    assert saved.trust == "untrusted" and not saved.trust_renewed and "reliant trust" in saved.note


async def test_a_chat_on_a_workflow_gets_its_inputs_checked_by_type_naming_each_field(
    api_env: ApiEnv, project: pb.Project
) -> None:
    def create(**fields: object) -> pb.CreateChatRequest:
        inputs = fields.pop("inputs", None)
        request = pb.CreateChatRequest(project_id=project.id, **fields)  # type: ignore[arg-type]
        if inputs is not None:
            request.inputs.CopyFrom(struct(inputs))  # type: ignore[arg-type]
        return request

    async with ChatServiceClient(api_env.url) as chats:
        refused = {}
        for label, request in {
            "missing": create(workflow="tdd"),
            "type": create(workflow="tdd", inputs={"task": "x", "max_rounds": "five"}),
            "fraction": create(workflow="tdd", inputs={"task": "x", "max_rounds": 2.5}),
            "unknown": create(workflow="tdd", inputs={"task": "x", "colour": "red"}),
            "enum": create(workflow="plan-then-build", inputs={"build_mode": "yolo"}),
            "workflow": create(workflow="nope"),
        }.items():
            with pytest.raises(ConnectError) as exc:
                await chats.create_chat(request, headers=api_env.headers)
            assert exc.value.code == Code.INVALID_ARGUMENT, label
            refused[label] = exc.value.message
        assert refused["missing"].startswith("inputs.task: required (What to build)")
        assert refused["type"].startswith("inputs.max_rounds: must be an integer, not str")
        assert refused["fraction"].startswith("inputs.max_rounds: must be an integer, not float")
        assert refused["unknown"].startswith("inputs.colour: no such input")
        assert refused["enum"].startswith("inputs.build_mode: 'yolo' is not one of auto, manual")
        assert refused["workflow"].startswith("workflow: no workflow called 'nope'") and "tdd" in refused["workflow"]

        chat = await chats.create_chat(
            create(workflow="tdd", inputs={"task": "leap years", "max_rounds": 3}), headers=api_env.headers
        )
        assert chat.workflow == "tdd" and MessageToDict(chat.workflow_inputs) == {"task": "leap years", "max_rounds": 3}
        plain = await chats.create_chat(create(), headers=api_env.headers)
        assert plain.workflow == "agent" and not MessageToDict(plain.workflow_inputs)
    db = await Database.open(api_env.settings.database_url, min_size=1)
    try:
        row = await db.fetchrow("SELECT workflow_inputs FROM chats WHERE id = %s", (chat.id,))
        assert row is not None and json.dumps(row["workflow_inputs"], sort_keys=True) == (
            '{"max_rounds": 3, "task": "leap years"}'
        )  # an integer stays an integer
    finally:
        await db.close()
    status, doc = await rest(
        api_env, "POST", "/api/chats", {"project_id": project.id, "workflow": "tdd", "inputs": {"task": 5}}
    )
    assert status == 400 and doc["detail"].startswith("inputs.task: must be a string, not int")
    status, doc = await rest(
        api_env, "POST", "/api/chats", {"project_id": project.id, "workflow": "tdd", "inputs": {"task": "a\u0000b"}}
    )
    assert status == 400 and doc["detail"].startswith("inputs.task: contains a NUL character")


async def test_a_chats_runs_come_with_the_nodes_of_their_pinned_definition_and_the_latest_states(
    api_env: ApiEnv, project: pb.Project
) -> None:
    async with ChatServiceClient(api_env.url) as chats, WorkflowServiceClient(api_env.url) as flows:
        chat = await chats.create_chat(pb.CreateChatRequest(project_id=project.id), headers=api_env.headers)
        empty = await flows.list_runs(wpb.ListRunsRequest(chat_id=chat.id), headers=api_env.headers)
        assert not empty.runs
        db = await Database.open(api_env.settings.database_url, min_size=1)
        try:
            text = workflow_library.BUILTIN.joinpath("tdd.yaml").read_text()
            record = RunRecord(
                id="00000000-0000-4000-8000-000000000001",
                chat_id=chat.id,
                workflow="tdd",
                source="builtin/tdd.yaml",
                workflow_text=PinnedText("tdd", "builtin/tdd.yaml", text),
                inputs={"task": "x"},
            )
            await runs_db.create(db, record)
            states = [
                {
                    "run_id": record.id,
                    "path": "write_test",
                    "instance": "write_test",
                    "kind": "agent",
                    "status": s,
                    "version": v,
                }
                for s, v in (("running", 1), ("done", 2))
            ] + [
                {
                    "run_id": record.id,
                    "path": "fix/check",
                    "instance": "fix[1]/check",
                    "kind": "run",
                    "status": "failed",
                    "iteration": 1,
                    "error": "boom",
                    "version": 4,
                },
                {
                    "run_id": record.id,
                    "path": "fix/check",
                    "instance": "fix[0]/check",
                    "kind": "run",
                    "status": "done",
                    "version": 3,
                },  # older, arriving late: the higher version stays
            ]
            await updates_db.append(db, chat.id, [("node_state", s) for s in states])
        finally:
            await db.close()
        runs = await flows.list_runs(wpb.ListRunsRequest(chat_id=chat.id), headers=api_env.headers)
        with pytest.raises(ConnectError) as negative:
            await flows.list_runs(wpb.ListRunsRequest(chat_id=chat.id, limit=-1), headers=api_env.headers)
    (run,) = runs.runs
    assert (run.workflow, run.status, MessageToDict(run.inputs)) == ("tdd", "running", {"task": "x"})
    assert [n.id for n in run.nodes][:3] == ["write_test", "red", "fix"]
    shown = {s.path: (s.status, s.instance, s.error) for s in run.states}
    assert shown == {"write_test": ("done", "write_test", ""), "fix/check": ("failed", "fix[1]/check", "boom")}
    assert run.last_seq > 0
    assert negative.value.code == Code.INVALID_ARGUMENT and negative.value.message.startswith("limit:")
    status, doc = await rest(api_env, "GET", f"/api/chats/{chat.id}/runs")
    assert status == 200 and doc["runs"][0]["states"][0]["path"] == "write_test"


async def test_a_node_approval_is_listed_with_its_question_and_answered_only_with_a_choice(
    api_env: ApiEnv, project: pb.Project
) -> None:
    headers = api_env.headers
    async with ChatServiceClient(api_env.url) as chats, ApprovalServiceClient(api_env.url) as approvals:
        chat = await chats.create_chat(pb.CreateChatRequest(project_id=project.id), headers=headers)
        db = await Database.open(api_env.settings.database_url, min_size=1)
        try:
            text = workflow_library.BUILTIN.joinpath("plan-then-build.yaml").read_text()
            run = RunRecord(
                id="00000000-0000-4000-8000-000000000002",
                chat_id=chat.id,
                workflow="plan-then-build",
                source="builtin/plan-then-build.yaml",
                workflow_text=PinnedText("plan-then-build", "builtin/plan-then-build.yaml", text),
            )
            await runs_db.create(db, run)
            asked, _ = await approvals_db.ask_node(
                db,
                chat.id,
                key="node:r/planning/approve",
                question="Build this plan?",
                choices=("build", "revise", "stop"),
                run_id=run.id,
                node="planning[0]/approve",
            )
        finally:
            await db.close()
        (listed,) = (
            await approvals.list_pending_approvals(cpb.ListPendingApprovalsRequest(chat_id=chat.id), headers=headers)
        ).approvals
        assert (listed.id, listed.kind, listed.question, list(listed.choices)) == (
            asked.id,
            "node",
            "Build this plan?",
            ["build", "revise", "stop"],
        )
        assert (listed.run_id, listed.node) == (run.id, "planning[0]/approve")
        with pytest.raises(ConnectError) as approve:
            await approvals.approve(cpb.ApproveRequest(approval_id=asked.id), headers=headers)
        assert approve.value.code == Code.INVALID_ARGUMENT and approve.value.message.endswith(
            "it is a choice: answer with one of build, revise, stop"
        )
        with pytest.raises(ConnectError) as wrong:
            await approvals.choose(cpb.ChooseRequest(approval_id=asked.id, choice="yes"), headers=headers)
        assert wrong.value.code == Code.INVALID_ARGUMENT
        assert wrong.value.message == "choice: 'yes' is not one of build, revise, stop"
        with pytest.raises(ConnectError) as nobody:  # a right choice reaches the workflow: none runs here
            await approvals.choose(
                cpb.ChooseRequest(approval_id=asked.id, choice="revise", note="smaller"), headers=headers
            )
        assert nobody.value.code == Code.FAILED_PRECONDITION and "not running" in nobody.value.message


async def test_a_number_input_too_large_for_a_number_is_refused_naming_it(api_env: ApiEnv, project: pb.Project) -> None:
    """JSON may hold an integer of any length; as a `number` input it is refused (400 naming the
    input), not left to overflow in the check (500)."""
    write(project, "scaled", SCALED)
    await trust(api_env, project)
    for value in (10**400, -(10**309)):
        body = {"project_id": project.id, "workflow": "scaled", "inputs": {"ratio": value}}
        status, doc = await rest(api_env, "POST", "/api/chats", body)
        assert status == 400, doc
        assert doc["detail"].startswith("inputs.ratio: must be a finite number"), doc
    body = {"project_id": project.id, "workflow": "scaled", "inputs": {"ratio": 10**300}}
    assert (await rest(api_env, "POST", "/api/chats", body))[0] == 201, "a large number that is a number is fine"


async def test_an_integer_input_past_what_an_expression_holds_is_refused_naming_it(
    api_env: ApiEnv, project: pb.Project
) -> None:
    """An integer input is read by expressions, whose integers are 64-bit: a larger one was taken
    when the chat was created and then paused every run of it (`must be an integer, not double`)."""
    for value in (2**63, -(2**63) - 1, 10**30):
        body = {"project_id": project.id, "workflow": "tdd", "inputs": {"task": "x", "max_rounds": value}}
        status, doc = await rest(api_env, "POST", "/api/chats", body)
        assert status == 400, (value, doc)
        assert doc["detail"].startswith("inputs.max_rounds: must be an integer from"), doc
    async with ChatServiceClient(api_env.url) as chats:
        request = pb.CreateChatRequest(project_id=project.id, workflow="tdd")
        request.inputs.CopyFrom(struct({"task": "x", "max_rounds": 1e30}))
        with pytest.raises(ConnectError) as exc:
            await chats.create_chat(request, headers=api_env.headers)
        assert exc.value.code == Code.INVALID_ARGUMENT and exc.value.message.startswith("inputs.max_rounds")
    body = {"project_id": project.id, "workflow": "tdd", "inputs": {"task": "x", "max_rounds": 2**63 - 1}}
    assert (await rest(api_env, "POST", "/api/chats", body))[0] == 201


async def test_a_budget_usd_input_that_is_no_budget_is_refused_naming_it(api_env: ApiEnv, project: pb.Project) -> None:
    """An input named budget_usd becomes the chat's budget: one no budget can be (negative, or more
    than the most a budget may be) is refused when the chat is created, as PUT .../budget refuses it."""
    write(project, "capped", CAPPED)
    await trust(api_env, project)
    for value in (-3, 1e12, 1_000_001):
        body = {"project_id": project.id, "workflow": "capped", "inputs": {"budget_usd": value}}
        status, doc = await rest(api_env, "POST", "/api/chats", body)
        assert status == 400, (value, doc)
        assert doc["detail"].startswith("inputs.budget_usd: must be a number of dollars from 0 to 1,000,000"), doc
    body = {"project_id": project.id, "workflow": "capped", "inputs": {"budget_usd": 1e-7}}
    status, doc = await rest(api_env, "POST", "/api/chats", body)
    assert status == 400 and doc["detail"].startswith("inputs.budget_usd: must be 0 (no budget) or at least"), doc
    body = {"project_id": project.id, "workflow": "capped", "inputs": {"budget_usd": 2.5}}
    assert (await rest(api_env, "POST", "/api/chats", body))[0] == 201


async def test_inputs_too_large_for_a_run_to_carry_are_refused_naming_them(
    api_env: ApiEnv, project: pb.Project
) -> None:
    """A run carries its inputs through Temporal, which fails a workflow task past 2 MB of payloads: a
    chat created with a 3 MB task never got past its first workflow task."""
    body = {"project_id": project.id, "workflow": "tdd", "inputs": {"task": "x" * 3_000_000}}
    status, doc = await rest(api_env, "POST", "/api/chats", body)
    assert status == 400, doc
    assert doc["detail"].startswith("inputs: are 3,000,"), doc
    body = {"project_id": project.id, "workflow": "tdd", "inputs": {"task": "x" * 150_000}}
    assert (await rest(api_env, "POST", "/api/chats", body))[0] == 201


TEMPLATED = """name: templated
inputs:
  model: {type: model, default: "scripted:demo"}
entry: draft
nodes:
  - {id: draft, type: call_llm, model: "{{inputs.model}}", prompt: Draft it.}
"""
NAMED_MODEL = TEMPLATED.replace("name: templated", "name: named") + (
    '  - {id: review, type: call_llm, model: "anthropic:claude-sonnet-4-6", prompt: Review it.}\n'
    "edges:\n"
    "  - {from: draft, default: review}\n"
)
PRESET_MODEL = """name: preset-model
entry: plan
nodes:
  - {id: plan, type: agent, preset: strict}
"""
CALLS_NAMED = """name: calls-named
entry: child
nodes:
  - {id: child, type: workflow, workflow: named}
"""


async def test_a_workflow_naming_a_model_without_a_key_is_refused_naming_the_node_and_the_key(
    api_env: ApiEnv, project: pb.Project
) -> None:
    """A chat on a workflow whose node names `anthropic:...` (itself, through its preset, or in a
    workflow it runs) was created without a key for it, and paused later at that node's first call.
    A model chosen by an expression is the run's to check: that workflow is taken."""
    for name, text in {"named": NAMED_MODEL, "preset-model": PRESET_MODEL, "calls-named": CALLS_NAMED}.items():
        write(project, name, text)
    write(project, "templated", TEMPLATED)
    strict = Path(project.path) / ".reliant" / "presets" / "strict.yaml"
    strict.parent.mkdir(parents=True, exist_ok=True)
    strict.write_text("model: openai:gpt-5.4\n")
    await trust(api_env, project)
    expected = {
        "named": "node `review` uses model 'anthropic:claude-sonnet-4-6'",
        "preset-model": "node `plan` (preset `strict`) uses model 'openai:gpt-5.4'",
        "calls-named": "workflow named's node `review` uses model 'anthropic:claude-sonnet-4-6'",
    }
    for name, where in expected.items():
        status, doc = await rest(api_env, "POST", "/api/chats", {"project_id": project.id, "workflow": name})
        assert status == 400, (name, doc)
        assert doc["detail"].startswith(f"workflow: {name} cannot run: {where}: "), doc
        key = "RELIANT_OPENAI_API_KEY" if "openai" in where else "RELIANT_ANTHROPIC_API_KEY"
        assert key in doc["detail"], doc
    status, doc = await rest(api_env, "POST", "/api/chats", {"project_id": project.id, "workflow": "templated"})
    assert status == 201, doc


async def test_a_default_chat_of_a_project_whose_own_agent_workflow_names_a_model_without_a_key_is_refused(
    api_env: ApiEnv, project: pb.Project
) -> None:
    """A project's `.reliant/workflows/agent.yaml` shadows the default workflow. A chat that named no
    workflow (or `agent`) without inputs was made without a look at it, and paused at its node's
    first call for want of a key. It is refused naming the node and the key. A project whose
    files cannot be read (its daemon is away) still gets its default chat, as before: its run
    reads them when the daemon is back."""
    write(project, "agent", "name: agent\nentry: work\nnodes:\n  - {id: work, type: agent, model: 'anthropic:x-1'}\n")
    await trust(api_env, project)
    for body in ({"project_id": project.id}, {"project_id": project.id, "workflow": "agent"}):
        status, doc = await rest(api_env, "POST", "/api/chats", body)
        assert status == 400, (body, doc)
        assert doc["detail"].startswith("workflow: agent cannot run: node `work` uses model 'anthropic:x-1': "), doc
        assert "RELIANT_ANTHROPIC_API_KEY" in doc["detail"], doc

    db = await Database.open(api_env.settings.database_url, min_size=1)
    try:
        away = await projects_db.create(db, name="away", daemon_id="d-away", path=project.path)
    finally:
        await db.close()
    status, doc = await rest(api_env, "POST", "/api/chats", {"project_id": away.id})
    assert status == 201 and doc["workflow"] == "agent", doc
