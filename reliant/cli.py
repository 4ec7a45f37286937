"""The `reliant` command. The one place that builds Settings and wires them to services and roles.

Heavy SDKs (temporalio, litestar, grpc, provider SDKs) are imported inside the commands that need
them, so `reliant --help` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from reliant import __version__, config, engine_cli
from reliant.errors import ReliantError

if TYPE_CHECKING:
    from reliant.supervisor import RunningInfo

app = typer.Typer(
    name="reliant",
    help="Run AI software-engineering agents on your own machine: durable, streamed, crash-safe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
server_app = typer.Typer(help="Run one role against external Postgres, NATS and Temporal.", no_args_is_help=True)
daemon_app = typer.Typer(help="The tools daemon that runs on a user's machine.", no_args_is_help=True)
app.add_typer(server_app, name="server")
app.add_typer(daemon_app, name="daemon")
app.add_typer(engine_cli.app, name="workflow")

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where reliant keeps its state [default: ~/.reliant]")
]
LogLevelOpt = Annotated[str | None, typer.Option("--log-level", help="debug, info, warning or error")]
ApiUrlOpt = Annotated[str | None, typer.Option("--api-url", help="Talk to this api instead of the local one")]
TokenOpt = Annotated[str | None, typer.Option("--token", help="API token [default: from the data dir]")]
DbUrlOpt = Annotated[str | None, typer.Option("--db-url", help="postgresql://user:password@host:port/db")]
NatsUrlOpt = Annotated[str | None, typer.Option("--nats-url", help="nats://host:port")]
NatsTokenOpt = Annotated[str | None, typer.Option("--nats-token", help="NATS auth token")]
TemporalOpt = Annotated[str | None, typer.Option("--temporal-address", help="Temporal frontend host:port")]
NamespaceOpt = Annotated[str | None, typer.Option("--temporal-namespace", help="[default: reliant]")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port to listen on")]
HostOpt = Annotated[str | None, typer.Option("--host", help="Address to bind [default: 127.0.0.1]")]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings(data_dir: Path | None, **flags: Any) -> config.Settings:
    try:
        return config.load(data_dir, **flags)
    except ReliantError as exc:
        fail(str(exc))


def setup_logging(level: str, log_file: Path | None = None) -> None:
    root = logging.getLogger()
    root.setLevel(level.upper())
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    root.addHandler(stderr)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file)
        except OSError:
            return
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        root.addHandler(handler)
    for noisy in ("temporalio.worker", "temporalio.activity", "temporalio.workflow", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def run_async(coro: Any) -> None:
    """Run a command's coroutine, turning reliant and service errors into a one-line message."""
    import embedded

    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (ReliantError, embedded.EmbeddedError) as exc:
        fail(str(exc))
    except BaseExceptionGroup as group:
        known = group.subgroup((ReliantError, embedded.EmbeddedError))
        if known is None:
            raise
        fail(str(_first(known)))


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit")] = False,
) -> None:
    if version:
        typer.echo(f"reliant {__version__}")
        raise typer.Exit(0)


# ------------------------------------------------------------------------------------------------
# reliant up / services
# ------------------------------------------------------------------------------------------------


