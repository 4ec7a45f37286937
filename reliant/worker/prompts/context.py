"""The per-chat part of the system prompt: the project, its environment and the instruction files."""

from __future__ import annotations

from reliant.domain.chat import Project
from reliant.domain.context import Environment, InstructionFile, InstructionScope


def render_context(project: Project, environment: Environment | None, instructions: tuple[InstructionFile, ...]) -> str:
    sections = [_environment(project, environment)]
    if environment is not None and environment.tree:
        more = "\n(more entries left out)" if environment.tree_truncated else ""
        sections.append(
            "# Project layout\nThe top of the project tree (ignored files left out):\n```\n"
            + "\n".join(environment.tree)
            + f"\n```{more}"
        )
    if instructions:
        sections.append(_instructions(instructions))
    return "\n\n".join(sections)


def _environment(project: Project, env: Environment | None) -> str:
    lines = [
        "# Environment",
        f"- Project: {project.name!r}; working directory {project.path} (tool paths are relative to it)",
    ]
    if env is None:
        return "\n".join(lines)
    lines += [f"- OS: {env.os}", f"- Shell: {env.shell}", f"- Today's date: {env.date}"]
    git = env.git
    if git is None:
        lines.append("- Git: the project is not a git repository")
    else:
        where = f"on branch {git.branch}" if git.branch else "with a detached HEAD"
        head = f" at {git.head}" if git.head else " with no commits yet"
        state = "a clean working tree" if not git.changed else f"{git.changed} changed or untracked entries"
        lines.append(f"- Git: {where}{head}, {state}")
        if git.status:
            more = f"\n  … {git.changed - len(git.status)} more" if git.changed > len(git.status) else ""
            lines.append("  ```\n  " + "\n  ".join(git.status) + "\n  ```" + more)
    lines.append("(Taken when this chat started; it may have changed since.)")
    return "\n".join(lines)


def _instructions(files: tuple[InstructionFile, ...]) -> str:
    # Outermost first, so the nearer (more specific) files come later and read as overriding them.
    parents = [f for f in files if f.scope is InstructionScope.PARENT][::-1]
    project = [f for f in files if f.scope is InstructionScope.PROJECT]
    directories = sorted((f for f in files if f.scope is InstructionScope.DIRECTORY), key=lambda f: f.directory)
    out = [
        "# Project instructions",
        "The user and the project's maintainers wrote these for agents working here. Follow them. "
        "Where two disagree, the file nearer to the code being changed wins, and the user's requests "
        "in this chat win over all of them. Files of a subdirectory apply to the work under it.",
    ]
    for f in (*parents, *project, *directories):
        where = {
            InstructionScope.PARENT: f"above the project, in {f.directory}",
            InstructionScope.PROJECT: "the project root",
            InstructionScope.DIRECTORY: f"applies under {f.directory}/",
        }[f.scope]
        cut = "\n[… cut here: the file is longer]" if f.truncated else ""
        out.append(f'<instructions file="{f.shown()}" scope="{where}">\n{f.content.strip()}{cut}\n</instructions>')
    return "\n\n".join(out)
