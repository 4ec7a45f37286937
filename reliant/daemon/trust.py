"""Which workspaces the user trusts to run what their repository asks for.

A repository can make reliant execute its own code: the MCP servers of `.reliant/mcp.json` (and
`.reliant/mcp.local.json`) are commands the daemon starts, the workflow files under
`.reliant/workflows/` run shell steps, and the presets under `.reliant/presets/` choose the models
and instructions those workflows' agents get. None of that runs until the user has trusted the workspace,
and a trust is bound to the content of exactly those files: the *fingerprint* is a SHA-256 over
every gated file's relative path and bytes, and over the *scripts* of the workspace those files
run directly: the program or interpreter script of each MCP server command and each simple command
of a `run` step (`./tools/server.sh`, `python tools/mcp.py`, `cd x && bash check.sh`; the rule and
what it cannot see are in trust_scripts.py). When any of them changes (an edit, a `git pull`, a
model writing to it), the trust no longer matches and nothing from the repository runs until the
user trusts the workspace again. A workspace without any gated file has nothing to trust. (The
scripts come last in the fingerprint: a workspace that runs none keeps the fingerprint it had
before scripts were covered; one that runs some reads `changed` once, and is trusted again.) Files
beyond MAX_GATED_BYTES in all are not read: their size and modification time stand for their
content (a compiled server in the repository).

The decision is the daemon's own (it runs on the user's machine and enforces it without asking
anyone): `<data-dir>/trust.json` (mode 0600) maps a workspace's real path to the fingerprint the
user trusted. A directory inside a workspace (a git worktree) is trusted when its own files have a
fingerprint trusted for it or for a workspace that contains it (with other files, it is untrusted).

Control subjects (`workspace` is a registered workspace path, or a directory inside one):

- `ctl.trust.get {workspace}` -> `{"ok": true, "trust": view}`
- `ctl.trust.grant {workspace, fingerprint}` -> `{"ok": true, "trust": view}`; refused when the
  files changed since the caller looked (the fingerprint differs): what runs is what was shown.
- `ctl.trust.revoke {workspace}` -> `{"ok": true, "trust": view}`

`view` is TrustView.doc(): state (none | untrusted | changed | trusted), fingerprint, files (the
gated files and the scripts), and items: every MCP server the project's files define (name,
transport, command line, env names, cwd, url, header names), every workflow file with the shell
command of each of its `run` steps (or why it is no workflow reliant would run), every preset file,
and every script those commands run (kind `script`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import os
import shlex
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reliant.appliance.datadir import write_private
from reliant.daemon.mcp import config as mcp_config
from reliant.daemon.mcp.config import PROJECT_FILES, McpServerConfig
from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.trust_scripts import argv_scripts, inside, shell_scripts

logger = logging.getLogger(__name__)

TRUST_FILE = "trust.json"
GATED_FILES = PROJECT_FILES  # MCP server configs: commands the daemon starts
WORKFLOWS_DIR = ".reliant/workflows"  # workflow definitions: their `run` steps are shell commands
PRESETS_DIR = ".reliant/presets"  # the models and instructions of those workflows' agents
GATED_DIRS = (WORKFLOWS_DIR, PRESETS_DIR)
MAX_GATED_FILES = 500
MAX_GATED_BYTES = 8 * 1024 * 1024


class TrustState(enum.StrEnum):
    NONE = "none"  # nothing in the workspace asks to run
    UNTRUSTED = "untrusted"  # never trusted (or trust revoked)
    CHANGED = "changed"  # trusted once, but the files changed since: trust must be renewed
    TRUSTED = "trusted"

    @property
    def allows(self) -> bool:
        return self in (TrustState.NONE, TrustState.TRUSTED)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The gated files of a workspace as read at one moment: what is fingerprinted is what is used."""

    root: Path
    files: Mapping[str, bytes]  # relative path -> content
    problems: Mapping[str, str]  # relative path -> why it (a gated file or a script) could not be read
    fingerprint: str  # "" when there is no gated file
    scripts: Mapping[str, bytes] = field(default_factory=dict)  # relative path -> content
    steps: Mapping[str, WorkflowSteps] = field(default_factory=dict)  # by workflow file

    def read(self, path: Path) -> str:
        """A gated file's text as of the snapshot (for mcp.config.load); FileNotFoundError if absent."""
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return path.read_text(encoding="utf-8")  # not a project file (the data dir's mcp.json)
        if rel in self.problems:
            raise OSError(self.problems[rel])
        if rel not in self.files:
            raise FileNotFoundError(path)
        return self.files[rel].decode("utf-8")

    @property
    def workflows(self) -> list[str]:
        """The gated files that are not MCP configs: workflow files and presets."""
        return sorted(rel for rel in [*self.files, *self.problems] if _in_gated_dir(rel))

    @property
    def script_paths(self) -> list[str]:
        """The scripts the gated files run, read or not."""
        return sorted({*self.scripts, *(rel for rel in self.problems if not _is_gated(rel))})

    @property
    def paths(self) -> list[str]:
        """Every file the fingerprint covers: the gated files and the scripts."""
        return sorted({*self.files, *self.scripts, *self.problems})


