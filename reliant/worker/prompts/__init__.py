"""The system prompt, in two parts: a stable one first (guidance.py: the same for every chat of a
mode, so providers cache it across chats) and a per-chat one after it (context.py: the project, its
environment and the instruction files in effect, fixed for the chat so its turns hit the cache).

`build_system_prompt` is a pure function of its inputs; callers that run the agent (today's agent
loop, a workflow node tomorrow) give it what they know, and may replace the stable part with their
own (`base`) or add to it (`extra`).
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.domain.chat import Project
from reliant.domain.context import Environment, InstructionFile
from reliant.worker.prompts.context import render_context
from reliant.worker.prompts.guidance import guidance

# 1: the six-sentence prompt. 2: tool guidance, care and talking rules, modes, environment and
# project instructions.
PROMPT_VERSION = 2


@dataclass(frozen=True, slots=True)
class SystemPrompt:
    stable: str  # the same for every chat of a mode (and `base`/`extra`)
    context: str  # this chat's: project, environment, instructions
    version: int = PROMPT_VERSION

    def text(self) -> str:
        return f"{self.stable}\n\n{self.context}" if self.context else self.stable


def build_system_prompt(
    project: Project,
    *,
    mode: str = "auto",
    environment: Environment | None = None,
    instructions: tuple[InstructionFile, ...] = (),
    extra: str = "",
    base: str | None = None,
) -> SystemPrompt:
    """The system prompt for an agent in `project` (its path: where the agent works) in `mode`
    (auto, manual or plan). `base` replaces the built-in guidance; `extra` is appended to it."""
    stable = guidance(mode) if base is None else base
    if extra:
        stable = f"{stable}\n\n{extra}"
    return SystemPrompt(stable=stable, context=render_context(project, environment, instructions))
