"""`reliant workflow schema|validate` (the format from the terminal, with no running reliant needed),
`reliant workflow list|show|run` (against a running reliant, like `reliant chat`) and
`reliant approvals choose` (a workflow's approval node). The engine is imported inside the commands
(CEL's import is not free), so `reliant --help` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from reliant.cli.app import ApiUrlOpt, DataDirOpt, TokenOpt, api_client, app, connect_error, fail
from reliant.cli.chat import approvals_app

workflow_app = typer.Typer(
    help="Workflows: list, show and run them; the format's JSON Schema, and validating files.", no_args_is_help=True
)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of workflow files (point your editor at it)."""
    from reliant import workflow_library

    typer.echo(json.dumps(workflow_library.schema(), indent=2))


@workflow_app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Workflow files (or preset files under .reliant/presets/)")],
) -> None:
    """Print every problem as file:line:col: message; exit 1 if there is any."""
    import sys

    raise typer.Exit(validate_files(files, sys.stdout))


def validate_files(paths: list[Path], out: TextIO) -> int:
    """Check each file against the built-ins, its project's workflows and presets (for a file in
    `.reliant/workflows/`) and the other files given; 0 when all are valid, else 1."""
    from reliant import workflow_library as library
    from reliant.engine import SourceText, check_definition, parse_preset

    texts: dict[Path, str] = {}
    problems = 0
    for path in paths:
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            out.write(f"{path}: cannot read: {exc.strerror if isinstance(exc, OSError) else exc}\n")
            problems += 1
    workflows = library.builtin_workflows()
    presets = library.builtin_presets()
    projects: set[Path] = set()
    for path in texts:
        project = _project_of(path)
        if project is not None:
            projects.add(project)
    for project in sorted(projects):
        workflows += library.project_workflows(project)
        presets += library.project_presets(project)
    workflows += [SourceText(p.stem, str(p), text) for p, text in texts.items() if not _is_preset(p)]
    presets += [SourceText(p.stem, str(p), text) for p, text in texts.items() if _is_preset(p)]
    catalog = library.catalog(workflows, presets)
    for path, text in texts.items():
        if _is_preset(path):
            found = parse_preset(text, str(path), path.stem)[1]
        else:
            found = check_definition(text, str(path), catalog)[1]
        for problem in found:
            out.write(f"{problem}\n")
        problems += len(found)
    if problems:
        return 1
    out.write(f"{len(texts)} file{'s' if len(texts) != 1 else ''} valid\n")
    return 0


def _is_preset(path: Path) -> bool:
    return path.resolve().parent.name == "presets"


def _project_of(path: Path) -> Path | None:
    """The project a file in `<project>/.reliant/workflows/` (or `presets/`) belongs to."""
    folder = path.resolve().parent
    if folder.name in ("workflows", "presets") and folder.parent.name == ".reliant":
        return folder.parent.parent
    return None


# -- against a running reliant ---------------------------------------------------------------------

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project", help="The project directory [default: the registered project around the current directory]"
    ),
]
InputOpt = Annotated[
    list[str] | None, typer.Option("--input", "-i", help="An input as key=value, typed by the workflow (repeatable)")
]


def _project_around(api: Any, project: Path | None) -> Any:
    """The project named, or the registered one around the current directory (None: built-ins only)."""
    from reliant.cli import projects_client

    if project is not None:
        found = projects_client.find(api, str(project))
        if found is None:
            from reliant.cli.conversation import CliError

            raise CliError(f"{project} is not a registered project: add it with `reliant project add {project}`")
        return found
    return projects_client.containing(api, str(Path.cwd()))


@workflow_app.command("list")
def list_command(
    project: ProjectOpt = None, data_dir: DataDirOpt = None, api_url: ApiUrlOpt = None, token: TokenOpt = None
) -> None:
    """The workflows a project can run: the built-ins and its own (.reliant/workflows/), and which one
    is used when a project file has a built-in's name."""
    import sys

    from reliant.cli import workflow_client
    from reliant.cli.project import run_api
    from reliant.wire.v1 import workflow_pb2 as wpb

    api = api_client(data_dir, api_url, token)

    def work() -> None:
        found = _project_around(api, project)
        with workflow_client.workflows(api) as client:
            request = wpb.ListWorkflowsRequest(project_id=found.id if found is not None else "")
            listed = client.list_workflows(request, headers=api.headers)
        if found is not None:
            sys.stdout.write(f"workflows of {found.path}:\n")
        workflow_client.print_list(listed, sys.stdout)

    run_api(work, api.url)


@workflow_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="The workflow's name (see `reliant workflow list`)")],
    project: ProjectOpt = None,
    no_source: Annotated[bool, typer.Option("--no-source", help="Leave out the source text")] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """A workflow as the project would run it: its inputs, outputs, nodes (as a tree) and source.

    Exits 1 when the definition has problems (they are printed), as `reliant workflow run` would."""
    import sys

    from reliant.cli import workflow_client
    from reliant.cli.project import run_api

    api = api_client(data_dir, api_url, token)
    problems = 0

    def work() -> None:
        nonlocal problems
        found = _project_around(api, project)
        flow = workflow_client.get(api, name, found.id if found is not None else "")
        workflow_client.print_show(flow, sys.stdout, source=not no_source)
        problems = len(flow.problems)

    run_api(work, api.url)
    if problems:
        raise typer.Exit(1)


