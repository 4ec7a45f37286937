"""The YAML scripts the scripted model plays: format, lookup and validation.

```yaml
delay_ms: 10                  # optional: pause before every streamed chunk (default 0)
call_log: /tmp/calls.jsonl    # optional: one JSON line per call (relative: to the script's folder)
final_text: Nothing more.     # optional: the answer once the turns have run out
own_turns: false              # optional: count only this script's own answers (see "Sharing a thread")
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
      - when: {prompt: Revise the plan}
        to: revise
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
substring of the result's text: "[exit code 1]", "denied"). A `when` with `prompt` instead looks at
the user messages the turn answers (what the user sent, or a workflow node's prompt: "Revise the
plan") and holds when their text contains it; it takes no other key, since a turn answers either
tool results or a prompt. A jump may go back as well as forward; it is one hop: the target's own
branches are not checked; after it the script goes on with the turn below the target, unless the
target has `end: true`: after a turn with `end`, the script has run out and later requests (a new
user message, say) get `final_text`.

Sharing a thread. With `own_turns: true` a script counts only the answers it gave itself, so that
several scripts can play on one thread, one per node of a workflow (an agent node, then another on
the same conversation, each with its own script): walking the conversation, an assistant message is
the script's own when it is what the script's turn at that point says (the same text, `${result}`
filled in, and the same tool calls); any other answer is passed over and the script's place stays.
Two scripts that would say exactly the same thing at the same point cannot be told apart.

In a turn's `text`, `${result}` stands for the text of the first error among the results it
answers (else the last result), cut to 300 characters.

A script given by path (`scripted:/abs/path.yaml`) must lie inside one of the chat's project
directories or the data dir, and so must its `call_log` (check_script_place). An invalid script is
refused with what is wrong and where (line and column, the key), never with the file's content.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reliant.domain.chat import BlockType, ContentBlock, Message, Role, Usage
from reliant.llm.errors import FatalLlmError, UnknownModelError

SCRIPTS_DIR = Path(__file__).with_name("scripts")
MAX_SCRIPT_BYTES = 1_000_000
DEFAULT_FINAL_TEXT = "That is all I have for now: the scripted model has no more turns in this script."
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SCRIPT_KEYS = frozenset({"turns", "delay_ms", "call_log", "final_text", "own_turns"})
_TURN_KEYS = frozenset(
    {"text", "thinking", "tools", "delay_ms", "usage", "error", "name", "branches", "on_error", "end"}
)
_BRANCH_KEYS = frozenset({"when", "to"})
_WHEN_KEYS = frozenset({"tool", "error", "contains", "prompt"})
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
    """A condition on one tool result (every key given must hold), or with `prompt`, on the user
    messages a turn answers."""

    tool: str | None = None
    error: bool | None = None
    contains: str | None = None
    prompt: str | None = None  # a substring of the text of the user messages the turn answers


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
    own_turns: bool = False  # count only the answers this script gave (several scripts on one thread)


class ScriptPlaceError(FatalLlmError):
    """A script, or its call_log, outside the places a chat's scripts may be."""

    def __init__(self, what: str, path: Path, places: Sequence[Path]) -> None:
        self.path = path
        self.places = tuple(places)
        shown = ", ".join(str(p) for p in places) or "none"
        resolved = path.resolve()
        target = f" (it leads to {resolved})" if resolved != path else ""
        super().__init__(
            "scripted",
            f"a script and its call_log must lie inside one of the chat's project directories or the data dir "
            f"({shown}); the {what} {path}{target} does not",
            kind="script_place",
        )


RESULT_PLACEHOLDER = "${result}"
MAX_RESULT_QUOTE = 300


