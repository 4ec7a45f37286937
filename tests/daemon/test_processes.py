"""Background processes: a real server started with run_in_background, its output read, its port
found, then killed; limits and bounded output."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

from embedded.ports import free_port
from reliant.daemon.events import EventSender, unframe
from reliant.daemon.processes import BackgroundProcesses, OutputRing, listening_ports
from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
from reliant.daemon.tools.background import whole_characters
from reliant.domain.tools import ToolStatus
from tests.daemon.conftest import Run, processes_in_groups
from tests.support import eventually

SERVER = (
    f'{sys.executable} -u -c "'
    "import http.server, sys; "
    "s = http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler); "
    "print('serving on', s.server_port); s.serve_forever()\" {port}"
)


def test_output_ring_keeps_the_last_bytes_by_offset() -> None:
    ring = OutputRing(keep=10)
    ring.feed(b"0123456789")
    ring.feed(b"abcde")
    assert (ring.start, ring.total) == (5, 15)
    assert ring.read(0, 100) == (5, b"56789abcde")
    assert ring.read(12, 2) == (12, b"cd")
    assert ring.tail(3) == (12, b"cde")
    assert whole_characters("añ".encode()[:2]) == 1 and whole_characters("añ".encode()) == 3


async def test_a_background_server_runs_is_read_found_listening_and_killed(
    tmp_path: Path, workspace: Path, run: Run, host: ToolHost
) -> None:
    port = free_port()
    started = await run("shell", command=SERVER.format(port=port) + "; echo never", run_in_background=True)
    assert started.status is ToolStatus.OK and started.data["background"] is True
    process_id, pgid = started.data["process_id"], started.data["pid"]
    assert started.output.startswith(f"started background process {process_id}")

    async def serving() -> str:
        out = await run("shell_output", process_id=process_id)
        assert f"serving on {port}" in out.output, out.output  # the whole line, not a part written so far
        return out.output

    await eventually(serving, timeout=15)
    # Requests show up in its output; the filter keeps only matching lines.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET /missing HTTP/1.0\r\n\r\n")
        conn.recv(100)

    async def logged() -> bool:
        out = await run("shell_output", process_id=process_id, tail=50, filter="GET /missing")
        return "404" in out.output

    await eventually(logged, timeout=10)

    async def port_found() -> bool:
        out = await run("shell_list")
        return f"listening on {port}" in out.output

    await eventually(port_found, timeout=10)
    assert host.processes.get(process_id).ports == [port]

    waited = await run("shell_wait", process_id=process_id, timeout=0.2)
    assert waited.data["timed_out"] is True and "still running" in waited.output
    killed = await run("shell_kill", process_id=process_id)
    assert killed.status is ToolStatus.OK and killed.data["state"] == "killed"
    await eventually(lambda: processes_in_groups([pgid]) == [], timeout=5)
    done = await run("shell_wait", process_id=process_id)
    assert done.data["timed_out"] is False and "killed" in done.output
    again = await run("shell_kill", process_id=process_id)
    assert "already killed" in again.output
    unknown = await run("shell_output", process_id="p-0000000000")
    assert unknown.status is ToolStatus.ERROR and "no background process" in unknown.error


async def test_exit_codes_offsets_and_events(workspace: Path) -> None:
    sent: list[tuple[str, bytes]] = []

    async def publish(subject: str, payload: bytes) -> None:
        sent.append((subject, payload))

    events = EventSender(publish)
    processes = BackgroundProcesses(events)
    host = ToolHost("d-proc", BUILTIN_TOOLS, [workspace], processes=processes)
    try:
        proc = await processes.start("printf 'one\\ntwo\\n'; exit 7", workspace, {"PATH": "/usr/bin:/bin"})
        await processes.wait(proc.id, 10)
        assert (proc.state, proc.exit_code, proc.output.total) == ("exited", 7, 8)
        await eventually(lambda: any(json.loads(p)["event"] == "exited" for s, p in sent if s == "proc.state"))
        states = [json.loads(p) for s, p in sent if s == "proc.state"]
        assert [s["event"] for s in states] == ["started", "exited"]
        assert states[-1]["process"]["exit_code"] == 7 and states[-1]["boot_id"] == processes.boot_id
        frames = [unframe(p) for s, p in sent if s == f"proc.{proc.id}.output"]
        assert b"".join(d for _, d in frames) == b"one\ntwo\n" and frames[0][0] == 0
        sync = json.loads(processes.sync_payload())
        assert sync["boot_id"] == processes.boot_id and [p["id"] for p in sync["processes"]] == [proc.id]
    finally:
        await host.shutdown()
        await events.shutdown()


async def test_shutdown_stops_every_background_process(workspace: Path, host: ToolHost, run: Run) -> None:
    pgids = []
    for i in range(3):
        started = await run("shell", command=f"sleep 300 & sleep 301 # {i}", run_in_background=True)
        pgids.append(started.data["pid"])
    await eventually(lambda: len(processes_in_groups(pgids)) >= 9)  # wrapper, watchdog, bash, sleeps
    await host.shutdown()
    await eventually(lambda: processes_in_groups(pgids) == [], timeout=5)
    assert all(not p.running for p in host.processes.in_workspace())


def test_listening_ports_of_this_process() -> None:
    import os

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        found = listening_ports([os.getpgid(0)])
        assert port in found.get(os.getpgid(0), [])