@workflow_app.command("run")
def run_command(
    name: Annotated[str, typer.Argument(help="The workflow's name (see `reliant workflow list`)")],
    message: Annotated[str, typer.Argument(help="The request [default: the task input, if any]")] = "",
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            help="The project directory, registered if it is not yet [default: the current directory's project]",
        ),
    ] = None,
    inputs: InputOpt = None,
    model: Annotated[str | None, typer.Option("--model", help="scripted:…, anthropic:MODEL or openai:MODEL")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="auto, manual or plan")] = None,
    wait_for_gate: Annotated[
        bool, typer.Option("--wait-for-gate", help="Exit 3 when an approval or a question waits (for scripts)")
    ] = False,
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Start a chat on a workflow and stream it like `reliant chat`: its nodes as they run, the answer,
    the tool calls. Exits 0 when the run completes, 1 on failure, 2 on a pause, 3 with
    --wait-for-gate when an approval waits."""
    start_workflow_chat(
        message=message,
        project=project,
        model=model,
        mode=mode,
        wait_for_gate=wait_for_gate,
        workflow=name,
        inputs=inputs or [],
        data_dir=data_dir,
        api_url=api_url,
        token=token,
    )


def start_workflow_chat(
    *,
    message: str,
    project: Path | None,
    model: str | None,
    mode: str | None,
    wait_for_gate: bool,
    workflow: str,
    inputs: list[str],
    data_dir: Path | None,
    api_url: str | None,
    token: str | None,
    daemon: str = "",
) -> None:
    """`reliant workflow run` and `reliant chat --workflow`: a new chat on the workflow, streamed
    (`daemon`: the daemon to register the project on, if it is new)."""
    import contextlib
    import sys

    from connectrpc.errors import ConnectError

    from reliant.cli import workflow_client
    from reliant.cli.conversation import CliError, find_or_create_project, run_chat
    from reliant.cli.keyboard import Keyboard
    from reliant.cli.keyboard import usable as keyboard_usable
    from reliant.cli.project import command_hint, terminal_ask
    from reliant.cli.projects_client import EXIT_NEEDS_ANSWER, NeedsAnswer, Registration, offer_trust, real_path

    if mode and mode not in ("auto", "manual", "plan"):
        fail(f"--mode must be auto, manual or plan, not {mode!r}")
    api = api_client(data_dir, api_url, token)
    renderer = workflow_client.RunRenderer()
    interactive = keyboard_usable(sys.stdin.fileno())
    ask = terminal_ask()
    try:
        if project is not None:  # named on the command line: the explicit choice registers it
            chosen = find_or_create_project(api, str(project), daemon)
        else:
            where = real_path(str(Path.cwd()))
            on = ["--daemon", daemon] if daemon else []
            hint = command_hint("project", "add", where, *on, data_dir=data_dir, api_url=api_url)
            chosen = Registration(api, ask, hint, daemon).project(where)
        trust_hint = command_hint("trust", chosen.path, data_dir=data_dir, api_url=api_url)
        offer_trust(api, chosen, ask=ask, trust_hint=trust_hint, err=sys.stderr)
        flow = workflow_client.get(api, workflow, chosen.id)
        if flow.problems:
            first = flow.problems[0]
            raise CliError(
                f"workflow {flow.name} cannot run: {first.source}:{first.line}:{first.column}: {first.message}"
            )
        given = workflow_client.typed_inputs(flow, inputs)
        chat = workflow_client.create_chat(api, chosen, flow, given, model or "")
        sys.stderr.write(f"chat {chat.id} ({chat.model}) on workflow {flow.name} in {chosen.path}\n")
        with Keyboard(sys.stdin.fileno()) if interactive else contextlib.nullcontext() as keyboard:
            gates = workflow_client.NodeGates(
                api, renderer, interactive=interactive, wait_for_gate=wait_for_gate, keyboard=keyboard
            )
            code = run_chat(
                api,
                message=message or workflow_client.first_message(flow, given),
                chat_id=chat.id,
                project=None,
                model="",
                renderer=renderer,
                mode=mode or "",
                gates=gates,
                confirm=gates.confirm if interactive else None,
            )
    except NeedsAnswer as exc:
        fail(str(exc), EXIT_NEEDS_ANSWER)
    except CliError as exc:
        fail(str(exc))
    except ConnectError as exc:
        connect_error(exc, api.url)
    except KeyboardInterrupt:
        renderer.settle()
        typer.echo("detached; the chat goes on (follow it with --chat)", err=True)
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@approvals_app.command("choose")
def approvals_choose(
    approval_id: Annotated[str, typer.Argument(help="The approval's id (see `reliant approvals`)")],
    choice: Annotated[str, typer.Argument(help="One of the choices the workflow offers")],
    note: Annotated[str, typer.Option("--message", "-m", help="A note the workflow reads")] = "",
    data_dir: DataDirOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Answer a workflow's approval node with one of its choices."""
    from reliant.cli import workflow_client
    from reliant.cli.project import run_api

    api = api_client(data_dir, api_url, token)
    run_api(lambda: workflow_client.choose(api, approval_id, choice, note), api.url)
    typer.echo(f"chose {choice}")
