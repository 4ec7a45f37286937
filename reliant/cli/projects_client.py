"""`reliant project`, `reliant trust` and the project questions `reliant chat` asks: which directories
are projects, and whether the user trusts what a project's own files would run (MCP server commands,
workflow files). Everything goes through the api's ProjectService, like the web UI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.cli.api import Api, CliError
from reliant.cli.shown import printable, revealed
from reliant.wire.v1 import chat_pb2 as pb

EXIT_NEEDS_ANSWER = 2  # a question only the user can answer, and no terminal to ask it in

Ask = Callable[[str], bool]  # a yes/no question; False is the default


class NeedsAnswer(CliError):
    """The command needs a yes from the user: exit 2 with what to run instead."""


def real_path(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def _listed(api: Api) -> list[pb.Project]:
    with api.projects() as projects:
        return list(projects.list_projects(pb.ListProjectsRequest(), headers=api.headers).projects)


def find(api: Api, path_or_id: str) -> pb.Project | None:
    """The registered project with this id, or at this directory."""
    wanted = real_path(path_or_id)
    return next((p for p in _listed(api) if path_or_id in (p.id, p.path) or p.path == wanted), None)


def containing(api: Api, path: str) -> pb.Project | None:
    """The registered project at this directory, or else the innermost one that contains it."""
    wanted = Path(real_path(path))
    inside = [p for p in _listed(api) if wanted == Path(p.path) or wanted.is_relative_to(p.path)]
    return max(inside, key=lambda p: len(p.path), default=None)


def add(api: Api, path: str, name: str = "", daemon_id: str = "") -> pb.Project:
    with api.projects() as projects:
        request = pb.CreateProjectRequest(path=real_path(path), name=name, daemon_id=daemon_id)
        return projects.create_project(request, headers=api.headers)


@dataclass
class Registration:
    """How `reliant chat` (without --project) comes to a project: the one at (or around) the current
    directory; a directory outside every project is registered only when the user says so. With
    `daemon_id` (--daemon) that project must be on that daemon, and a new one is registered there."""

    api: Api
    ask: Ask | None  # None: no terminal to ask in
    register_hint: str  # the command that registers the directory, for the no-terminal case
    daemon_id: str = ""

    def project(self, path: str) -> pb.Project:
        found = containing(self.api, path)
        where = real_path(path)
        if found is not None and self.daemon_id and found.daemon_id != self.daemon_id:
            raise CliError(
                f"{where} is in project {found.path} on daemon {found.daemon_id}, not on daemon {self.daemon_id}"
                f" (leave out --daemon to use it, or register a project on {self.daemon_id} with --project)"
            )
        if found is not None:
            return found
        if self.ask is None:
            raise NeedsAnswer(f"{where} is not a registered project; register it with: {self.register_hint}")
        if not self.ask(f"Register {where} as a project?"):
            raise CliError(f"{where} was not registered; nothing was sent")
        return add(self.api, where, daemon_id=self.daemon_id)


# -- trust ----------------------------------------------------------------------------------------


def get_trust(api: Api, project: pb.Project) -> pb.ProjectTrust:
    with api.projects() as projects:
        return projects.get_project_trust(pb.GetProjectTrustRequest(project_id=project.id), headers=api.headers)


def grant(api: Api, project: pb.Project, fingerprint: str) -> pb.ProjectTrust:
    with api.projects() as projects:
        request = pb.TrustProjectRequest(project_id=project.id, fingerprint=fingerprint)
        return projects.trust_project(request, headers=api.headers)


def revoke(api: Api, project: pb.Project) -> pb.ProjectTrust:
    with api.projects() as projects:
        return projects.untrust_project(pb.UntrustProjectRequest(project_id=project.id), headers=api.headers)


def describe(trust: pb.ProjectTrust, project: pb.Project, out: TextIO) -> None:
    """Everything the project's files would make reliant run, in full."""
    if trust.state == "changed":
        out.write(f"{project.path} changed since you trusted it: trust must be renewed.\n")
    else:
        out.write(f"{project.path} is not trusted.\n")
    out.write("Once trusted, its files make reliant run:\n")
    for item in trust.items:
        if item.kind == "workflow":
            describe_workflow(item, out)
            continue
        if item.kind == "preset":
            out.write(f"  preset {revealed(item.name)} (the model and instructions of the agents that use it)\n")
            continue
        if item.kind == "script":
            out.write(f"  script {revealed(item.name)} (the project's own file that a command above runs)\n")
            continue
        state = ""
        if item.error:
            state = f" [not usable: {printable(item.error)}]"
        elif item.disabled:
            state = " [disabled]"
        name, transport, source = revealed(item.name), printable(item.transport), revealed(item.source)
        out.write(f"  MCP server {name} ({transport}, from {source}){state}\n")
        if item.command_line:
            out.write(f"    command: {revealed(item.command_line)}\n")
        if item.url and not item.command_line:
            out.write(f"    url: {revealed(item.url)}\n")
        if item.cwd:
            out.write(f"    in: {revealed(item.cwd)}\n")
        if item.env_names:
            out.write(f"    env: {revealed(', '.join(item.env_names))}\n")
        if item.header_names:
            out.write(f"    headers: {revealed(', '.join(item.header_names))}\n")
    for problem in trust.problems:
        out.write(f"  problem: {printable(problem)}\n")


