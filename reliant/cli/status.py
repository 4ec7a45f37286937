"""`reliant status` and `reliant doctor`: what runs, and proof that the whole chain works."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from reliant.cli.app import ApiUrlOpt, DataDirOpt, TokenOpt, api_target, app, connect_error
from reliant.cli.serve import TEMPORAL_UI_NOTE


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show roles, services, ports and daemons of a running reliant."""
    url, secret = api_target(data_dir, api_url, token)
    from google.protobuf.json_format import MessageToDict

    from reliant.wire.v1 import system_pb2
    from reliant.wire.v1.system_connect import SystemServiceClientSync

    try:
        with SystemServiceClientSync(url, proto_json=True, timeout_ms=10_000) as client:
            resp = client.get_status(system_pb2.GetStatusRequest(), headers={"authorization": f"Bearer {secret}"})
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, url)
    if as_json:
        typer.echo(json.dumps(MessageToDict(resp, preserving_proto_field_name=True), indent=2, sort_keys=True))
        return
    typer.echo(f"reliant {resp.version} at {resp.api_url}")
    typer.echo("services:")
    for svc in resp.services:
        state = "ok" if svc.ok else f"FAILING: {svc.error}"
        typer.echo(f"  {svc.name:<10} {svc.address:<22} {state}")
    typer.echo("roles:")
    for role in resp.roles:
        waiting = f", waiting for {role.detail['waiting_for']}" if role.detail.get("waiting_for") else ""
        typer.echo(f"  {role.role:<10} {role.instance:<40} {'online' if role.online else 'stale'}{waiting}")
    typer.echo("daemons:")
    for d in resp.daemons:
        typer.echo(f"  {d.id:<16} {d.name:<20} {'online' if d.online else 'offline'}  {', '.join(d.workspaces)}")
    if resp.temporal_ui_url:
        typer.echo(f"temporal ui: {resp.temporal_ui_url} ({TEMPORAL_UI_NOTE})")


@app.command()
def doctor(
    daemon: Annotated[str | None, typer.Option("--daemon", help="Only this daemon id")] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Prove the whole chain works: workflow -> activity -> NATS -> gateway -> daemon -> back."""
    url, secret = api_target(data_dir, api_url, token)
    from reliant.wire.v1 import system_pb2
    from reliant.wire.v1.system_connect import SystemServiceClientSync

    try:
        with SystemServiceClientSync(url, proto_json=True, timeout_ms=90_000) as client:
            headers = {"authorization": f"Bearer {secret}"}
            status_resp = client.get_status(system_pb2.GetStatusRequest(), headers=headers)
            resp = client.run_doctor(system_pb2.RunDoctorRequest(daemon_id=daemon or ""), headers=headers)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        connect_error(exc, url)
    healthy = True
    for svc in status_resp.services:
        mark = "ok " if svc.ok else "FAIL"
        healthy = healthy and svc.ok
        typer.echo(f"[{mark}] {svc.name:<9} {svc.address:<22} {svc.latency_ms:7.2f} ms  {svc.error}")
    if resp.error:
        typer.echo(f"[FAIL] doctor: {resp.error}")
    for result in resp.results:
        mark = "ok " if result.ok else "FAIL"
        typer.echo(f"[{mark}] daemon {result.daemon_id} ({result.daemon_name})  workflow {resp.workflow_id}")
        for hop in result.hops:
            typer.echo(f"         {hop.name:<58} {hop.ms:8.2f} ms")
        typer.echo(f"         {'total':<58} {result.total_ms:8.2f} ms")
        if result.error:
            typer.echo(f"         error: {result.error}")
    if not (healthy and resp.ok):
        raise typer.Exit(1)
