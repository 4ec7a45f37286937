"""A project's own workflow definitions and presets, read on the user's machine for the engine.

The files are gated by trust (trust.py): they are read from the same snapshot the trust fingerprint
is taken of, and handed out only while the user trusts exactly those files. Otherwise the project
works with the built-ins alone and the answer says why.

- `ctl.workflows.read {workspace}` -> `{"ok": true, "trust": state, "trusted": bool, "note": "...",
  "workflows": [{name, source, text}], "presets": [{name, source, text}], "problems": {source: why}}`:
  `.reliant/workflows/*.yaml` and `.reliant/presets/*.yaml` (name: the file stem; source: the file's
  path; a file that is not UTF-8 text is a problem, not a text). Empty lists and a note when the
  project is not trusted.
"""

from __future__ import annotations

import asyncio
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


class WorkflowFiles:
    """`ctl.workflows.*`: a project's workflow definitions and presets, as trusted."""

    def __init__(self, trust: TrustStore) -> None:
        self.trust = trust

    async def read(self, root: Path) -> dict[str, Any]:
        snap = await asyncio.to_thread(snapshot, root)
        state = self.trust.state(snap)
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