@dataclass(frozen=True, slots=True)
class WorkflowSteps:
    """A workflow file's `run` steps ((step path, command as written), in the order they are defined),
    or why the engine would not run it at all."""

    steps: tuple[tuple[str, str], ...] = ()
    error: str = ""


def _is_workflow(rel: str, files: Mapping[str, bytes]) -> bool:
    return rel.startswith(WORKFLOWS_DIR + "/") and rel in files


def _in_gated_dir(rel: str) -> bool:
    return any(rel == folder or rel.startswith(folder + "/") for folder in GATED_DIRS)


def _is_gated(rel: str) -> bool:
    return rel in GATED_FILES or _in_gated_dir(rel)


def _run_steps(rel: str, data: bytes) -> WorkflowSteps:
    # The engine (and its expression library, ~0.3 s to import) only once a project has workflows.
    from reliant.engine.definition import RunNode
    from reliant.engine.parse import parse_definition

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return WorkflowSteps(error="not UTF-8 text: no workflow")
    parsed = parse_definition(text, rel)
    steps = tuple(
        (f"{scope}/{node.id}" if scope else node.id, node.command.text)
        for scope, node in (parsed.definition.walk() if parsed.definition else ())
        if isinstance(node, RunNode)
    )
    if not parsed.problems:
        return WorkflowSteps(steps)
    more = f" (and {len(parsed.problems) - 1} more)" if len(parsed.problems) > 1 else ""
    return WorkflowSteps(steps, f"not a workflow reliant runs: {parsed.problems[0]}{more}")


def _gated_paths(root: Path) -> list[str]:
    found = [rel for rel in GATED_FILES if (root / rel).is_file()]
    for folder in GATED_DIRS:
        top = root / folder
        if not top.is_dir() or top.is_symlink():
            continue
        for current, dirs, names in os.walk(top):  # links to directories are not followed
            dirs.sort()
            for name in sorted(names):
                found.append((Path(current) / name).relative_to(root).as_posix())
                if len(found) > MAX_GATED_FILES:
                    return found
    return found


