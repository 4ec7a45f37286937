"""The YAML scripts the scripted model plays: format, lookup and validation.

```yaml
delay_ms: 10                  # optional: pause before every streamed chunk (default 0)
call_log: /tmp/calls.jsonl    # optional: one JSON line per call (relative: to the script's folder)
final_text: Nothing more.     # optional: the answer once the turns have run out
turns:                        # played in order, one per model call (see "Branches" below)
  - thinking: Let me look.    # optional, streamed before the text
    text: Reading the code.   # optional, streamed word by word
    tools:                    # optional: tool calls, ids call_<turn>_<i>
      - name: view
        input: {path: calc.py}
    delay_ms: 200             # optional: this turn's own pause
    usage: {input_tokens: 10, output_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0}
    error: {status: 429, message: slow down, retry_after: 1.5, times: 2}
  - text: Editing.
    name: edit                # optional: a name branches can jump to
    branches:                 # optional: checked, in order, before this turn plays
      - when: {tool: shell, contains: "[exit code 0]"}
        to: nothing-to-fix
    on_error: edit-failed     # shorthand for a last branch `{when: {error: true}, to: edit-failed}`
    end: true                 # optional: the script has run out after this turn
  - name: edit-failed         # turns below an `end` are reached only by branches
    text: "The edit did not go through: ${result}"
    end: true
```

A turn with `error` fails its first `times` calls (default 1) with the error its status maps to
(429/5xx retryable, others fatal), then plays normally.

Branches. Without them, the turn played is the number of assistant messages in the request (turn N
answers the request that holds N of them), so a retried call plays the same turn again. With them,
the model replays its own choices: walking the conversation, each answer played the turn after the
one before it (or, when a branch of that turn matched, the turn the branch names), and the next
answer is chosen the same way. A branch's `when` looks at the tool results the turn answers (those
of the previous turn's calls; none after a new user message) and holds when some result matches all
of its keys: `tool` (the result's tool name), `error` (true: the result is an error: the tool failed,
was interrupted, or was denied by the user or the mode; false: it is not) and `contains` (a
substring of the result's text: "[exit code 1]", "denied"). A jump is one hop: the target's own
branches are not checked; after it the script goes on with the turn below the target, unless the
target has `end: true`: after a turn with `end`, the script has run out and later requests (a new
user message, say) get `final_text`.

In a turn's `text`, `${result}` stands for the text of the first error among the results it
answers (else the last result), cut to 300 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, Usage
from reliant.llm.errors import FatalLlmError, UnknownModelError

SCRIPTS_DIR = Path(__file__).with_name("scripts")
DEFAULT_FINAL_TEXT = "That is all I have for now: the scripted model has no more turns in this script."
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SCRIPT_KEYS = frozenset({"turns", "delay_ms", "call_log", "final_text"})
_TURN_KEYS = frozenset(
    {"text", "thinking", "tools", "delay_ms", "usage", "error", "name", "branches", "on_error", "end"}
)
_BRANCH_KEYS = frozenset({"when", "to"})
_WHEN_KEYS = frozenset({"tool", "error", "contains"})
_TOOL_KEYS = frozenset({"name", "input"})
_ERROR_KEYS = frozenset({"status", "message", "retry_after", "times"})
_USAGE_KEYS = frozenset({"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"})


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ScriptedError:
    status: int
    message: str
    retry_after: float | None = None
    times: int = 1


@dataclass(frozen=True, slots=True)
class When:
    """A condition on one tool result; every key given must hold."""

    tool: str | None = None
    error: bool | None = None
    contains: str | None = None


@dataclass(frozen=True, slots=True)
class Branch:
    when: When
    to: int  # the index of the turn to play instead


@dataclass(frozen=True, slots=True)
class Turn:
    text: str = ""
    thinking: str = ""
    tools: tuple[ScriptedToolCall, ...] = ()
    delay_ms: float | None = None  # None: the script's
    usage: Usage | None = None  # None: estimated from the text
    error: ScriptedError | None = None
    name: str = ""
    branches: tuple[Branch, ...] = ()
    end: bool = False  # the script has run out after this turn


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    path: Path
    turns: tuple[Turn, ...]
    delay_ms: float = 0.0
    call_log: Path | None = None
    final_text: str = DEFAULT_FINAL_TEXT


RESULT_PLACEHOLDER = "${result}"
MAX_RESULT_QUOTE = 300


def next_turn(script: Script, messages: tuple[Message, ...]) -> tuple[int, tuple[ContentBlock, ...]]:
    """The index of the turn that answers `messages` (len(turns) or more: the script has run out),
    and the tool results it answers."""
    position = 0
    results: tuple[ContentBlock, ...] = ()
    for message in messages:
        if message.role is Role.ASSISTANT:
            played = _resolve(script, position, results)
            ended = played >= len(script.turns) or script.turns[played].end
            position = len(script.turns) if ended else played + 1
            results = ()
        elif message.role is Role.TOOL:
            results = tuple(b for b in message.blocks if b.type is BlockType.TOOL_RESULT)
        else:
            results = ()
    return _resolve(script, position, results), results


def _resolve(script: Script, position: int, results: tuple[ContentBlock, ...]) -> int:
    if position >= len(script.turns):
        return position
    for branch in script.turns[position].branches:
        if any(_holds(branch.when, r) for r in results):
            return branch.to
    return position


def _holds(when: When, result: ContentBlock) -> bool:
    return (
        (when.tool is None or result.tool_name == when.tool)
        and (when.error is None or result.is_error == when.error)
        and (when.contains is None or when.contains in result.text)
    )


def quoted_result(results: tuple[ContentBlock, ...]) -> str:
    """What `${result}` stands for: the first error among `results`, else the last one."""
    if not results:
        return ""
    chosen = next((r for r in results if r.is_error), results[-1])
    text = " ".join(chosen.text.split())
    return text if len(text) <= MAX_RESULT_QUOTE else text[: MAX_RESULT_QUOTE - 1] + "…"


def builtin_scripts() -> list[str]:
    """Names of the scripts shipped with reliant (`scripted:<name>`)."""
    return sorted(p.stem for p in SCRIPTS_DIR.glob("*.yaml"))


def script_path(name: str) -> Path:
    """The file `scripted:<name>` plays: a shipped script by name, or an absolute .yaml path."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        path = Path(name).expanduser()
        if not path.is_absolute():
            raise UnknownModelError(f"scripted:{name}", _known())
        return path
    if not _NAME.fullmatch(name) or not (SCRIPTS_DIR / f"{name}.yaml").is_file():
        raise UnknownModelError(f"scripted:{name}", _known())
    return SCRIPTS_DIR / f"{name}.yaml"


