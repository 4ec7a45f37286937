"""How a tool call and its result look in the terminal: one line for the call, one for what came of
it — every outcome with its own symbol, word and colour, so a failed command never reads as "ok" —
then what the user needs to see under it (an edit's diff, the last lines of a failure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from reliant.cli.shown import revealed
from reliant.domain.chat import ToolState
from reliant.domain.tool_outcome import ToolOutcome, tool_outcome

MAX_DIFF_LINES = 40
TAIL_LINES = 6
SUMMARY_KEYS = ("command", "path", "pattern", "url", "query")
SUMMARY_CHARS = 100


@dataclass(frozen=True, slots=True)
class Look:
    symbol: str
    style: str


LOOKS: dict[ToolOutcome, Look] = {
    ToolOutcome.OK: Look("✓", "green"),
    ToolOutcome.EXIT_NONZERO: Look("✗", "red"),
    ToolOutcome.ERROR: Look("!", "bold red"),
    ToolOutcome.REFUSED: Look("⊘", "magenta"),
    ToolOutcome.TIMEOUT: Look("◷", "yellow"),
    ToolOutcome.INTERRUPTED: Look("↯", "yellow"),
    ToolOutcome.DENIED: Look("⊗", "blue"),
    ToolOutcome.CANCELLED: Look("■", "bright_black"),
}

# What the payload's `status` word says about the run, for updates recorded before `outcome` was.
_STATES = {
    "ok": ToolState.COMPLETED,
    "error": ToolState.FAILED,
    "interrupted": ToolState.INTERRUPTED,
    "denied": ToolState.DENIED,
}


def summary(tool: str, args: Mapping[str, Any]) -> str:
    """One line saying what a tool call does (cut at SUMMARY_CHARS, with an ellipsis)."""
    for key in SUMMARY_KEYS:
        if key in args:
            text = " ".join(revealed(str(args[key])).split())
            return f"{tool} {text[:SUMMARY_CHARS]}{'…' if len(text) > SUMMARY_CHARS else ''}"
    return tool


def whole(tool: str, args: Mapping[str, Any]) -> list[str]:
    """What a tool call does, uncut, every line of it: what an approval asks about. The first line
    is the tool with the first line of its command (or path...), the others follow indented."""
    for key in SUMMARY_KEYS:
        if key in args:
            first, *more = revealed(str(args[key])).splitlines() or [""]
            return [f"{tool} {first}", *(f"    {line}" for line in more)]
    return [tool]


def outcome_of(payload: Mapping[str, Any]) -> ToolOutcome:
    """A tool_finished payload's outcome (derived as the worker does when an older one has none)."""
    try:
        return ToolOutcome(str(payload.get("outcome", "")))
    except ValueError:
        pass
    state = _STATES.get(str(payload.get("status", "")), ToolState.FAILED)
    return tool_outcome(state, payload.get("data") or {}, str(payload.get("error") or ""))


def call_line(tool: str, args: Mapping[str, Any], *, again: bool = False) -> Text:
    line = Text("● ", style="bright_black" if again else "cyan")
    name, _, rest = summary(tool, args).partition(" ")
    line.append(name, style="bold")
    if rest:
        line.append(" " + rest)
    return line


def result_line(payload: Mapping[str, Any]) -> Text:
    outcome = outcome_of(payload)
    look = LOOKS[outcome]
    data = payload.get("data") or {}
    error = " ".join(str(payload.get("error") or "").split())
    seconds = float(payload.get("duration_ms") or 0) / 1000
    word = {
        ToolOutcome.OK: "ok",
        ToolOutcome.EXIT_NONZERO: f"exit {_exit_code(data)}",
        ToolOutcome.ERROR: "failed",
        ToolOutcome.REFUSED: "refused",
        ToolOutcome.TIMEOUT: "timed out",
        ToolOutcome.INTERRUPTED: "interrupted",
        ToolOutcome.DENIED: "denied",
        ToolOutcome.CANCELLED: "cancelled",
    }[outcome]
    line = Text("  └ ", style="bright_black")
    line.append(f"{look.symbol} {word}", style=look.style)
    if seconds and outcome not in (ToolOutcome.DENIED, ToolOutcome.CANCELLED):
        line.append(f" ({seconds:.2f}s)", style="bright_black")
    detail = _detail(outcome, error)
    if detail:
        line.append(f": {detail[:300]}", style=look.style if outcome is not ToolOutcome.OK else "")
    return line


def _exit_code(data: Mapping[str, Any]) -> int:
    try:
        return int(data.get("exit_code") or 0)
    except (TypeError, ValueError):
        return 0


def _detail(outcome: ToolOutcome, error: str) -> str:
    """The error, without the word the outcome already says."""
    if outcome is ToolOutcome.CANCELLED:
        return ""
    for word in ("refused:", "interrupted:"):
        if error.lower().startswith(word):
            return error[len(word) :].strip()
    return error


def details(payload: Mapping[str, Any]) -> list[Text]:
    """What to show under the result: an edit's diff, or why a command failed (its last lines)."""
    outcome = outcome_of(payload)
    data = payload.get("data") or {}
    if outcome is ToolOutcome.OK and isinstance(data.get("diff"), str) and data["diff"]:
        return diff_lines(data["diff"])
    if outcome in (ToolOutcome.EXIT_NONZERO, ToolOutcome.TIMEOUT, ToolOutcome.ERROR):
        output = str(payload.get("output") or "").rstrip()
        if output and output != str(payload.get("error") or "").rstrip():
            return [Text(f"    {line[:200]}", style="bright_black") for line in output.splitlines()[-TAIL_LINES:]]
    return []


def diff_lines(diff: str) -> list[Text]:
    """A unified diff, coloured, shortened to MAX_DIFF_LINES."""
    lines = diff.rstrip("\n").splitlines()
    shown = [_diff_line(line) for line in lines[:MAX_DIFF_LINES]]
    if len(lines) > MAX_DIFF_LINES:
        shown.append(Text(f"    … {len(lines) - MAX_DIFF_LINES} more lines", style="bright_black"))
    return shown


def _diff_line(line: str) -> Text:
    if line.startswith(("+++", "---")):
        style = "bold"
    elif line.startswith("+"):
        style = "green"
    elif line.startswith("-"):
        style = "red"
    elif line.startswith("@@"):
        style = "cyan"
    else:
        style = "bright_black"
    return Text(f"    {line[:200]}", style=style)


def edit_preview(tool: str, args: Mapping[str, Any]) -> list[Text]:
    """What an edit or write would change, for the approval prompt."""
    if tool == "edit":
        old = str(args.get("old_string", "")).splitlines() or [""]
        new = str(args.get("new_string", "")).splitlines() or [""]
        lines = [f"-{line}" for line in old] + [f"+{line}" for line in new]
    elif tool == "write":
        lines = [f"+{line}" for line in str(args.get("content", "")).splitlines()]
    else:
        return []
    return diff_lines("\n".join(lines))