class _Reading:
    """The files read into one fingerprint, within the limits on their number and bytes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: dict[str, str] = {}
        self.digest = hashlib.sha256()
        self.total = 0

    def read(self, rel: str, tag: str = "") -> bytes | None:
        """`rel`'s content, fingerprinted with `tag` before its path; None: a problem (fingerprinted).
        A file beyond the byte budget (a compiled server, say) is not read: its size and modification
        time stand for its content, so replacing it still changes the fingerprint."""
        try:
            stat = (self.root / rel).stat()
            if self.total + stat.st_size > MAX_GATED_BYTES:
                why = f"the gated files and scripts of a project may hold {MAX_GATED_BYTES:,} bytes in all"
                why += ": bound to its size and modification time, not its content"
                self.refuse(rel, tag, f"too-big\0{stat.st_size}\0{stat.st_mtime_ns}", why)
                return None
            data = (self.root / rel).read_bytes()
        except OSError as exc:
            self.refuse(rel, tag, "unreadable", f"cannot read: {exc.strerror or exc}")
            return None
        self.total += len(data)
        self.digest.update(f"{tag}{rel}\0{len(data)}\0".encode())
        self.digest.update(data)
        return data

    def refuse(self, rel: str, tag: str, mark: str, why: str) -> None:
        self.problems[rel] = why
        self.digest.update(f"{tag}{rel}\0{mark}\0".encode())


def snapshot(root: Path) -> Snapshot:
    """Read the workspace's gated files and the scripts they run, and fingerprint them (blocking:
    run in a thread). The scripts come last, tagged: without any, the fingerprint is what it was
    before scripts were covered."""
    reading = _Reading(root)
    files: dict[str, bytes] = {}
    paths = _gated_paths(root)
    if len(paths) > MAX_GATED_FILES:
        reading.problems[GATED_DIRS[0]] = f"more than {MAX_GATED_FILES} files under {GATED_DIRS[0]}"
        paths = [p for p in paths if p in GATED_FILES]
    for rel in paths:
        if (data := reading.read(rel)) is not None:
            files[rel] = data
    if not files and not reading.problems:
        return Snapshot(root, files, reading.problems, "")
    gated = Snapshot(root, dict(files), dict(reading.problems), "")
    steps = {rel: _run_steps(rel, files[rel]) for rel in gated.workflows if _is_workflow(rel, files)}
    scripts: dict[str, bytes] = {}
    for rel in _script_paths(gated, steps):
        if len(files) + len(reading.problems) + len(scripts) >= MAX_GATED_FILES:
            reading.refuse(rel, "script\0", "too-many", f"a project may have {MAX_GATED_FILES} gated files and scripts")
        elif (data := reading.read(rel, "script\0")) is not None:
            scripts[rel] = data
    return Snapshot(root, files, reading.problems, f"sha256:{reading.digest.hexdigest()}", scripts, steps)


def _script_paths(gated: Snapshot, steps: Mapping[str, WorkflowSteps]) -> list[str]:
    """The workspace's own files (not gated ones) that its MCP servers and `run` steps execute
    directly (trust_scripts.py), in order. Every project server counts, a disabled one too: it can
    be switched on without a new trust."""
    candidates: list[Path] = []
    servers = mcp_config.load(None, gated.root, None, gated.read).servers.values()
    for server in servers:
        if server.transport == "stdio" and not server.error:
            candidates += argv_scripts([server.command, *server.args], Path(server.cwd))
    for found in steps.values():
        for _, command in found.steps:
            candidates += shell_scripts(command, gated.root)
    paths = (inside(path, gated.root) for path in candidates)
    return sorted({rel for rel in paths if rel is not None and not _is_gated(rel)})


class TrustStore:
    """The trusted fingerprints, by workspace path; kept in `<data-dir>/trust.json` (None: in memory)."""

    def __init__(self, data_dir: Path | None) -> None:
        self.path = data_dir / TRUST_FILE if data_dir is not None else None
        self._trusted = self._load()

    def _load(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring %s (every project is untrusted): %s", self.path, exc)
            return {}
        raw = doc.get("trusted") if isinstance(doc, dict) else None
        if not isinstance(raw, dict):
            return {}
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str)}

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private(self.path, json.dumps({"trusted": self._trusted}, indent=2, sort_keys=True) + "\n")

    def state(self, snap: Snapshot) -> TrustState:
        if not snap.fingerprint:
            return TrustState.NONE
        known = [self._trusted[str(p)] for p in (snap.root, *snap.root.parents) if str(p) in self._trusted]
        if snap.fingerprint in known:
            return TrustState.TRUSTED
        return TrustState.CHANGED if str(snap.root) in self._trusted else TrustState.UNTRUSTED

    def grant(self, workspace: Path, fingerprint: str) -> None:
        self._trusted[str(workspace)] = fingerprint
        self._save()

    def revoke(self, workspace: Path) -> bool:
        """Forget the workspace's trust (and that of directories inside it); False if there was none."""
        gone = [k for k in self._trusted if Path(k) == workspace or Path(k).is_relative_to(workspace)]
        for key in gone:
            del self._trusted[key]
        if gone:
            self._save()
        return bool(gone)


def command_line(config: McpServerConfig) -> str:
    """What would run, in full: the shell-quoted command and arguments, or the URL."""
    if config.transport == "http":
        return config.url
    return shlex.join([config.command, *config.args])


def server_item(config: McpServerConfig) -> dict[str, Any]:
    return {
        "kind": "mcp_server",
        "name": config.name,
        "source": config.source,
        "transport": config.transport,
        "command_line": command_line(config) if config.transport == "stdio" and not config.error else "",
        "env_names": [name for name, _ in config.env],
        "cwd": config.cwd if config.transport == "stdio" else "",
        "url": config.url,
        "header_names": [name for name, _ in config.headers],
        "error": config.error,
        "disabled": config.disabled,
    }


