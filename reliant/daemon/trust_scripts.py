"""Which of a repository's own files its trusted commands execute directly (daemon/trust.py).

A trusted `.reliant/mcp.json` whose command is `./tools/server.sh`, or a workflow `run` step
`bash scripts/check.sh`, runs that script as it is when it starts, not as it was when the user
trusted the project: the trust covers such scripts too. What counts, for one command (an MCP
server's command and args, or each simple command of a `run` step's shell text):

- the program, when it is a path (it holds a `/`; a bare name is looked up in `PATH`);
- for an interpreter, the script it runs: the first argument that is no option of `sh`, `bash`,
  `zsh`, `dash`, `ksh`, `source` / `.`, `python` (any version; `-m pkg.mod` counts as `pkg/mod.py`
  or `pkg/mod/__main__.py`), `node`, `ruby`, `perl`, `deno run`, `bun` (`run`); `uv run`
  counts the command it runs (a script, or an interpreter and its script); `-c` / `-e` code is text
  of the command itself (a shell's `-c` is read as a shell command in turn);
- in a shell text: each simple command of `a && b; c | d`, after `VAR=value` assignments and the
  wrappers `env`, `exec`, `command`, `nohup`, `time`; a literal `cd DIR` moves where later relative
  paths are taken from (inside `( ... )` only until its `)`); redirection targets are no command.

Only a path that names an existing file inside the workspace (after resolving symlinks) counts: a
path leading out of it (`../outside.sh`, `/usr/bin/python3`) is not read. A word with a `{{...}}`
template, a variable or a glob is not known before the step runs and is skipped. What a program
reads later is out of sight: the modules a script imports, the tests `pytest` runs, a Makefile,
`package.json` scripts, the packages `npx` / `uvx` fetch. Trusting a project trusts those as they
are whenever they run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
SOURCING = frozenset({".", "source"})
WRAPPERS = frozenset({"env", "exec", "command", "nohup", "time"})
PYTHON = re.compile(r"python(\d+(\.\d+)?)?")
OTHER_INTERPRETERS = frozenset({"node", "nodejs", "ruby", "perl"})
RUNNERS = frozenset({"deno", "bun"})  # `deno run x.ts`, `bun run x.ts` or `bun x.ts`
# Options that take the next word as their value: it is no script.
VALUED = {
    "shell": frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}),
    "python": frozenset({"-W", "-X", "--check-hash-based-pycs"}),
    "node": frozenset({"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions"}),
    "ruby": frozenset({"-I", "-r", "-C", "-E", "-F"}),
    "perl": frozenset({"-I", "-M", "-m"}),
    "runner": frozenset({"-c", "--config", "--import-map", "--lock", "--cert", "--location", "--seed", "--cwd"}),
    "uv": frozenset(
        {"--with", "--with-editable", "--with-requirements", "--python", "-p", "--directory", "--project"}
        | {"--package", "--extra", "--group", "--env-file", "--index", "--default-index", "-w"}
    ),
}
INLINE = {"python": ("-c",), "node": ("-e", "--eval", "-p", "--print"), "ruby": ("-e",), "perl": ("-e", "-E")}
UNKNOWN = re.compile(r"\{\{|[$`*?\[~]")  # filled in, expanded or globbed only when it runs
OPERATORS = "();<>|&\n"
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
MAX_DEPTH = 3  # `bash -c "sh -c '...'"`: deep enough for real commands, bounded for made-up ones


def argv_scripts(argv: Sequence[str], cwd: Path | None, depth: int = 0) -> list[Path]:
    """The files one command (program and arguments, as executed in `cwd`) would run: candidates,
    not yet checked to exist or to be inside the workspace. `cwd` None: not known (a relative path
    then names no file that can be told)."""
    return [path for path in _candidates(argv, cwd, depth) if path.is_absolute()]


def _candidates(argv: Sequence[str], cwd: Path | None, depth: int) -> list[Path]:
    if not argv or UNKNOWN.search(argv[0]):
        return []
    program, rest = argv[0], list(argv[1:])
    found = [_path(program, cwd)] if "/" in program else []
    name = PurePosixPath(program).name
    if name in SHELLS:
        script, inline = _script(rest, VALUED["shell"], inline_flag="c")
        if inline is not None:
            return found + (shell_scripts(inline, cwd, depth + 1) if depth < MAX_DEPTH else [])
    elif name in SOURCING:
        script = rest[0] if rest else None
    elif PYTHON.fullmatch(name):
        if module := _option_value(rest, "-m"):
            return found + [_path(m, cwd) for m in _module_files(module)]
        script, _ = _script(rest, VALUED["python"], INLINE["python"])
    elif name in OTHER_INTERPRETERS:
        kind = "node" if name == "nodejs" else name
        script, _ = _script(rest, VALUED[kind], INLINE.get(kind, ()))
    elif name in RUNNERS:
        script, _ = _script(rest[1:] if rest[:1] == ["run"] else rest, VALUED["runner"], ())
    elif name == "uv" and rest[:1] == ["run"]:
        command = _after_options(rest[1:], VALUED["uv"])
        return found + _uv_command(command, cwd, depth)
    else:
        return found
    if script is not None and not UNKNOWN.search(script):
        found.append(_path(script, cwd))
    return found


def shell_scripts(text: str, cwd: Path | None, depth: int = 0) -> list[Path]:
    """The files each simple command of a shell text would run (see the module docstring)."""
    try:
        tokens = _tokens(text)
    except ValueError:  # an unclosed quote: the shell refuses it too
        return []
    found: list[Path] = []
    words: list[str] = []
    saved: list[Path | None] = []  # where `( ... )` started
    redirect = comment = False
    for token in tokens:
        if comment and "\n" not in token:
            continue
        comment = False  # the newline that ends a comment still ends its command
        if redirect:
            redirect = False
            continue
        if token and all(c in OPERATORS for c in token):
            if "<" in token or ">" in token:
                redirect = True
                continue
            cwd = _simple(words, cwd, found, depth)
            words = []
            for c in token:
                if c == "(":
                    saved.append(cwd)
                elif c == ")" and saved:
                    cwd = saved.pop()
            continue
        if token.startswith("#"):
            comment = True
            continue
        words.append(token)
    _simple(words, cwd, found, depth)
    return found


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=OPERATORS)
    lexer.whitespace = " \t\r"  # a newline ends a command: it is an operator here
    lexer.commenters = ""  # `#` starts a comment only as a word: a newline still ends it
    lexer.whitespace_split = True
    return list(lexer)


def _simple(words: list[str], cwd: Path | None, found: list[Path], depth: int) -> Path | None:
    """Collect what one simple command runs; return where the next one runs (after a `cd`)."""
    words = _unwrapped(words)
    if not words:
        return cwd
    if words[0] == "cd":
        target = words[1] if len(words) == 2 else ""
        if not target or target == "-" or UNKNOWN.search(target):
            return None
        return _path(target, cwd) if cwd is not None or target.startswith("/") else None
    found.extend(argv_scripts(words, cwd, depth))
    return cwd


def _unwrapped(words: list[str]) -> list[str]:
    """The command itself: without leading assignments, wrappers and the wrappers' options."""
    i = 0
    while i < len(words):
        if ASSIGNMENT.fullmatch(words[i]):
            i += 1
        elif words[i] in WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):  # `env -i`, `time -p`
                i += 1
        else:
            break
    return words[i:]


