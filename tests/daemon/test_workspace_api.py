"""The workspace services over real HTTP (ConnectRPC) -> api -> NATS -> gateway -> daemon: MCP, files,
terminals, worktrees and background processes recorded in Postgres."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import json
import os
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.bus import Bus
from reliant.clients.daemons import call_tool
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.db import Database
from reliant.domain.tools import ToolCall
from reliant.gateway.role import GatewayRole
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1 import workspace_pb2 as pb
from reliant.wire.v1.chat_connect import ProjectServiceClient
from reliant.wire.v1.workspace_connect import (
    DirectoryServiceClient,
    FileSystemServiceClient,
    McpServiceClient,
    ProcessServiceClient,
    TerminalServiceClient,
    WorktreeServiceClient,
)
from reliant.worker.recorder import ProcessRecorder
from tests.conftest import Infra
from tests.support import RoleRunner, eventually

TEST_SERVER = str(Path(__file__).parent / "servers" / "reliant_test_mcp.py")
HEADERS = {"authorization": "Bearer test-api-token"}


@dataclass
class Env:
    url: str
    settings: Settings
    workspace: Path
    project_id: str
    bus: Bus


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
async def env(infra: Infra, migrated_db: Database, tmp_path: Path) -> AsyncIterator[Env]:
    api_port, gateway_port = free_port(), free_port()
    workspace = (tmp_path / "workspace").resolve()
    workspace.mkdir()
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "config", "user.email", "t@example.test")
    git(workspace, "config", "user.name", "Test")
    (workspace / "app.py").write_text("print('v1')\n")
    (workspace / ".gitignore").write_text("*.log\n")
    (workspace / ".reliant").mkdir()
    (workspace / ".reliant" / "mcp.json").write_text(
        json.dumps({"mcpServers": {"test": {"command": sys.executable, "args": [TEST_SERVER]}}})
    )
    git(workspace, "add", ".")
    git(workspace, "commit", "-q", "-m", "first")
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=infra.database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        codec_key=infra.codec_key,
        temporal_task_queue=f"ws-{uuid.uuid4().hex[:8]}",
        api_port=api_port,
        api_token="test-api-token",
        gateway_port=gateway_port,
        gateway_address=f"127.0.0.1:{gateway_port}",
        daemon_token="daemon-secret",
        daemon_id=f"d-{uuid.uuid4().hex[:8]}",
        heartbeat_interval=0.5,
        heartbeat_timeout=3.0,
    )
    url = f"http://127.0.0.1:{api_port}"
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(RoleRunner(GatewayRole(settings)))
        await stack.enter_async_context(RoleRunner(DaemonRole(settings)))
        await stack.enter_async_context(RoleRunner(ApiRole(settings)))
        bus = await Bus.connect(infra.nats_url, infra.nats_token)
        stack.push_async_callback(bus.close)
        recorder = ProcessRecorder(bus, migrated_db)
        await recorder.start()
        stack.push_async_callback(recorder.shutdown)
        async with ProjectServiceClient(url) as projects:

            async def create() -> chat_pb2.Project:
                request = chat_pb2.CreateProjectRequest(path=str(workspace), daemon_id=settings.daemon_id)
                return await projects.create_project(request, headers=HEADERS)

            project = await eventually(create, timeout=20)
        yield Env(url, settings, workspace, project.id, bus)


async def test_mcp_servers_are_listed_restarted_disabled_and_enabled(env: Env) -> None:
    async with McpServiceClient(env.url) as mcp, ProjectServiceClient(env.url) as projects:
        held = await mcp.list_mcp_servers(pb.ListMcpServersRequest(project_id=env.project_id), headers=HEADERS)
        assert held.trust == "untrusted" and not held.servers and [s.name for s in held.untrusted] == ["test"]
        assert held.trust_note == f"not trusted: 1 server would run: {sys.executable} {TEST_SERVER}"
        trust = await projects.get_project_trust(
            chat_pb2.GetProjectTrustRequest(project_id=env.project_id), headers=HEADERS
        )
        await projects.trust_project(
            chat_pb2.TrustProjectRequest(project_id=env.project_id, fingerprint=trust.fingerprint), headers=HEADERS
        )

        async def healthy() -> pb.ListMcpServersResponse | None:
            listed = await mcp.list_mcp_servers(pb.ListMcpServersRequest(project_id=env.project_id), headers=HEADERS)
            return listed if listed.servers and listed.servers[0].status == "healthy" else None

        listed = await eventually(healthy, timeout=30)
        server = listed.servers[0]
        assert server.name == "test" and server.transport == "stdio" and "mcp__test__echo" in server.tools
        assert listed.files == [str(env.workspace / ".reliant" / "mcp.json")]
        restarted = await mcp.restart_mcp_server(
            pb.McpServerRequest(project_id=env.project_id, name="test"), headers=HEADERS
        )
        assert restarted.status == "healthy" and restarted.pid != server.pid and restarted.restarts == 1
        off = await mcp.set_mcp_server_enabled(
            pb.SetMcpServerEnabledRequest(project_id=env.project_id, name="test", enabled=False), headers=HEADERS
        )
        assert off.status == "disabled"
        on = await mcp.set_mcp_server_enabled(
            pb.SetMcpServerEnabledRequest(project_id=env.project_id, name="test", enabled=True), headers=HEADERS
        )
        assert on.status == "healthy"
        with pytest.raises(ConnectError) as missing:
            await mcp.restart_mcp_server(pb.McpServerRequest(project_id=env.project_id, name="nope"), headers=HEADERS)
        assert missing.value.code is Code.INVALID_ARGUMENT


async def test_files_tree_read_save_conflict_search_and_traversal(env: Env) -> None:
    (env.workspace / "debug.log").write_text("noise\n")
    async with FileSystemServiceClient(env.url) as fs:
        listed = await fs.list_directory(pb.ListDirectoryRequest(project_id=env.project_id), headers=HEADERS)
        names = [e.name for e in listed.entries]
        assert ".reliant" in names and "app.py" in names and "debug.log" not in names and ".git" not in names
        read = await fs.read_file(pb.ReadFileRequest(project_id=env.project_id, path="app.py"), headers=HEADERS)
        assert read.text == "print('v1')\n" and not read.binary
        saved = await fs.save_file(
            pb.SaveFileRequest(project_id=env.project_id, path="app.py", text="print('v2')\n", base_sha256=read.sha256),
            headers=HEADERS,
        )
        (env.workspace / "app.py").write_text("print('someone else')\n")
        with pytest.raises(ConnectError) as conflict:
            await fs.save_file(
                pb.SaveFileRequest(
                    project_id=env.project_id, path="app.py", text="print('v3')\n", base_sha256=saved.sha256
                ),
                headers=HEADERS,
            )
        assert conflict.value.code is Code.FAILED_PRECONDITION and "changed on disk" in conflict.value.message
        found = await fs.search_files(
            pb.SearchFilesRequest(project_id=env.project_id, query="someone", content=True), headers=HEADERS
        )
        assert [(m.path, m.line) for m in found.matches] == [("app.py", 1)]
        (env.workspace / "etc").symlink_to("/etc")
        for path in ("../x", "/etc/passwd", "etc/passwd"):
            with pytest.raises(ConnectError) as refused:
                await fs.read_file(pb.ReadFileRequest(project_id=env.project_id, path=path), headers=HEADERS)
            assert refused.value.code is Code.INVALID_ARGUMENT and "outside the workspace" in refused.value.message


async def test_a_terminal_streams_to_a_client_that_types_resizes_reattaches_and_closes(env: Env) -> None:
    async with TerminalServiceClient(env.url) as terms:
        term = await terms.open_terminal(
            pb.OpenTerminalRequest(project_id=env.project_id, cols=90, rows=20, command=["bash", "--norc", "-i"]),
            headers=HEADERS,
        )
        assert term.state == "running" and term.id.startswith(env.settings.daemon_id + ".")
        received = bytearray()
        ended: list[pb.TerminalOutput] = []

        async def follow() -> None:
            async for out in terms.attach_terminal(pb.AttachTerminalRequest(terminal_id=term.id), headers=HEADERS):
                if out.closed:
                    ended.append(out)
                    return
                if out.data:
                    assert out.offset == len(received)  # no gap, no duplicate
                    received.extend(out.data)

        stream = asyncio.create_task(follow())
        await terms.send_terminal_input(
            pb.TerminalInputRequest(terminal_id=term.id, data=b"echo hi-$((40+2))\r"), headers=HEADERS
        )
        await eventually(lambda: b"hi-42" in received)
        await terms.resize_terminal(pb.ResizeTerminalRequest(terminal_id=term.id, cols=120, rows=40), headers=HEADERS)
        await terms.send_terminal_input(
            pb.TerminalInputRequest(terminal_id=term.id, data=b"stty size\r"), headers=HEADERS
        )
        await eventually(lambda: b"40 120" in received)
        # A reload: attach again from an offset; the bytes after it come again, exactly.
        middle = len(received) // 2
        again = bytearray()
        async for out in terms.attach_terminal(
            pb.AttachTerminalRequest(terminal_id=term.id, offset=middle), headers=HEADERS
        ):
            assert out.offset == middle + len(again)
            again.extend(out.data)
            if len(again) >= len(received) - middle:
                break
        assert bytes(again) == bytes(received[middle:])
        listed = await terms.list_terminals(pb.ListTerminalsRequest(project_id=env.project_id), headers=HEADERS)
        assert [t.id for t in listed.terminals] == [term.id]
        closed = await terms.close_terminal(pb.CloseTerminalRequest(terminal_id=term.id), headers=HEADERS)
        assert closed.state == "exited"
        await asyncio.wait_for(stream, 10)
        assert ended and ended[0].reason == "closed on request"
        with pytest.raises(ConnectError) as gone:
            await terms.send_terminal_input(pb.TerminalInputRequest(terminal_id=term.id, data=b"x"), headers=HEADERS)
        assert gone.value.code is Code.NOT_FOUND


async def test_worktrees_are_created_inspected_and_removed(env: Env, migrated_db: Database) -> None:
    async with WorktreeServiceClient(env.url) as trees, FileSystemServiceClient(env.url) as fs:
        tree = await trees.create_worktree(
            pb.CreateWorktreeRequest(project_id=env.project_id, name="feature"), headers=HEADERS
        )
        assert tree.path == str(env.workspace / ".reliant" / "worktrees" / "feature") and tree.state == "active"
        await fs.save_file(
            pb.SaveFileRequest(project_id=env.project_id, worktree_id=tree.id, path="new.txt", text="hello\n"),
            headers=HEADERS,
        )
        assert (Path(tree.path) / "new.txt").read_text() == "hello\n" and not (env.workspace / "new.txt").exists()
        status = await trees.get_worktree_status(pb.WorktreeRequest(worktree_id=tree.id), headers=HEADERS)
        assert status.branch == "reliant/feature" and [(f.path, f.worktree) for f in status.files] == [("new.txt", "?")]
        diff = await trees.get_worktree_diff(pb.WorktreeDiffRequest(worktree_id=tree.id), headers=HEADERS)
        assert "+hello" in diff.diff and list(diff.files) == ["new.txt"]
        listed = await trees.list_worktrees(pb.ListWorktreesRequest(project_id=env.project_id), headers=HEADERS)
        assert [w.id for w in listed.worktrees] == [tree.id]
        with pytest.raises(ConnectError):
            await trees.create_worktree(
                pb.CreateWorktreeRequest(project_id=env.project_id, name="../out"), headers=HEADERS
            )
        with pytest.raises(ConnectError) as dirty:
            await trees.remove_worktree(pb.RemoveWorktreeRequest(worktree_id=tree.id), headers=HEADERS)
        assert dirty.value.code is Code.FAILED_PRECONDITION, dirty.value
        assert "uncommitted changes to 1 file (new.txt)" in dirty.value.message and Path(tree.path, "new.txt").exists()
        removed = await trees.remove_worktree(
            pb.RemoveWorktreeRequest(worktree_id=tree.id, force=True, delete_branch=True), headers=HEADERS
        )
        assert removed.state == "removed" and not Path(tree.path).exists()


async def test_a_deleted_chats_worktrees_are_listed_orphaned_and_removed_like_any(
    env: Env, migrated_db: Database
) -> None:
    """Two agents of a chat had real git worktrees (one with the user's uncommitted notes.txt); the
    chat is deleted and their records with it. ListWorktrees (include_orphaned) names both, with
    their branch and uncommitted files, and not the project's recorded worktree; removing the dirty
    one by its path is refused unless forced, a recorded one cannot be removed that way, and the
    CLI lists and removes the other. They used to stay on disk with nothing in reliant showing them."""
    root = env.workspace / ".reliant" / "worktrees"
    chat = await migrated_db.fetchrow(
        "INSERT INTO chats (project_id, model, title) VALUES (%s, 'm', 't') RETURNING id", (env.project_id,)
    )
    assert chat is not None
    for name in ("agent-dirty", "agent-clean"):
        git(env.workspace, "worktree", "add", "-q", "-b", f"reliant/{name}", str(root / name))
        await migrated_db.execute(
            "INSERT INTO agents (id, chat_id, call_key, depth, name, task, workflow, status, worktree_path,"
            " worktree_branch, worktree_state) VALUES (%s, %s, %s, 1, %s, 't', 'w', 'done', %s, %s, 'active')",
            (str(uuid.uuid4()), chat["id"], name, name, str(root / name), f"reliant/{name}"),
        )
    (root / "agent-dirty" / "notes.txt").write_text("the user's notes\n")
    async with WorktreeServiceClient(env.url) as trees:
        recorded = await trees.create_worktree(
            pb.CreateWorktreeRequest(project_id=env.project_id, name="recorded"), headers=HEADERS
        )

        async def orphaned() -> list[tuple[str, str, int]]:
            request = pb.ListWorktreesRequest(project_id=env.project_id, include_orphaned=True)
            listed = await trees.list_worktrees(request, headers=HEADERS)
            assert [w.id for w in listed.worktrees] == [recorded.id] and not listed.orphaned_problem
            return sorted((o.path, o.branch, o.uncommitted) for o in listed.orphaned)

        assert await orphaned() == [], "the agents' records name theirs"
        listed = await trees.list_worktrees(pb.ListWorktreesRequest(project_id=env.project_id), headers=HEADERS)
        assert sorted((a.name, a.branch, a.path, a.state, a.chat_id) for a in listed.agents) == [
            ("agent-clean", "reliant/agent-clean", str(root / "agent-clean"), "active", str(chat["id"])),
            ("agent-dirty", "reliant/agent-dirty", str(root / "agent-dirty"), "active", str(chat["id"])),
        ], "listed as the agents' own"
        code, out = await cli(env, "worktree", "list", "--project", str(env.workspace))
        assert code == 0 and "agent     agent-clean" in out and f"reliant agents --chat {str(chat['id'])[:8]}" in out, (
            out
        )
        await migrated_db.execute("DELETE FROM chats WHERE id = %s", (chat["id"],))
        clean, dirty = str(root / "agent-clean"), str(root / "agent-dirty")
        assert await orphaned() == [(clean, "reliant/agent-clean", 0), (dirty, "reliant/agent-dirty", 1)]
        plain = await trees.list_worktrees(pb.ListWorktreesRequest(project_id=env.project_id), headers=HEADERS)
        assert not plain.orphaned, "only asked for"

        remove = pb.RemoveWorktreeRequest(project_id=env.project_id, orphaned_path=dirty, delete_branch=True)
        with pytest.raises(ConnectError) as refused:
            await trees.remove_worktree(remove, headers=HEADERS)
        assert refused.value.code is Code.FAILED_PRECONDITION, refused.value
        assert "uncommitted changes to 1 file (notes.txt)" in refused.value.message
        assert (root / "agent-dirty" / "notes.txt").exists()
        with pytest.raises(ConnectError) as recorded_one:
            request = pb.RemoveWorktreeRequest(project_id=env.project_id, orphaned_path=recorded.path)
            await trees.remove_worktree(request, headers=HEADERS)
        assert recorded_one.value.code is Code.NOT_FOUND and Path(recorded.path).is_dir()
        remove.force = True
        removed = await trees.remove_worktree(remove, headers=HEADERS)
        assert (removed.state, removed.branch) == ("removed", "reliant/agent-dirty") and not Path(dirty).exists()
        assert await orphaned() == [(clean, "reliant/agent-clean", 0)]

    code, out = await cli(env, "worktree", "list", "--project", str(env.workspace))
    assert code == 0 and "orphaned  agent-clean" in out and "clean" in out and clean in out, out
    code, out = await cli(env, "worktree", "remove", clean, "--delete-branch")
    assert code == 0 and "removed" in out and not Path(clean).exists(), out
    branches = subprocess.run(["git", "branch", "--list", "reliant/agent-*"], cwd=env.workspace, capture_output=True)
    assert branches.stdout == b""


async def test_background_processes_are_listed_streamed_and_killed(env: Env) -> None:
    call = ToolCall(
        "bg-api",
        "shell",
        {"command": "for i in 1 2 3; do echo line-$i; done; sleep 300", "run_in_background": True},
        chat_id="",
        workspace=str(env.workspace),
    )
    started = (await call_tool(env.bus, env.settings.daemon_id, call, timeout=30)).result
    process_id = started.data["process_id"]
    async with ProcessServiceClient(env.url) as procs:

        async def listed() -> list[pb.Process]:
            found = await procs.list_processes(pb.ListProcessesRequest(project_id=env.project_id), headers=HEADERS)
            return [p for p in found.processes if p.id == process_id and p.state == "running"]

        (process,) = await eventually(listed)
        assert process.command.startswith("for i in") and process.daemon_id == env.settings.daemon_id
        output = bytearray()
        final: list[pb.Process] = []

        async def follow() -> None:
            request = pb.StreamProcessOutputRequest(process_id=process_id, follow=True)
            async for out in procs.stream_process_output(request, headers=HEADERS):
                output.extend(out.data)
                if out.HasField("process") and out.process.state != "running":
                    final.append(out.process)
                    return

        stream = asyncio.create_task(follow())
        await eventually(lambda: b"line-3" in output)
        killed = await procs.kill_process(pb.KillProcessRequest(process_id=process_id), headers=HEADERS)
        assert killed.state == "killed"
        await asyncio.wait_for(stream, 10)
        assert final[0].state == "killed" and bytes(output) == b"line-1\nline-2\nline-3\n"

        async def recorded_killed() -> bool:
            found = await procs.list_processes(pb.ListProcessesRequest(project_id=env.project_id), headers=HEADERS)
            return any(p.id == process_id and p.state == "killed" for p in found.processes)

        await eventually(recorded_killed)


async def cli(env: Env, *args: str, stdin: int | None = None, stdout: int | None = None) -> tuple[int, str]:
    """Run `reliant ARGS` against the test's api without blocking its event loop (the api's options
    go before a `--` in ARGS)."""
    split = args.index("--") if "--" in args else len(args)
    options = ["--api-url", env.url, "--token", "test-api-token"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reliant",
        *args[:split],
        *options,
        *args[split:],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "RELIANT_DATA_DIR": str(env.workspace.parent / "cli-data")},
        stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=stdout if stdout is not None else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if stdout is None else stdout,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, (out or b"").decode()


async def test_the_cli_manages_mcp_servers_and_worktrees(env: Env) -> None:
    where = ["--project", str(env.workspace)]
    code, out = await cli(env, "mcp", "list", *where)
    assert code == 0 and out.startswith("test ") and " untrusted " in out, out
    assert f"not trusted: 1 server would run: {sys.executable} {TEST_SERVER}" in out
    code, out = await cli(env, "trust", str(env.workspace))  # no terminal to ask in: says how
    assert code == 2 and f"command: {sys.executable} {TEST_SERVER}" in out
    assert f"run: reliant trust {env.workspace} --yes --api-url {env.url}" in out
    code, out = await cli(env, "trust", str(env.workspace), "--yes")
    assert code == 0 and f"trusted {env.workspace} (sha256:" in out, out

    async def listed() -> str | None:
        code, out = await cli(env, "mcp", "list", *where)
        return out if code == 0 and " healthy " in out else None

    out = await eventually(listed, timeout=60)
    assert out.startswith("test ") and "stdio" in out and "tools" in out
    code, out = await cli(env, "mcp", "disable", "test", *where)
    assert (code, out) == (0, "test: disabled\n")
    code, out = await cli(env, "mcp", "enable", "test", *where)
    assert (code, out) == (0, "test: healthy\n")
    code, out = await cli(env, "mcp", "restart", "nope", *where)
    assert code == 1 and "no MCP server 'nope'" in out

    code, out = await cli(env, "worktree", "create", "cli-tree", *where)
    assert code == 0 and "reliant/cli-tree" in out
    tree_id = out.split()[0]
    (env.workspace / ".reliant" / "worktrees" / "cli-tree" / "x.txt").write_text("x\n")
    code, out = await cli(env, "worktree", "status", tree_id)
    assert code == 0 and "?? x.txt" in out
    code, out = await cli(env, "worktree", "diff", tree_id)
    assert code == 0 and "+x" in out
    code, out = await cli(env, "worktree", "remove", tree_id, "--force", "--delete-branch")
    assert code == 0 and "removed" in out


async def test_reliant_term_attaches_a_local_pty_in_raw_mode(env: Env) -> None:
    master, slave = os.openpty()
    os.set_blocking(master, False)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    try:
        task = asyncio.create_task(
            cli(
                env,
                "term",
                "--project",
                str(env.workspace),
                "--",
                "bash",
                "--norc",
                "--noprofile",
                "-i",
                stdin=slave,
                stdout=slave,
            )
        )
        seen = bytearray()

        def screen() -> str:
            with contextlib.suppress(BlockingIOError, OSError):
                seen.extend(os.read(master, 65536))
            return seen.decode("utf-8", "replace")

        await eventually(lambda: "Ctrl-] detaches" in screen() and screen().rstrip().endswith(("#", "$")), timeout=30)
        os.write(master, b"echo raw-$((20+22)); stty size\r")
        await eventually(lambda: "raw-42" in screen() and "33 101" in screen(), timeout=20)
        os.write(master, b"exit 5\r")
        code, _ = await asyncio.wait_for(task, 30)
        assert code == 5 and "[terminal closed: the shell exited]" in screen()
    finally:
        os.close(master)
        os.close(slave)


async def test_a_server_added_from_the_mcp_tab_is_written_and_waits_for_trust(env: Env) -> None:
    async with McpServiceClient(env.url) as mcp:
        added = await mcp.add_mcp_server(
            pb.AddMcpServerRequest(
                project_id=env.project_id, name="files", command="npx", args=["-y", "server-files"], env={"ROOT": "."}
            ),
            headers=HEADERS,
        )
        written = env.workspace / ".reliant" / "mcp.json"
        assert added.file == str(written) and added.trust == "untrusted"
        assert "2 servers would run" in added.trust_note
        doc = json.loads(written.read_text())
        assert doc["mcpServers"]["files"] == {"command": "npx", "args": ["-y", "server-files"], "env": {"ROOT": "."}}
        assert "test" in doc["mcpServers"], "the servers already there are kept"
        listed = await mcp.list_mcp_servers(pb.ListMcpServersRequest(project_id=env.project_id), headers=HEADERS)
        assert sorted(s.name for s in listed.untrusted) == ["files", "test"] and not listed.servers
        for bad, why in (
            (pb.AddMcpServerRequest(project_id=env.project_id, name="files", command="x"), "already has a server"),
            (pb.AddMcpServerRequest(project_id=env.project_id, name="a b", command="x"), "name 'a b'"),
            (pb.AddMcpServerRequest(project_id=env.project_id, name="web", url="ftp://x"), "http:// or https://"),
            (pb.AddMcpServerRequest(project_id=env.project_id, name="none"), "command is required"),
        ):
            with pytest.raises(ConnectError) as refused:
                await mcp.add_mcp_server(bad, headers=HEADERS)
            assert refused.value.code is Code.INVALID_ARGUMENT and why in refused.value.message, refused.value.message
        assert json.loads(written.read_text()) == doc


async def test_a_project_that_is_not_a_repository_says_so_and_git_init_makes_worktrees_possible(
    env: Env, tmp_path: Path
) -> None:
    plain = (tmp_path / "plain").resolve()
    plain.mkdir()
    (plain / "notes.txt").write_text("hello\n")
    async with ProjectServiceClient(env.url) as projects, WorktreeServiceClient(env.url) as worktrees:
        repo = await worktrees.get_repository(pb.RepositoryRequest(project_id=env.project_id), headers=HEADERS)
        assert repo.git and repo.commits and repo.branch == "main" and not repo.problem
        project = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(plain), daemon_id=env.settings.daemon_id), headers=HEADERS
        )
        repo = await worktrees.get_repository(pb.RepositoryRequest(project_id=project.id), headers=HEADERS)
        assert not repo.git and repo.problem == f"{plain} is not a git repository, and worktrees are made with git."
        with pytest.raises(ConnectError) as raw:
            await worktrees.create_worktree(pb.CreateWorktreeRequest(project_id=project.id, name="x"), headers=HEADERS)
        assert "is not a git repository" in raw.value.message and "fatal" not in raw.value.message
        made = await worktrees.init_repository(
            pb.InitRepositoryRequest(project_id=project.id, commit=True), headers=HEADERS
        )
        assert made.git and made.commits and not made.problem and made.identity
        log = subprocess.run(["git", "log", "--format=%s", "--name-only"], cwd=plain, capture_output=True, text=True)
        assert "Initial commit" in log.stdout and "notes.txt" in log.stdout
        tree = await worktrees.create_worktree(
            pb.CreateWorktreeRequest(project_id=project.id, name="first"), headers=HEADERS
        )
        assert (Path(tree.path) / "notes.txt").read_text() == "hello\n"
        with pytest.raises(ConnectError) as again:
            await worktrees.init_repository(pb.InitRepositoryRequest(project_id=project.id), headers=HEADERS)
        assert "already is a git repository" in again.value.message


async def test_the_directory_picker_lists_directories_and_never_the_data_dir_or_system_ones(
    env: Env, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("a file: not listed\n")
    (tmp_path / ".hidden").mkdir()
    async with DirectoryServiceClient(env.url) as dirs:
        listed = await dirs.list_directories(pb.ListDirectoriesRequest(path=str(tmp_path)), headers=HEADERS)
        names = {e.name: e for e in listed.entries}
        assert listed.path == str(tmp_path.resolve()) and listed.daemon_id == env.settings.daemon_id
        assert "workspace" in names and names["workspace"].git and names["workspace"].usable
        assert "data" not in names, "the data dir (its secrets) is never offered"
        assert "notes.txt" not in names and ".hidden" not in names
        shown = await dirs.list_directories(
            pb.ListDirectoriesRequest(path=str(tmp_path), show_hidden=True), headers=HEADERS
        )
        assert ".hidden" in {e.name for e in shown.entries}
        top = await dirs.list_directories(pb.ListDirectoriesRequest(path="/"), headers=HEADERS)
        assert not top.usable and top.parent == "" and not {"etc", "usr", "proc"} & {e.name for e in top.entries}
        home = await dirs.list_directories(pb.ListDirectoriesRequest(path="~"), headers=HEADERS)
        assert home.path == str(Path.home().resolve())
        for path, why in (
            ("/etc", "system directory"),
            (str(env.settings.data_dir / "secrets"), "data dir"),
            ("relative/dir", "absolute"),
        ):
            with pytest.raises(ConnectError) as refused:
                await dirs.list_directories(pb.ListDirectoriesRequest(path=path), headers=HEADERS)
            assert refused.value.code is Code.INVALID_ARGUMENT and why in refused.value.message, refused.value.message


async def test_an_api_shutting_down_ends_open_terminal_and_process_streams_at_once(env: Env) -> None:
    """A page keeps a terminal attached and a process's output followed: stopping the api ends both
    cleanly (the page attaches again elsewhere) instead of waiting out the server's graceful
    shutdown and having them cancelled with a traceback."""
    call = ToolCall(
        "bg-shutdown",
        "shell",
        {"command": "echo started; sleep 300", "run_in_background": True},
        chat_id="",
        workspace=str(env.workspace),
    )
    process_id = (await call_tool(env.bus, env.settings.daemon_id, call, timeout=30)).result.data["process_id"]
    port = free_port()
    role = RoleRunner(ApiRole(dataclasses.replace(env.settings, api_port=port)))
    url = f"http://127.0.0.1:{port}"
    async with role, TerminalServiceClient(url) as terms, ProcessServiceClient(url) as procs:
        term = await terms.open_terminal(
            pb.OpenTerminalRequest(project_id=env.project_id, command=["bash", "--norc", "-i"]), headers=HEADERS
        )
        seen: dict[str, list[bool]] = {"terminal": [], "process": []}

        async def attached() -> None:
            async for out in terms.attach_terminal(pb.AttachTerminalRequest(terminal_id=term.id), headers=HEADERS):
                seen["terminal"].append(out.closed)

        async def followed() -> None:
            request = pb.StreamProcessOutputRequest(process_id=process_id, follow=True)
            async for out in procs.stream_process_output(request, headers=HEADERS):
                seen["process"].append(out.HasField("process"))

        streams = [asyncio.create_task(attached()), asyncio.create_task(followed())]
        await eventually(lambda: seen["terminal"] and seen["process"])
        began = time.perf_counter()
        await role.stop()
        await asyncio.wait_for(asyncio.gather(*streams), 5)  # both end, without an error
        assert time.perf_counter() - began < 1.5, "the streams waited for the graceful-shutdown timeout"
    async with TerminalServiceClient(env.url) as terms:
        await terms.close_terminal(pb.CloseTerminalRequest(terminal_id=term.id), headers=HEADERS)
