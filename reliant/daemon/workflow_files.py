"""A project's own workflow definitions and presets, read on the user's machine for the engine.

The files are gated by trust (trust.py): they are read from the same snapshot the trust fingerprint
is taken of, and handed out only while the user trusts exactly those files. Otherwise the project
works with the built-ins alone and the answer says why.

- `ctl.workflows.read {workspace}` -> `{"ok": true, "trust": state, "trusted": bool, "note": "...",
  "workflows": [{name, source, text}], "presets": [{name, source, text}], "problems": {source: why}}`:
  `.reliant/workflows/*.yaml` and `.reliant/presets/*.yaml` (name: the file stem; source: the file's
  path; a file that is not UTF-8 text is a problem, not a text). Empty lists and a note when the
  project is not trusted.

A workflow is read once, when its run starts, and its `run` steps run later: meanwhile the files it
was trusted with may change (a `git pull`, an earlier step editing `scripts/check.sh`). So a project
workflow's step (`run_command` with `project: true`) is checked again as it runs (`refusal`): it runs
only while the workspace's files, read then, are trusted; otherwise it runs nothing and says which
files changed since they were last handed out trusted (remembered by this daemon run).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

from reliant.daemon.tools.base import ToolFailure
from reliant.daemon.trust import PRESETS_DIR, WORKFLOWS_DIR, Snapshot, TrustState, TrustStore, snapshot

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
SUFFIX = ".yaml"


def _texts(snap: Snapshot, folder: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The `*.yaml` files directly in `folder` of the snapshot; problems by source."""
    texts: list[dict[str, str]] = []
    problems: dict[str, str] = {}
    for rel in sorted([*snap.files, *snap.problems]):
        path = PurePosixPath(rel)
        if str(path.parent) != folder or path.suffix != SUFFIX:
            continue
        source = str(snap.root / rel)
        if rel in snap.problems:
            problems[source] = snap.problems[rel]
            continue
        try:
            text = snap.files[rel].decode("utf-8")
        except UnicodeDecodeError:
            problems[source] = "not UTF-8 text"
            continue
        texts.append({"name": path.stem, "source": source, "text": text})
    return texts, problems


def untrusted_note(state: TrustState) -> str:
    why = "the project is not trusted" if state is TrustState.UNTRUSTED else "its files changed since they were trusted"
    return f"the project's own workflows and presets are not used: {why} (see `reliant trust`); the built-in ones are"


def _digests(snap: Snapshot) -> dict[str, str]:
    """What each file the fingerprint covers was (a digest of its content, or why it was not read)."""
    found = {rel: hashlib.sha256(data).hexdigest() for rel, data in [*snap.files.items(), *snap.scripts.items()]}
    return found | {rel: f"not read: {why}" for rel, why in snap.problems.items()}


class WorkflowFiles:
    """`ctl.workflows.*`: a project's workflow definitions and presets, as trusted; and the check a
    project workflow's step passes as it runs."""

    def __init__(self, trust: TrustStore) -> None:
        self.trust = trust
        self._handed: dict[Path, dict[str, str]] = {}  # by workspace: the files last handed out trusted

    async def refusal(self, root: Path) -> str:
        """Why a project workflow's `run` step may not run in `root` now ("" when it may): the
        workspace's files as they are now are not trusted. With none left (removed, or a worktree
        checked out without them) nothing binds the scripts the step runs, so it does not run either.
        Which files changed is known when this daemon run handed them out (`read`); after a restart
        the answer names every file the trust covers."""
        snap = await asyncio.to_thread(snapshot, root)
        if self.trust.state(snap) is TrustState.TRUSTED:
            return ""
        before, now = self._handed.get(root), _digests(snap)
        if before is None:
            which = f"one of {', '.join(sorted(now))}" if now else "none of them is here"
        else:
            which = ", ".join(sorted(rel for rel in {*before, *now} if before.get(rel) != now.get(rel)))
        return (
            f"the workspace's trusted files changed since this workflow was read: {which or 'its trust was revoked'}; "
            "review them and trust it again to run this step "
            "(`reliant trust`, or the trust step on the project's page)"
        )

    async def read(self, root: Path) -> dict[str, Any]:
        snap = await asyncio.to_thread(snapshot, root)
        state = self.trust.state(snap)
        if state is TrustState.TRUSTED:
            self._handed[root] = _digests(snap)
        if not state.allows:
            return {
                "ok": True,
                "trust": state.value,
                "trusted": False,
                "note": untrusted_note(state),
                "workflows": [],
                "presets": [],
                "problems": {},
            }
        workflows, problems = _texts(snap, WORKFLOWS_DIR)
        presets, preset_problems = _texts(snap, PRESETS_DIR)
        return {
            "ok": True,
            "trust": state.value,
            "trusted": True,
            "note": "",
            "workflows": workflows,
            "presets": presets,
            "problems": {**problems, **preset_problems},
        }

    def controls(self, workspace_for: Callable[[str], Path | None]) -> dict[str, Handler]:
        async def read(body: dict[str, Any]) -> Any:
            given = body.get("workspace", "")
            path = workspace_for(given) if isinstance(given, str) and given else None
            if path is None:
                raise ToolFailure(f"workspace {given or '(none)'} is not registered on this daemon")
            return await self.read(path)

        return {"workflows.read": read}