def _script(
    args: list[str], valued: frozenset[str], inline: Sequence[str] = (), inline_flag: str = ""
) -> tuple[str | None, str | None]:
    """(the first argument that is no option, or None; the inline code when `-c`/`-e` gives one)."""
    skip = False
    has_inline = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--":
            continue
        if arg in inline or (inline_flag and arg.startswith("-") and not arg.startswith("--") and inline_flag in arg):
            has_inline = True
            if not inline_flag:
                return None, None  # code given on the command line: no script file
            continue
        if arg in valued:
            skip = True
            continue
        if arg.startswith(("-", "+")) and arg not in ("-", "+"):
            continue
        if has_inline:
            return None, arg
        return (None, None) if arg == "-" else (arg, None)
    return None, None


def _option_value(args: list[str], option: str) -> str | None:
    for i, arg in enumerate(args[:-1]):
        if arg == option:
            return args[i + 1]
        if not arg.startswith("-"):
            return None  # a script came first: `-m` after it is the script's own argument
    return None


def _module_files(module: str) -> list[str]:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", module):
        return []
    base = module.replace(".", "/")
    return [f"{base}.py", f"{base}/__main__.py"]


def _after_options(args: list[str], valued: frozenset[str]) -> list[str]:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in valued else 1
    return args[i:]


def _uv_command(command: list[str], cwd: Path | None, depth: int) -> list[Path]:
    """`uv run X ...`: X is a script file (uv runs it with Python) or a program with its arguments."""
    if not command or UNKNOWN.search(command[0]) or depth >= MAX_DEPTH:
        return []
    script = [] if "/" in command[0] else [_path(command[0], cwd)]
    return script + argv_scripts(command, cwd, depth + 1)


def _path(word: str, cwd: Path | None) -> Path:
    if word.startswith("/") or cwd is None:
        return Path(word)
    return cwd / word


def inside(path: Path, root: Path) -> str | None:
    """`path`'s real path relative to the workspace when it is an existing file inside it; else None
    (nothing outside the workspace is read)."""
    if not path.is_absolute():
        return None  # relative to a directory that was not known
    try:
        real = path.resolve(strict=True)
        top = root.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(top) or not real.is_file():
        return None
    return real.relative_to(top).as_posix()
