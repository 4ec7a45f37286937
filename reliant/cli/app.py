"""The `reliant` typer app, the options its commands share, and how a command fails, logs and
reaches a running api. Command groups live in the sibling modules and register on `app`."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from reliant import __version__, config, redaction
from reliant.errors import ReliantError
from reliant.redaction import RedactingFilter

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
    typer.echo(f"error: {redaction.redact(message)}", err=True)  # the secrets the settings hold masked
    raise typer.Exit(code)


def load_settings(data_dir: Path | None, **flags: Any) -> config.Settings:
    try:
        settings = config.load(data_dir, **flags)
    except ReliantError as exc:
        fail(str(exc))
    redaction.remember(*config.secret_values(settings))  # kept out of every log line from now on
    return settings


def setup_logging(level: str, log_file: Path | None = None) -> None:
    from reliant.cli.log_lines import ExpectedFailures

    root = logging.getLogger()
    root.setLevel(level.upper())
    # An expected failure is one line (its traceback only at debug level); secrets are masked first.
    one_line = ExpectedFailures(keep_tracebacks=root.level <= logging.DEBUG)
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    stderr.addFilter(RedactingFilter())  # every handler masks the secrets the process knows
    stderr.addFilter(one_line)
    root.addHandler(stderr)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))  # private
            handler = logging.FileHandler(log_file)
        except OSError:
            return
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        handler.addFilter(one_line)
        root.addHandler(handler)
    for noisy in ("temporalio.worker", "temporalio.activity", "temporalio.workflow", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # One warning per reconnect attempt while Postgres is away; reliant.db says it once.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR if root.level > logging.DEBUG else logging.DEBUG)


def run_async(coro: Any) -> None:
    """Run a command's coroutine, turning reliant and service errors into a one-line message."""
    import embedded

    try:
        _run_bounded(coro)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (ReliantError, embedded.EmbeddedError) as exc:
        fail(str(exc))
    except BaseExceptionGroup as group:
        known = group.subgroup((ReliantError, embedded.EmbeddedError))
        if known is None:
            raise
        fail(str(_first(known)))


# How long what a command's coroutine left running may take to end once it has returned.
LEFTOVER_TIMEOUT = 3.0
_UNNAMED_TASK = re.compile(r"Task-\d+")


def _run_bounded(coro: Any) -> None:
    """asyncio.run, except that what `coro` leaves running cannot keep the process alive: a task
    that swallows every cancel (asyncio.run waits for it forever) or a call stuck on a thread of
    the loop's executor. If they have not ended LEFTOVER_TIMEOUT seconds after `coro` did, the
    process exits (1) with one line naming them."""
    watchdog: threading.Timer | None = None
    try:
        with asyncio.Runner() as runner:
            try:
                runner.run(coro)
            finally:
                watchdog = threading.Timer(LEFTOVER_TIMEOUT, _exit_leaving, args=(runner.get_loop(),))
                watchdog.daemon = True
                watchdog.start()
            # Leaving the runner cancels the tasks left and waits for them and the executor's threads.
    finally:
        if watchdog is not None:
            watchdog.cancel()


def _exit_leaving(loop: asyncio.AbstractEventLoop) -> None:
    names = sorted({t.get_name() for t in asyncio.all_tasks(loop) if not t.done()})
    roles = [name for name in names if not _UNNAMED_TASK.fullmatch(name)]
    if roles:
        what = f"role {', '.join(roles)} would not stop"
    elif names:
        what = f"{len(names)} task(s) would not stop"
    else:
        what = "a call still running on a thread would not end"
    typer.echo(f"error: {what}; exiting without it", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


# The api a command talks to: from --context (for this run), and where each URL came from (errors say).
_chosen_context: list[str] = []
_url_sources: dict[str, str] = {}


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit")] = False,
    context: Annotated[
        str | None, typer.Option("--context", help="Talk to this api of cli.toml (see `reliant context`)")
    ] = None,
) -> None:
    if version:
        typer.echo(f"reliant {__version__}")
        raise typer.Exit(0)
    if context:
        _chosen_context[:] = [context]


# Commands that talk to a running reliant