def _print_up(info: RunningInfo, *, services_only: bool = False) -> None:
    s = info.settings
    out = typer.echo
    reused = " (reused a postgres left running)" if info.reused_postgres else ""
    out(f"reliant {__version__} is up in {info.started_in:.2f}s{reused}")
    out(f"  data dir   {s.data_dir.expanduser()}")
    for name, address in info.services.items():
        pid = info.service_pids.get(name)
        out(f"  {name:<10} {address}" + (f"   pid {pid}" if pid else ""))
    if not services_only:
        out(f"  {'api':<10} {info.api_url}")
        out(f"  {'gateway':<10} {s.gateway_address}")
        out(f"  {'worker':<10} task queue {s.temporal_task_queue}")
        out(f"  {'daemon':<10} {s.daemon_id}")
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
    log_level: LogLevelOpt = None,
) -> None:
    """Start everything on this machine: Postgres, NATS, Temporal and all roles, until Ctrl-C."""
    settings = load_settings(
        data_dir,
        api_port=port,
        host=host,
        temporal_ui=temporal_ui or None,
        log_level=log_level,
        daemon_workspaces=tuple(p.resolve() for p in workspace) if workspace else None,
    )
    setup_logging(
        settings.log_level if log_level else "warning",
        settings.data_dir.expanduser() / "logs" / "reliant.log",
    )
    from reliant.supervisor import run_up

    def ready(info: RunningInfo) -> None:
        _print_up(info)
        sys.stdout.flush()
        if demo:
            # The api runs on this thread's event loop: talk to it from another thread.
            threading.Thread(target=_set_up_demo, args=(info,), name="demo-setup", daemon=True).start()

    run_async(run_up(settings, ready))


def _set_up_demo(info: RunningInfo) -> None:
    from reliant.chat_cli import Api, find_or_create_project
    from reliant.llm import DEMO_MODEL, copy_demo_project

    target = info.settings.data_dir.expanduser().resolve() / "demo-project"
    shutil.rmtree(target, ignore_errors=True)  # start from the pristine demo every time
    copy_demo_project(target)
    try:
        project = find_or_create_project(Api(info.api_url, info.settings.api_token), str(target))
    except Exception as exc:  # noqa: BLE001 - the appliance keeps running; say what failed
        typer.echo(f"could not set up the demo project: {exc}", err=True)
        return
    typer.echo(f"\nDemo project ready at {project.path}. Try:\n")
    typer.echo(f'  reliant chat --project {project.path} --model {DEMO_MODEL} "Fix the failing test"\n')
    sys.stdout.flush()


@app.command()
def services(data_dir: DataDirOpt = None, log_level: LogLevelOpt = None) -> None:
    """Run only the embedded Postgres, NATS and Temporal, and print how to reach them."""
    settings = load_settings(data_dir, log_level=log_level)
    setup_logging(settings.log_level if log_level else "warning")
    from reliant.supervisor import run_services, services_env

    def ready(info: RunningInfo) -> None:
        _print_up(info, services_only=True)
        typer.echo("")
        typer.echo(services_env(info.settings), nl=False)
        typer.echo(f"(also written to {info.settings.data_dir.expanduser() / 'services.env'})")
        sys.stdout.flush()

    run_async(run_services(settings, ready))


# ------------------------------------------------------------------------------------------------
# reliant server api|worker|gateway, reliant daemon start
# ------------------------------------------------------------------------------------------------

ROLE_NAMES = ("api", "worker", "gateway")


@server_app.callback(invoke_without_command=True)
def server_help(ctx: typer.Context) -> None:
    """Run one role against external Postgres, NATS and Temporal."""


def _split_settings(data_dir: Path | None, role: str, **flags: Any) -> config.Settings:
    from reliant.datadir import DataDir

    settings = load_settings(data_dir, **flags)
    datadir = DataDir(settings.data_dir)
    try:
        datadir.ensure()
    except ReliantError as exc:
        fail(str(exc))
    updates: dict[str, Any] = {}
    if role == "api":
        if not settings.api_token:
            updates["api_token"] = datadir.secret("api_token")
        if not settings.api_port:
            updates["api_port"] = config.DEFAULT_API_PORT
    if role == "gateway":
        if not settings.daemon_token:
            updates["daemon_token"] = datadir.secret("daemon_token")
        if not settings.gateway_port:
            fail("the gateway needs a port: pass --port")
    missing = [
        flag
        for flag, value in (
            ("--db-url", settings.database_url if role != "gateway" else "x"),
            ("--nats-url", settings.nats_url),
            ("--temporal-address", settings.temporal_address if role != "gateway" else "x"),
        )
        if not value
    ]
    if missing:
        fail(f"`reliant server {role}` needs {', '.join(missing)} (or RELIANT_* env, see `reliant services`)")
    return settings.with_overrides(**updates)


