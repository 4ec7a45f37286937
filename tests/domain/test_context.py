"""How an instruction file is named to the model and in the UI."""

from __future__ import annotations

from reliant.domain.context import InstructionFile, InstructionScope


def named(path: str, directory: str = ".", scope: InstructionScope = InstructionScope.PROJECT) -> str:
    return InstructionFile(path, scope, directory, "rule").shown()


def test_a_file_is_named_by_its_own_name_inside_the_project() -> None:
    assert named("/p/AGENTS.md") == "AGENTS.md"
    assert named("/p/.reliant/instructions.md") == ".reliant/instructions.md"
    assert named("/p/api/CLAUDE.md", "api") == "api/CLAUDE.md"
    assert named("/home/u/AGENTS.md", "/home/u", InstructionScope.PARENT) == "/home/u/AGENTS.md"


def test_an_agents_worktree_under_dot_reliant_does_not_rename_its_files() -> None:
    # A sub-agent's worktree lies in the project's .reliant/worktrees/: its AGENTS.md is AGENTS.md.
    assert named("/p/.reliant/worktrees/agent-1ec561ad/AGENTS.md") == "AGENTS.md"
    assert named("/p/.reliant/worktrees/agent-1ec561ad/.reliant/instructions.md") == ".reliant/instructions.md"