def next_turn(script: Script, messages: tuple[Message, ...]) -> tuple[int, tuple[ContentBlock, ...]]:
    """The index of the turn that answers `messages` (len(turns) or more: the script has run out),
    and the tool results it answers."""
    position = 0
    results: tuple[ContentBlock, ...] = ()
    asked = ""  # the text of the user messages since the last answer or tool results
    for message in messages:
        if message.role is Role.ASSISTANT:
            played = _resolve(script, position, results, asked)
            own = not script.own_turns or _said(script, played, message, results)
            results, asked = (), ""
            if not own:
                continue  # another script's answer: this one's place stays
            ended = played >= len(script.turns) or script.turns[played].end
            position = len(script.turns) if ended else played + 1
        elif message.role is Role.TOOL:
            results = tuple(b for b in message.blocks if b.type is BlockType.TOOL_RESULT)
            asked = ""
        else:
            results = ()
            text = "".join(b.text for b in message.blocks if b.type is BlockType.TEXT)
            asked = f"{asked}\n{text}" if asked else text
    return _resolve(script, position, results, asked), results


def _said(script: Script, played: int, message: Message, results: tuple[ContentBlock, ...]) -> bool:
    """`message` is what turn `played` of the script says (its text and its tool calls)."""
    if played >= len(script.turns):
        return False
    turn = script.turns[played]
    text = "".join(b.text for b in message.blocks if b.type is BlockType.TEXT)
    calls = [(b.tool_name, dict(b.tool_input)) for b in message.blocks if b.type is BlockType.TOOL_CALL]
    wanted = turn.text.replace(RESULT_PLACEHOLDER, quoted_result(results))
    return text == wanted and calls == [(t.name, dict(t.input)) for t in turn.tools]


def _resolve(script: Script, position: int, results: tuple[ContentBlock, ...], asked: str) -> int:
    if position >= len(script.turns):
        return position
    for branch in script.turns[position].branches:
        if branch.when.prompt is not None:
            if branch.when.prompt in asked:
                return branch.to
        elif any(_holds(branch.when, r) for r in results):
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
        if not path.is_absolute() or not path.name.endswith((".yaml", ".yml")):
            raise UnknownModelError(f"scripted:{name}", _known())
        return path
    if not _NAME.fullmatch(name) or not (SCRIPTS_DIR / f"{name}.yaml").is_file():
        raise UnknownModelError(f"scripted:{name}", _known())
    return SCRIPTS_DIR / f"{name}.yaml"


def check_script_place(name: str, places: Sequence[Path]) -> None:
    """Refuse `scripted:/path.yaml` unless the file lies inside one of `places` (links resolved) —
    checked before anything reads it — and then unless its call_log does too. Shipped scripts
    (`scripted:<name>`) are always allowed."""
    path = script_path(name)
    if path.parent == SCRIPTS_DIR and not ("/" in name or name.endswith((".yaml", ".yml"))):
        return
    _inside("script", path, places)
    script = load_script(name)
    if script.call_log is not None:
        _inside("call_log", script.call_log, places)


def _inside(what: str, path: Path, places: Sequence[Path]) -> None:
    resolved = path.resolve()
    for place in places:
        if resolved.is_relative_to(Path(place).expanduser().resolve()):
            return
    raise ScriptPlaceError(what, path, places)


def load_script(name: str) -> Script:
    """Read and validate the script `scripted:<name>` refers to."""
    path = script_path(name)
    return _parsed(_read(path, name), name, path)


# Every model call of a scripted chat reads its script again (it may have been edited), but parsing
# is what costs (milliseconds of YAML): a Script is frozen, so one parse of a text serves them all.
@functools.lru_cache(maxsize=64)
def _parsed(text: str, name: str, path: Path) -> Script:
    import yaml  # only scripted models need it: keeps everyone else's start-up lighter

    try:
        data = yaml.load(text, Loader=_loader())  # a SafeLoader that records where keys are
    except yaml.YAMLError as exc:
        raise _invalid(path, _yaml_problem(exc)) from None
    except RecursionError:
        raise _invalid(path, "invalid YAML: nested too deeply") from None
    return parse_script(data, name=name, path=path)