@server_app.command("api")
def server_api(
    db_url: DbUrlOpt = None,
    nats_url: NatsUrlOpt = None,
    nats_token: NatsTokenOpt = None,
    temporal_address: TemporalOpt = None,
    temporal_namespace: NamespaceOpt = None,
    port: PortOpt = None,
    host: HostOpt = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """The api role: REST, ConnectRPC and the web UI."""
    _serve_role(
        "api",
        data_dir,
        log_level,
        database_url=db_url,
        nats_url=nats_url,
        nats_token=nats_token,
        temporal_address=temporal_address,
        temporal_namespace=temporal_namespace,
        api_port=port,
        host=host,
    )


@server_app.command("worker")
def server_worker(
    db_url: DbUrlOpt = None,
    nats_url: NatsUrlOpt = None,
    nats_token: NatsTokenOpt = None,
    temporal_address: TemporalOpt = None,
    temporal_namespace: NamespaceOpt = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """The worker role: Temporal workflows and activities (runs DB migrations at start)."""
    _serve_role(
        "worker",
        data_dir,
        log_level,
        database_url=db_url,
        nats_url=nats_url,
        nats_token=nats_token,
        temporal_address=temporal_address,
        temporal_namespace=temporal_namespace,
    )


@server_app.command("gateway")
def server_gateway(
    nats_url: NatsUrlOpt = None,
    nats_token: NatsTokenOpt = None,
    port: PortOpt = None,
    host: HostOpt = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """The gateway role: the gRPC server daemons dial into."""
    _serve_role("gateway", data_dir, log_level, nats_url=nats_url, nats_token=nats_token, gateway_port=port, host=host)


def _serve_role(role: str, data_dir: Path | None, log_level: str | None, **flags: Any) -> None:
    settings = _split_settings(data_dir, role, log_level=log_level, **flags)
    setup_logging(settings.log_level)
    from reliant.supervisor import run_split

    def ready() -> None:
        where = {
            "api": f"http://{settings.host}:{settings.api_port}",
            "gateway": f"{settings.host}:{settings.gateway_port}",
            "worker": f"task queue {settings.temporal_task_queue}",
        }[role]
        typer.echo(f"reliant {role} ready: {where}")
        sys.stdout.flush()

    run_async(run_split(settings, [role], ready))


@daemon_app.callback(invoke_without_command=True)
def daemon_help(ctx: typer.Context) -> None:
    """The tools daemon that runs on a user's machine."""


@daemon_app.command("start")
def daemon_start(
    gateway: Annotated[str, typer.Option("--gateway", help="The gateway's host:port")],
    token_file: Annotated[Path, typer.Option("--token-file", help="File holding the daemon token")],
    workspace: Annotated[list[Path] | None, typer.Option("--workspace", help="A directory tools may work in")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Shown in status [default: host name]")] = None,
    data_dir: DataDirOpt = None,
    log_level: LogLevelOpt = None,
) -> None:
    """Dial a gateway, register, and run tools for it until Ctrl-C."""
    from reliant.datadir import DataDir

    try:
        token = token_file.read_text().strip()
    except OSError as exc:
        fail(f"cannot read --token-file {token_file}: {exc.strerror}")
    if not token:
        fail(f"--token-file {token_file} is empty")
    for ws in workspace or []:
        if not ws.is_dir():
            fail(f"--workspace {ws} is not a directory")
    settings = load_settings(data_dir, log_level=log_level, daemon_name=name)
    datadir = DataDir(settings.data_dir)
    try:
        datadir.ensure()
    except ReliantError as exc:
        fail(str(exc))
    settings = settings.with_overrides(
        gateway_address=gateway,
        daemon_token=token,
        daemon_id=settings.daemon_id or datadir.identity("daemon_id", "d-"),
        daemon_workspaces=tuple(p.resolve() for p in workspace or []),
    )
    setup_logging(settings.log_level)
    from reliant.supervisor import run_split

    def ready() -> None:
        typer.echo(f"reliant daemon {settings.daemon_id} connected to {gateway}")
        sys.stdout.flush()

    run_async(run_split(settings, ["daemon"], ready))


# ------------------------------------------------------------------------------------------------
# Commands that talk to a running reliant
# ------------------------------------------------------------------------------------------------


def api_target(data_dir: Path | None, api_url: str | None, token: str | None) -> tuple[str, str]:
    """Where the running api is and its token, from flags or the data dir."""
    from reliant.datadir import DataDir
    from reliant.errors import NotRunningError

    settings = load_settings(data_dir)
    datadir = DataDir(settings.data_dir)
    url = api_url
    if not url:
        info = datadir.read_run_info()
        if not info or not info.get("api_url"):
            fail(str(NotRunningError(datadir.path)))
        url = str(info["api_url"])
    secret = token or settings.api_token
    if not secret:
        path = datadir.secrets_dir / "api_token"
        try:
            secret = path.read_text().strip()
        except OSError:
            fail(f"no api token: pass --token or set RELIANT_API_TOKEN (looked in {path})")
    return url.rstrip("/"), secret


def _connect_error(exc: Exception, url: str) -> NoReturn:
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError

    if isinstance(exc, ConnectError):
        if exc.code == Code.UNAUTHENTICATED:
            fail(f"{url} rejected the api token: {exc.message}")
        if exc.code == Code.UNAVAILABLE:
            fail(f"cannot reach reliant at {url}; is `reliant up` running? ({exc.message})")
        fail(f"{url}: {exc.code.name.lower()}: {exc.message}")
    fail(f"cannot reach reliant at {url}: {exc}")


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
        _connect_error(exc, url)
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
        typer.echo(f"  {role.role:<10} {role.instance:<40} {'online' if role.online else 'stale'}")
    typer.echo("daemons:")
    for d in resp.daemons:
        typer.echo(f"  {d.id:<16} {d.name:<20} {'online' if d.online else 'offline'}  {', '.join(d.workspaces)}")
    if resp.temporal_ui_url:
        typer.echo(f"temporal ui: {resp.temporal_ui_url}")


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
        _connect_error(exc, url)
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


def _api(data_dir: Path | None, api_url: str | None, token: str | None) -> Any:
    from reliant.chat_cli import Api

    url, secret = api_target(data_dir, api_url, token)
    return Api(url, secret)


@app.command()
def chat(
    message: Annotated[str, typer.Argument(help="What you want done (with --chat: omit to follow the chat)")] = "",
    project: Annotated[
        Path | None, typer.Option("--project", help="The project directory [default: the current directory]")
    ] = None,
    chat_id: Annotated[str | None, typer.Option("--chat", help="Continue this chat instead of starting one")] = None,
    model: Annotated[str | None, typer.Option("--model", help="scripted:demo, anthropic:MODEL or openai:MODEL")] = None,
    mode: Annotated[
        str | None,
        typer.Option("--mode", help="auto (run every tool), manual (ask before changes) or plan (read-only)"),
    ] = None,
    wait_for_gate: Annotated[
        bool, typer.Option("--wait-for-gate", help="Exit 3 when an approval or a question waits (for scripts)")
    ] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Send a message and stream the answer. Exits 0 when the turn completes, 1 on failure, 2 on a pause,
    3 with --wait-for-gate when an approval or question waits. In manual mode it asks in the terminal."""
    from connectrpc.errors import ConnectError

    from reliant.chat_cli import CliError, Gates, Renderer, run_chat

    if mode and mode not in ("auto", "manual", "plan"):
        fail(f"--mode must be auto, manual or plan, not {mode!r}")
    if not message and not chat_id:
        fail("say what you want done: reliant chat MESSAGE (or follow a chat with --chat ID)")
    api = _api(data_dir, api_url, token)
    renderer = Renderer()
    gates = Gates(api, renderer, interactive=sys.stdin.isatty(), wait_for_gate=wait_for_gate)
    try:
        code = run_chat(
            api,
            message=message,
            chat_id=chat_id or "",
            project_path=str(project or Path.cwd()),
            model=model or "",
            renderer=renderer,
            mode=mode or "",
            gates=gates,
        )
    except CliError as exc:
        fail(str(exc))
    except ConnectError as exc:
        _connect_error(exc, api.url)
    except KeyboardInterrupt:
        typer.echo("\ndetached; the chat goes on (follow it with --chat)", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@app.command()
def chats(data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None) -> None:
    """List chats, most recently active first."""
    from reliant.chat_cli import list_chats

    api = _api(data_dir, api_url, token)
    try:
        list_chats(api, sys.stdout)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        _connect_error(exc, api.url)


approvals_app = typer.Typer(help="Tool calls waiting for your approval, and the model's questions.")
app.add_typer(approvals_app, name="approvals")


@approvals_app.callback(invoke_without_command=True)
def approvals_list(
    ctx: typer.Context,
    chat_id: Annotated[str | None, typer.Option("--chat", help="Only this chat")] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """List what waits for an answer (run a subcommand to answer)."""
    if ctx.invoked_subcommand is not None:
        return
    from reliant.chat_cli import list_gates

    api = _api(data_dir, api_url, token)
    try:
        list_gates(api, chat_id or "", sys.stdout)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        _connect_error(exc, api.url)


@approvals_app.command("approve")
def approvals_approve(
    approval_id: Annotated[str, typer.Argument(help="The approval's id (see `reliant approvals`)")],
    always: Annotated[
        str | None, typer.Option("--always", help="Also allow later calls: chat, project, or prefix:COMMAND")
    ] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Approve a tool call."""
    from reliant.chat_cli import answer_approval

    scope, _, prefix = (always or "").partition(":")
    if scope not in ("", "chat", "project", "prefix") or (scope == "prefix") != bool(prefix):
        fail("--always takes chat, project or prefix:COMMAND")
    api = _api(data_dir, api_url, token)
    try:
        answer_approval(api, approval_id, approve=True, scope=scope, prefix=prefix)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        _connect_error(exc, api.url)
    typer.echo("approved")


@approvals_app.command("deny")
def approvals_deny(
    approval_id: Annotated[str, typer.Argument(help="The approval's id (see `reliant approvals`)")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why: the model reads this")] = "",
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Deny a tool call; the model is told (with your message) and goes on."""
    from reliant.chat_cli import answer_approval

    api = _api(data_dir, api_url, token)
    try:
        answer_approval(api, approval_id, approve=False, message=message)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        _connect_error(exc, api.url)
    typer.echo("denied")


@app.command()
def answer(
    question_id: Annotated[str, typer.Argument(help="The question's id (see `reliant approvals`)")],
    answers: Annotated[list[str], typer.Argument(help="One answer per question, in order")],
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Answer the model's questions (ask_user)."""
    from reliant.chat_cli import answer_question

    api = _api(data_dir, api_url, token)
    try:
        answer_question(api, question_id, answers)
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        _connect_error(exc, api.url)
    typer.echo("answered")


# ------------------------------------------------------------------------------------------------
# reliant mcp | term | worktree: a project's daemon services
# ------------------------------------------------------------------------------------------------

ProjectOpt = Annotated[
    Path | None, typer.Option("--project", help="The project directory [default: the current directory]")
]
mcp_app = typer.Typer(help="MCP servers of a project: status, restart, enable and disable.", no_args_is_help=True)
worktree_app = typer.Typer(help="Git worktrees of a project (one per chat, optionally).", no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")
app.add_typer(worktree_app, name="worktree")


def _project_path(project: Path | None) -> str:
    return str((project or Path.cwd()).resolve())


def _run_api(work: Any, api: Any) -> None:
    from reliant.chat_cli import CliError

    try:
        work()
    except CliError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as a one-line error
        _connect_error(exc, api.url)


@mcp_app.command("list")
def mcp_list(
    project: ProjectOpt = None, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """The project's MCP servers: status, transport, tools and last error."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.mcp_list(api, _project_path(project), sys.stdout), api)


def _mcp_action(
    action: str, name: str, project: Path | None, data_dir: Path | None, api_url: str | None, token: str | None
) -> None:
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.mcp_change(api, _project_path(project), name, action, sys.stdout), api)


McpNameArg = Annotated[str, typer.Argument(help="The server's name (see `reliant mcp list`)")]


@mcp_app.command("restart")
def mcp_restart(
    name: McpNameArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Restart an MCP server now."""
    _mcp_action("restart", name, project, data_dir, api_url, token)


@mcp_app.command("enable")
def mcp_enable(
    name: McpNameArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Enable an MCP server (kept by the daemon, over the config files)."""
    _mcp_action("enable", name, project, data_dir, api_url, token)


@mcp_app.command("disable")
def mcp_disable(
    name: McpNameArg,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Disable an MCP server: stopped, and its tools no longer offered."""
    _mcp_action("disable", name, project, data_dir, api_url, token)


@app.command()
def term(
    project: ProjectOpt = None,
    attach: Annotated[str | None, typer.Option("--attach", help="Re-attach to this terminal id")] = None,
    chat_id: Annotated[str | None, typer.Option("--chat", help="Open it in this chat's worktree")] = None,
    command: Annotated[list[str] | None, typer.Argument(help="Program to run [default: your $SHELL]")] = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Open a terminal in the project on its daemon and attach this one to it (Ctrl-] detaches)."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    code = 0

    def work() -> None:
        nonlocal code
        code = workspace_cli.term(
            api,
            _project_path(project),
            attach=attach or "",
            chat_id=chat_id or "",
            command=list(command or []),
            out=sys.stdout,
            err=sys.stderr,
        )

    _run_api(work, api)
    raise typer.Exit(code)


WorktreeIdArg = Annotated[str, typer.Argument(help="The worktree's id (see `reliant worktree list`)")]


@worktree_app.command("create")
def worktree_create(
    name: Annotated[str | None, typer.Argument(help="Its name [default: from the chat]")] = None,
    chat_id: Annotated[str | None, typer.Option("--chat", help="The chat whose tools run there")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Start from this commit [default: HEAD]")] = None,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """git worktree add on a new branch under <project>/.reliant/worktrees/."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(
        lambda: workspace_cli.worktree_create(
            api, _project_path(project), name or "", chat_id=chat_id or "", base=base or "", out=sys.stdout
        ),
        api,
    )


@worktree_app.command("list")
def worktree_list(
    removed: Annotated[bool, typer.Option("--removed", help="Also removed ones")] = False,
    project: ProjectOpt = None,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The project's worktrees."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.worktree_list(api, _project_path(project), removed, sys.stdout), api)


@worktree_app.command("status")
def worktree_status(
    worktree_id: WorktreeIdArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """Branch and changed files of a worktree."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.worktree_status(api, worktree_id, sys.stdout), api)


@worktree_app.command("diff")
def worktree_diff(
    worktree_id: WorktreeIdArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """What changed in a worktree since it was created (untracked files included)."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.worktree_diff(api, worktree_id, sys.stdout), api)


@worktree_app.command("remove")
def worktree_remove(
    worktree_id: WorktreeIdArg,
    force: Annotated[bool, typer.Option("--force", help="Even with uncommitted changes")] = False,
    delete_branch: Annotated[bool, typer.Option("--delete-branch", help="Also delete its branch")] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Remove a worktree's checkout."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.worktree_remove(api, worktree_id, force, delete_branch, sys.stdout), api)


@worktree_app.command("keep")
def worktree_keep(
    worktree_id: WorktreeIdArg, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """Keep a worktree and its branch, but run its chat's tools in the project again."""
    from reliant import workspace_cli

    api = _api(data_dir, api_url, token)
    _run_api(lambda: workspace_cli.worktree_detach(api, worktree_id, sys.stdout), api)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