def load_script(name: str) -> Script:
    """Read and validate the script `scripted:<name>` refers to."""
    path = script_path(name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnknownModelError(f"scripted:{name}", _known()) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _invalid(path, f"cannot read: {exc}") from exc
    import yaml  # only scripted models need it: keeps everyone else's start-up lighter

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _invalid(path, f"invalid YAML: {exc}") from exc
    return parse_script(data, name=name, path=path)


def parse_script(data: object, *, name: str, path: Path) -> Script:
    if not isinstance(data, dict):
        raise _invalid(path, "a script is a mapping with a `turns` list")
    _check_keys(path, "script", data, _SCRIPT_KEYS)
    raw_turns = data.get("turns") or []
    if not isinstance(raw_turns, list):
        raise _invalid(path, "`turns` must be a list")
    names = _turn_names(path, raw_turns)
    turns = tuple(_turn(path, i, raw, names) for i, raw in enumerate(raw_turns))
    call_log = data.get("call_log")
    if call_log is not None and not isinstance(call_log, str):
        raise _invalid(path, "`call_log` must be a path")
    final_text = data.get("final_text", DEFAULT_FINAL_TEXT)
    if not isinstance(final_text, str):
        raise _invalid(path, "`final_text` must be a string")
    return Script(
        name=name,
        path=path,
        turns=turns,
        delay_ms=_delay(path, "script", data.get("delay_ms")) or 0.0,
        call_log=(path.parent / Path(call_log).expanduser()) if call_log else None,
        final_text=final_text,
    )


def _turn_names(path: Path, raw_turns: list[Any]) -> dict[str, int]:
    names: dict[str, int] = {}
    for index, raw in enumerate(raw_turns):
        name = raw.get("name") if isinstance(raw, dict) else None
        if name is None:
            continue
        if not isinstance(name, str) or not name:
            raise _invalid(path, f"turn {index}: `name` must be a non-empty string")
        if name in names:
            raise _invalid(path, f"turn {index}: the name {name!r} is taken by turn {names[name]}")
        names[name] = index
    return names


def _turn(path: Path, index: int, raw: object, names: Mapping[str, int]) -> Turn:
    where = f"turn {index}"
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: a turn is a mapping")
    _check_keys(path, where, raw, _TURN_KEYS)
    for key in ("text", "thinking"):
        if not isinstance(raw.get(key, ""), str):
            raise _invalid(path, f"{where}: `{key}` must be a string")
    raw_tools = raw.get("tools") or []
    if not isinstance(raw_tools, list):
        raise _invalid(path, f"{where}: `tools` must be a list")
    return Turn(
        text=raw.get("text", ""),
        thinking=raw.get("thinking", ""),
        tools=tuple(_tool(path, f"{where}, tool {i}", t) for i, t in enumerate(raw_tools)),
        delay_ms=_delay(path, where, raw.get("delay_ms")),
        usage=_usage(path, where, raw.get("usage")),
        error=_error(path, where, raw.get("error")),
        name=raw.get("name") or "",
        branches=_branches(path, where, raw, names),
        end=_flag(path, where, "end", raw.get("end", False)),
    )


def _flag(path: Path, where: str, key: str, raw: object) -> bool:
    if not isinstance(raw, bool):
        raise _invalid(path, f"{where}: `{key}` must be true or false")
    return raw


def _branches(path: Path, where: str, raw: Mapping[str, Any], names: Mapping[str, int]) -> tuple[Branch, ...]:
    raw_branches = raw.get("branches") or []
    if not isinstance(raw_branches, list):
        raise _invalid(path, f"{where}: `branches` must be a list of {{when, to}}")
    branches = [_branch(path, f"{where}, branch {i}", b, names) for i, b in enumerate(raw_branches)]
    on_error = raw.get("on_error")
    if on_error is not None:
        branches.append(Branch(When(error=True), _target(path, f"{where}, on_error", on_error, names)))
    return tuple(branches)


def _branch(path: Path, where: str, raw: object, names: Mapping[str, int]) -> Branch:
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: a branch is a mapping with `when` and `to`")
    _check_keys(path, where, raw, _BRANCH_KEYS)
    when = raw.get("when")
    if not isinstance(when, dict) or not when:
        raise _invalid(path, f"{where}: `when` must be a mapping with one or more of {', '.join(sorted(_WHEN_KEYS))}")
    _check_keys(path, f"{where}, when", when, _WHEN_KEYS)
    tool, error, contains = when.get("tool"), when.get("error"), when.get("contains")
    if tool is not None and (not isinstance(tool, str) or not tool):
        raise _invalid(path, f"{where}: `when.tool` must be a tool name")
    if error is not None and not isinstance(error, bool):
        raise _invalid(path, f"{where}: `when.error` must be true or false")
    if contains is not None and (not isinstance(contains, str) or not contains):
        raise _invalid(path, f"{where}: `when.contains` must be a non-empty string")
    return Branch(When(tool=tool, error=error, contains=contains), _target(path, f"{where}, to", raw.get("to"), names))


def _target(path: Path, where: str, name: object, names: Mapping[str, int]) -> int:
    if not isinstance(name, str) or name not in names:
        known = ", ".join(sorted(names)) or "none: give a turn a `name`"
        raise _invalid(path, f"{where}: {name!r} is not the name of a turn (names: {known})")
    return names[name]


def _tool(path: Path, where: str, raw: object) -> ScriptedToolCall:
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: a tool call is a mapping with `name` and `input`")
    _check_keys(path, where, raw, _TOOL_KEYS)
    name, tool_input = raw.get("name"), raw.get("input") or {}
    if not isinstance(name, str) or not name:
        raise _invalid(path, f"{where}: `name` must be a non-empty string")
    if not isinstance(tool_input, dict):
        raise _invalid(path, f"{where}: `input` must be a mapping")
    return ScriptedToolCall(name=name, input=tool_input)


def _error(path: Path, where: str, raw: object) -> ScriptedError | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: `error` must be a mapping with a `status`")
    _check_keys(path, f"{where}, error", raw, _ERROR_KEYS)
    status: Any = raw.get("status")
    message: Any = raw.get("message", "scripted error")
    retry_after: Any = raw.get("retry_after")
    times: Any = raw.get("times", 1)
    if not _is_int(status) or not 400 <= status <= 599:
        raise _invalid(path, f"{where}: error `status` must be an HTTP error status (400-599)")
    if not isinstance(message, str):
        raise _invalid(path, f"{where}: error `message` must be a string")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise _invalid(path, f"{where}: error `retry_after` must be seconds >= 0")
    if not _is_int(times) or times < 1:
        raise _invalid(path, f"{where}: error `times` must be an integer >= 1")
    return ScriptedError(
        status=status,
        message=message,
        retry_after=float(retry_after) if retry_after is not None else None,
        times=times,
    )


def _usage(path: Path, where: str, raw: object) -> Usage | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: `usage` must be a mapping of token counts")
    _check_keys(path, f"{where}, usage", raw, _USAGE_KEYS)
    if not all(_is_int(v) and v >= 0 for v in raw.values()):
        raise _invalid(path, f"{where}: token counts must be integers >= 0")
    return Usage(**raw)


def _delay(path: Path, where: str, raw: object) -> float | None:
    if raw is None:
        return None
    if not isinstance(raw, (int, float)) or isinstance(raw, bool) or raw < 0:
        raise _invalid(path, f"{where}: `delay_ms` must be a number >= 0")
    return float(raw)


def _check_keys(path: Path, where: str, raw: Mapping[Any, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise _invalid(path, f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _invalid(path: Path, message: str) -> FatalLlmError:
    return FatalLlmError("scripted", f"script {path}: {message}", kind="invalid_script")


def _known() -> list[str]:
    return [f"scripted:{name}" for name in builtin_scripts()] + ["scripted:/absolute/path.yaml"]