@dataclass(frozen=True, slots=True)
class TrustView:
    """A workspace's trust, and everything its files would make the daemon run once trusted."""

    workspace: Path
    state: TrustState
    fingerprint: str
    files: tuple[str, ...]
    servers: tuple[McpServerConfig, ...] = ()  # project servers held back (or running, when trusted)
    workflows: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    run_steps: Mapping[str, WorkflowSteps] = field(default_factory=dict)  # by workflow file
    scripts: tuple[str, ...] = ()  # the workspace's files those servers and steps run

    def held(self) -> list[McpServerConfig]:
        """The project's servers that do not run because the project is not trusted."""
        return [] if self.state.allows else list(self.servers)

    def would_run(self) -> list[McpServerConfig]:
        return [s for s in self.servers if not s.disabled and not s.error]

    def note(self) -> str:
        """One line for listings: why the project's servers do not run, and what would."""
        if self.state.allows:
            return ""
        head = "not trusted" if self.state is TrustState.UNTRUSTED else "changed since trusted: trust must be renewed"
        parts = []
        if runs := self.would_run():
            commands = "; ".join(command_line(s) for s in runs)
            parts.append(f"{len(runs)} server{'' if len(runs) == 1 else 's'} would run: {commands}")
        if flows := [rel for rel in self.workflows if not rel.startswith(PRESETS_DIR + "/")]:
            count = len(flows)
            steps = [command for rel in flows for _, command in self.run_steps.get(rel, WorkflowSteps()).steps]
            verb, own = ("runs", "its") if count == 1 else ("run", "their")
            if steps:
                what = f"{verb} {len(steps)} command{'' if len(steps) == 1 else 's'}: {'; '.join(steps)}"
            else:
                what = f"{verb} no command of {own} own"
            parts.append(f"{count} workflow file{'' if count == 1 else 's'} {what}")
        return f"{head}: {'; '.join(parts) or 'nothing enabled would run'}"

    def doc(self) -> dict[str, Any]:
        workflows = [self._file_item(rel) for rel in self.workflows]
        return {
            "workspace": str(self.workspace),
            "state": self.state.value,
            "fingerprint": self.fingerprint,
            "files": list(self.files),
            "items": [server_item(s) for s in self.servers] + workflows + [self._script_item(r) for r in self.scripts],
            "problems": list(self.problems),
            "note": self.note(),
        }

    def _script_item(self, rel: str) -> dict[str, Any]:
        return {"kind": "script", "name": rel, "source": str(self.workspace / rel)}

    def _file_item(self, rel: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "kind": "preset" if rel.startswith(PRESETS_DIR + "/") else "workflow",
            "name": rel,
            "source": str(self.workspace / rel),
        }
        if found := self.run_steps.get(rel):
            item["steps"] = [{"step": step, "command": command} for step, command in found.steps]
            if found.error:
                item["error"] = found.error
        return item


ViewSource = Callable[[Path], Awaitable[TrustView]]
Refresh = Callable[[Path], Awaitable[None]]


class TrustControls:
    """`ctl.trust.*`: show, grant and revoke a workspace's trust. `view` builds the current view (the
    MCP manager knows the servers); `refresh` makes what runs follow a change at once."""

    def __init__(self, store: TrustStore, view: ViewSource, refresh: Refresh) -> None:
        self.store = store
        self.view = view
        self.refresh = refresh

    def controls(
        self, workspace_for: Callable[[str], Path | None]
    ) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any]]]:
        def resolved(body: dict[str, Any]) -> Path:
            given = body.get("workspace", "")
            path = workspace_for(given) if isinstance(given, str) and given else None
            if path is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            return path

        async def get(body: dict[str, Any]) -> Any:
            return {"ok": True, "trust": (await self.view(resolved(body))).doc()}

        async def grant(body: dict[str, Any]) -> Any:
            workspace = resolved(body)
            wanted = body.get("fingerprint")
            if not isinstance(wanted, str) or not wanted:
                raise ToolFailure("fingerprint is required: the one the trust view showed")
            current = await self.view(workspace)
            if current.state is TrustState.NONE:
                return {"ok": True, "trust": current.doc()}
            if wanted != current.fingerprint:
                raise ToolFailure(
                    "the project's files changed since they were shown (fingerprint "
                    f"{current.fingerprint}, not {wanted}): look at what would run again, then trust it"
                )
            self.store.grant(workspace, wanted)
            logger.info("workspace %s trusted (%s)", workspace, wanted)
            await self.refresh(workspace)
            return {"ok": True, "trust": (await self.view(workspace)).doc()}

        async def revoke(body: dict[str, Any]) -> Any:
            workspace = resolved(body)
            if self.store.revoke(workspace):
                logger.info("workspace %s no longer trusted", workspace)
            await self.refresh(workspace)
            return {"ok": True, "trust": (await self.view(workspace)).doc()}

        return {"trust.get": get, "trust.grant": grant, "trust.revoke": revoke}