def _read(path: Path, name: str) -> str:
    """The script's text: a regular file (never a FIFO or a device that would block) of at most
    MAX_SCRIPT_BYTES, in UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UnknownModelError(f"scripted:{name}", _known()) from None
    except OSError as exc:
        raise _invalid(path, f"cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _invalid(path, "not a regular file")
        if info.st_size > MAX_SCRIPT_BYTES:
            raise _invalid(path, f"{info.st_size} bytes; a script is at most {MAX_SCRIPT_BYTES}")
        data = file.read(MAX_SCRIPT_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(path, f"not UTF-8 text (the byte at offset {exc.start} is invalid)") from None


class _Mapping(dict[Any, Any]):
    """A YAML mapping that remembers where it starts and where each of its keys is: (line, column),
    from 1."""

    start: tuple[int, int]
    marks: dict[Any, tuple[int, int]]


@functools.cache
def _loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[_Mapping]:
        data = _Mapping()
        data.start = (node.start_mark.line + 1, node.start_mark.column + 1)
        data.marks = {}
        yield data
        data.update(loader.construct_mapping(node))
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if isinstance(key, Hashable):
                data.marks.setdefault(key, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    return Loader


# A quoted fragment of a YAML problem that is the parser's own word, not the file's: a token name
# ('<scalar>'), punctuation (':') or an escape ('\t').
_OWN_WORD = re.compile(r"<[a-z ]+>|[^\w\s]{1,3}|\\\w{1,4}")


def _yaml_problem(exc: Any) -> str:
    """What the YAML parser objects to and where, without any text of the file."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):
        return f"invalid YAML: a character YAML does not allow, at offset {exc.position}"
    problem = str(getattr(exc, "problem", "") or "not valid YAML")
    problem = re.sub(r"'([^']*)'", lambda m: m.group(0) if _OWN_WORD.fullmatch(m.group(1)) else "'…'", problem)
    problem = re.sub(r"\(([^)]*)\)", "", problem).strip()  # "(unhashable type: ...)" and the like
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def parse_script(data: object, *, name: str, path: Path) -> Script:
    if not isinstance(data, dict):
        raise _invalid(path, "a script is a mapping with a `turns` list")
    _check_keys(path, "script", data, _SCRIPT_KEYS)
    raw_turns = data.get("turns") or []
    if not isinstance(raw_turns, list):
        raise _invalid(path, f"`turns` must be a list{_at(data, 'turns')}")
    names = _turn_names(path, raw_turns)
    turns = tuple(_turn(path, i, raw, names) for i, raw in enumerate(raw_turns))
    call_log = data.get("call_log")
    if call_log is not None and not isinstance(call_log, str):
        raise _invalid(path, f"`call_log` must be a path{_at(data, 'call_log')}")
    return Script(
        name=name,
        path=path,
        turns=turns,
        delay_ms=_delay(path, "script", data) or 0.0,
        call_log=(path.parent / Path(call_log).expanduser()) if call_log else None,
        final_text=_text(path, "script", data, "final_text", DEFAULT_FINAL_TEXT),
        own_turns=_flag(path, "script", "own_turns", data.get("own_turns", False)),
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
    where += _line(raw)
    _check_keys(path, where, raw, _TURN_KEYS)
    raw_tools = raw.get("tools") or []
    if not isinstance(raw_tools, list):
        raise _invalid(path, f"{where}: `tools` must be a list{_at(raw, 'tools')}")
    return Turn(
        text=_text(path, where, raw, "text"),
        thinking=_text(path, where, raw, "thinking"),
        tools=tuple(_tool(path, f"{where}, tool {i}", t) for i, t in enumerate(raw_tools)),
        delay_ms=_delay(path, where, raw),
        usage=_usage(path, where, raw),
        error=_error(path, where, raw),
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
    prompt = when.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not prompt):
        raise _invalid(path, f"{where}: `when.prompt` must be a non-empty string")
    if prompt is not None and len(when) > 1:
        raise _invalid(path, f"{where}: `when.prompt` goes alone: a turn answers either a prompt or tool results")
    to = _target(path, f"{where}, to", raw.get("to"), names)
    return Branch(When(tool=tool, error=error, contains=contains, prompt=prompt), to)


def _target(path: Path, where: str, name: object, names: Mapping[str, int]) -> int:
    if not isinstance(name, str) or name not in names:
        known = ", ".join(sorted(names)) or "none: give a turn a `name`"
        raise _invalid(path, f"{where}: {name!r} is not the name of a turn (names: {known})")
    return names[name]


def _tool(path: Path, where: str, raw: object) -> ScriptedToolCall:
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: a tool call is a mapping with `name` and `input`")
    where += _line(raw)
    _check_keys(path, where, raw, _TOOL_KEYS)
    name, tool_input = raw.get("name"), raw.get("input") or {}
    if not isinstance(name, str) or not name:
        raise _invalid(path, f"{where}: `name` must be a non-empty string{_at(raw, 'name')}")
    if not isinstance(tool_input, dict):
        raise _invalid(path, f"{where}: `input` must be a mapping{_at(raw, 'input')}")
    if _holds_nul(tool_input):
        raise _invalid(path, f"{where}: `input` holds a NUL character, which reliant cannot store{_at(raw, 'input')}")
    return ScriptedToolCall(name=_text(path, where, raw, "name"), input=tool_input)


def _error(path: Path, where: str, turn: Mapping[Any, Any]) -> ScriptedError | None:
    raw = turn.get("error")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: `error` must be a mapping with a `status`{_at(turn, 'error')}")
    where = f"{where}, error"
    _check_keys(path, where, raw, _ERROR_KEYS)
    status: Any = raw.get("status")
    retry_after: Any = raw.get("retry_after")
    times: Any = raw.get("times", 1)
    if not _is_int(status) or not 400 <= status <= 599:
        raise _invalid(path, f"{where}: `status` must be an HTTP error status (400-599){_at(raw, 'status')}")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise _invalid(path, f"{where}: `retry_after` must be seconds >= 0{_at(raw, 'retry_after')}")
    if not _is_int(times) or times < 1:
        raise _invalid(path, f"{where}: `times` must be an integer >= 1{_at(raw, 'times')}")
    return ScriptedError(
        status=status,
        message=_text(path, where, raw, "message", "scripted error"),
        retry_after=float(retry_after) if retry_after is not None else None,
        times=times,
    )


def _usage(path: Path, where: str, turn: Mapping[Any, Any]) -> Usage | None:
    raw = turn.get("usage")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid(path, f"{where}: `usage` must be a mapping of token counts{_at(turn, 'usage')}")
    _check_keys(path, f"{where}, usage", raw, _USAGE_KEYS)
    if not all(_is_int(v) and v >= 0 for v in raw.values()):
        raise _invalid(path, f"{where}: token counts in `usage` must be integers >= 0{_at(turn, 'usage')}")
    return Usage(**raw)


def _delay(path: Path, where: str, raw: Mapping[Any, Any]) -> float | None:
    value = raw.get("delay_ms")
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise _invalid(path, f"{where}: `delay_ms` must be a number >= 0{_at(raw, 'delay_ms')}")
    return float(value)


def _text(path: Path, where: str, raw: Mapping[Any, Any], key: str, default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise _invalid(path, f"{where}: `{key}` must be a string{_at(raw, key)}")
    if "\x00" in value:
        raise _invalid(path, f"{where}: `{key}` holds a NUL character, which reliant cannot store{_at(raw, key)}")
    return value


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _check_keys(path: Path, where: str, raw: Mapping[Any, Any], allowed: frozenset[str]) -> None:
    """Unknown keys are reported by place, not by name: the name is the file's text."""
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        more = f", and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        known = ", ".join(sorted(allowed))
        raise _invalid(path, f"{where}: unknown key{_at(raw, unknown[0])}{more}; the known keys are {known}")


def _line(raw: Mapping[Any, Any]) -> str:
    """ " (line L)" where a parsed mapping starts; "" when unknown."""
    start = getattr(raw, "start", None)
    return f" (line {start[0]})" if start else ""


def _at(raw: Mapping[Any, Any], key: Any) -> str:
    """ " (line L, column C)" for `key` of a parsed mapping; "" when unknown."""
    marks = getattr(raw, "marks", {})
    if key not in marks:
        return ""
    line, column = marks[key]
    return f" (line {line}, column {column})"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _invalid(path: Path, message: str) -> FatalLlmError:
    return FatalLlmError("scripted", f"script {path}: {message}", kind="invalid_script")


def _known() -> list[str]:
    return [f"scripted:{name}" for name in builtin_scripts()] + ["scripted:/absolute/path.yaml"]