def api_target(data_dir: Path | None, api_url: str | None, token: str | None) -> tuple[str, str]:
    """Where the api is and its token: --api-url; else --context; else RELIANT_API_URL (with
    RELIANT_API_TOKEN[_FILE]); else RELIANT_CONTEXT or cli.toml's current context; else the
    `reliant up` of the data dir (and its token)."""
    from reliant.appliance.datadir import DataDir
    from reliant.cli import contexts
    from reliant.errors import NotRunningError

    settings = load_settings(data_dir)
    if settings.api_ca:  # the CLI's HTTP clients verify https against SSL_CERT_FILE when it is set
        os.environ["SSL_CERT_FILE"] = str(Path(settings.api_ca).expanduser())
    try:
        context = contexts.selected(_chosen_context[0]) if _chosen_context else None
        if context is None and not api_url and not settings.api_url:
            context = contexts.selected(None)
        context_token = context.read_token() if context and not api_url else ""
    except ReliantError as exc:
        fail(str(exc))
    datadir = DataDir(settings.data_dir)
    if api_url:
        url, source = api_url, "--api-url"
    elif context is not None:
        url, source = context.api_url, f"context {context.name}"
    elif settings.api_url:
        url, source = settings.api_url, "RELIANT_API_URL"
    else:
        info = datadir.read_run_info()
        if not info or not info.get("api_url"):
            elsewhere = "RELIANT_API_URL, --api-url or `reliant context add`"
            pid = info.get("pid") if info else None
            if info and info.get("mode") == "services" and isinstance(pid, int) and _alive(pid):
                fail(
                    f"`reliant services` (pid {pid}) runs here, in {datadir.path}, without an api: start one with"
                    f" `reliant server api` and the settings of {datadir.path / 'services.env'}, then point the CLI"
                    f" at it: {elsewhere}"
                )
            fail(str(NotRunningError(datadir.path)) + f", or point the CLI at an api: {elsewhere}")
        url, source = str(info["api_url"]), f"the reliant up of {datadir.path}"
    secret = token or context_token or settings.api_token
    if not secret:
        path = datadir.secrets_dir / "api_token"
        try:
            secret = path.read_text().strip()
        except OSError:
            fail(f"no api token for {url}: pass --token or set RELIANT_API_TOKEN_FILE (looked in {path})")
    url = url.rstrip("/")
    _url_sources[url] = source
    return url, secret


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def connect_error(exc: Exception, url: str) -> NoReturn:
    """One sentence for the user about a failed call to the api at `url` (a closed stdout is not
    one: it goes on up, and the command ends quietly like other Unix tools)."""
    from connectrpc.code import Code
    from connectrpc.errors import ConnectError

    if isinstance(exc, BrokenPipeError):
        raise exc
    source = _url_sources.get(url.rstrip("/"), "")
    local = source.startswith("the reliant up of")
    tried = f"the api at {url}" + (f" ({source})" if source else "")
    if isinstance(exc, ConnectError):
        if exc.code == Code.UNAUTHENTICATED:
            fail(f"{tried} does not accept this token (pass --token, or check --data-dir or the context's token)")
        if exc.code == Code.UNAVAILABLE and "certificate" in exc.message.lower():
            fail(f"cannot verify {tried}: {exc.message} (its CA: RELIANT_API_CA or SSL_CERT_FILE)")
        if exc.code == Code.UNAVAILABLE:
            hint = "is `reliant up` running?" if local else f"{_unavailable_reason(exc)}"
            fail(f"cannot reach {tried}: {hint}")
        if exc.code == Code.DEADLINE_EXCEEDED:
            fail(f"the api at {url} did not answer in time")
        if exc.code in (Code.INTERNAL, Code.UNKNOWN):
            fail(f"the api at {url} failed: {exc.message} (see its log)")
        fail(exc.message)
    if isinstance(exc, OSError):
        fail(f"cannot reach {tried}: {exc.strerror or exc}")
    fail(f"talking to the api at {url} failed: {exc}")


def _unavailable_reason(exc: Exception) -> str:
    message = str(getattr(exc, "message", "") or exc)
    return message or "it does not answer"


def api_client(data_dir: Path | None, api_url: str | None, token: str | None) -> Any:
    from reliant.cli.api import Api

    url, secret = api_target(data_dir, api_url, token)
    return Api(url, secret)