def describe_workflow(item: pb.TrustItem, out: TextIO) -> None:
    name = revealed(item.name)
    if item.error:
        out.write(f"  workflow {name} [not usable: {printable(item.error)}]\n")
    elif not item.steps:
        out.write(f"  workflow {name} (no run step: it runs no shell command of its own)\n")
    else:
        out.write(f"  workflow {name}, whose run steps are shell commands:\n")
    for step in item.steps:
        first, *more = revealed(step.command).splitlines() or [""]
        out.write(f"    {revealed(step.step)}: {first}\n" + "".join(f"      {line}\n" for line in more))


def trust_project(
    api: Api, project: pb.Project, *, ask: Ask | None, yes: bool, trust_hint: str, out: TextIO
) -> pb.ProjectTrust:
    """`reliant trust`: show what would run, then trust exactly that (asking first unless `yes`)."""
    trust = get_trust(api, project)
    if trust.state == "none":
        out.write(f"nothing in {project.path} asks to run: there is nothing to trust\n")
        return trust
    if trust.state == "trusted":
        out.write(f"{project.path} is trusted ({trust.fingerprint})\n")
        return trust
    describe(trust, project, out)
    if not yes:
        if ask is None:
            raise NeedsAnswer(f"not trusted; to trust exactly what is shown, run: {trust_hint}")
        if not ask("Trust this project and let it run these?"):
            out.write("not trusted: the project works without them\n")
            return trust
    trusted = grant(api, project, trust.fingerprint)
    out.write(f"trusted {project.path} ({trusted.fingerprint})\n")
    return trusted


def offer_trust(api: Api, project: pb.Project, *, ask: Ask | None, trust_hint: str, err: TextIO) -> None:
    """Before a chat: if the project's files would run something and are not trusted, say so (and,
    in a terminal, offer to trust them). The chat runs either way, without them until trusted."""
    try:
        trust = get_trust(api, project)
    except ConnectError as exc:
        if exc.code is not Code.UNAVAILABLE:
            raise
        return  # the daemon is offline: the chat says so itself (it pauses)
    if trust.state not in ("untrusted", "changed") or not trust.items:
        return
    if ask is None:
        err.write(f"note: {revealed(trust.note)} (to trust it: {trust_hint})\n")
        return
    describe(trust, project, err)
    if ask("Trust this project and let it run these?"):
        grant(api, project, trust.fingerprint)
        err.write("trusted\n")
    else:
        err.write("not trusted: this chat runs without them\n")


# -- list, remove ---------------------------------------------------------------------------------


def list_projects(api: Api, out: TextIO) -> None:
    with api.projects() as projects:
        listed = projects.list_projects(pb.ListProjectsRequest(), headers=api.headers).projects
    if not listed:
        out.write("no projects yet: add one with `reliant project add PATH`\n")
    for p in listed:
        out.write(f"{p.id}  {p.name:<24} {p.path}  (daemon {p.daemon_id})\n")


def remove(api: Api, path_or_id: str, *, ask: Ask | None, yes: bool, remove_hint: str, out: TextIO) -> None:
    project = find(api, path_or_id)
    if project is None:
        raise CliError(f"no project {path_or_id!r}: see `reliant project list`")
    with api.chats() as chats:
        count = len(chats.list_chats(pb.ListChatsRequest(project_id=project.id), headers=api.headers).chats)
    question = f"Remove project {project.name} ({project.path}) and its {count} chat(s)? Its files stay on disk."
    if not yes:
        if ask is None:
            raise NeedsAnswer(f"{question} To remove it, run: {remove_hint}")
        if not ask(question):
            out.write("kept\n")
            return
    with api.projects() as projects:
        removed = projects.delete_project(pb.DeleteProjectRequest(id=project.id), headers=api.headers)
    out.write(f"removed {project.name} ({removed.chats_deleted} chat(s)); {project.path} is untouched\n")
