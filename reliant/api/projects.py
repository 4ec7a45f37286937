"""A project's trust and its removal: the service layer behind ConnectRPC and REST.

Trust is the daemon's to keep and enforce (it runs on the user's machine and cannot read Postgres):
these calls ask the project's daemon (`ctl.trust.*`, daemon/trust.py) and hand back its answer.
Removing a project forgets it here and on its daemon; no file on disk is touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from reliant.api import chat_stop
from reliant.api.chats import check_id
from reliant.api.context import ApiContext
from reliant.api.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError
from reliant.clients.daemons import control
from reliant.db import chats as chats_db
from reliant.db import projects as projects_db
from reliant.domain.chat import Project
from reliant.errors import DaemonUnavailableError

logger = logging.getLogger(__name__)

TRUST_TIMEOUT = 30.0  # a grant starts the servers it allows
MAX_FINGERPRINT = 100


@dataclass(frozen=True, slots=True)
class Removed:
    chats_deleted: int
    daemon_released: bool


class Projects:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.db = ctx.db

    async def project(self, project_id: str) -> Project:
        found = await projects_db.get(self.db, check_id("project", project_id))
        if found is None:
            raise NotFoundError(f"project {project_id} not found")
        return found

    # -- trust ----------------------------------------------------------------------------------
    async def trust(self, project_id: str) -> dict[str, Any]:
        """The daemon's trust view of the project (daemon/trust.py TrustView.doc)."""
        project = await self.project(project_id)
        return await self._ask(project, "trust.get", {"workspace": project.path})

    async def grant(self, project_id: str, fingerprint: str) -> dict[str, Any]:
        if not fingerprint or len(fingerprint) > MAX_FINGERPRINT:
            raise InvalidArgumentError("fingerprint is required: the one GetProjectTrust returned")
        project = await self.project(project_id)
        return await self._ask(project, "trust.grant", {"workspace": project.path, "fingerprint": fingerprint})

    async def revoke(self, project_id: str) -> dict[str, Any]:
        project = await self.project(project_id)
        return await self._ask(project, "trust.revoke", {"workspace": project.path})

    async def _ask(self, project: Project, name: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await control(self.ctx.bus, project.daemon_id, name, body, timeout=TRUST_TIMEOUT)
        except DaemonUnavailableError as exc:
            raise UnavailableError(str(exc)) from None
        if not isinstance(reply, dict) or not reply.get("ok"):
            error = str(reply.get("error") if isinstance(reply, dict) else reply)
            if "changed since they were shown" in error:
                raise FailedPreconditionError(error)
            raise InvalidArgumentError(f"daemon {project.daemon_id}: {error}")
        trust = reply.get("trust")
        return trust if isinstance(trust, dict) else {}

    # -- removal --------------------------------------------------------------------------------
    async def delete(self, project_id: str) -> Removed:
        """Forget the project and its chats; refused while one of them runs a turn (stop it first).
        What its chats run is stopped as deleting each chat stops it (chat_stop.py): a paused or
        waiting chat's agents and their commands, an idle chat's dev server, would run on with no
        chat to stop them from. Its daemon stops serving the directory (and forgets its trust);
        files stay on disk."""
        project = await self.project(project_id)
        chats = await chats_db.list_all(self.db, project.id)
        before = {c.id: await chat_stop.running(self.db, c.id, project.daemon_id) for c in chats}  # rows go next
        try:
            deleted = await projects_db.delete_unless_running(self.db, project.id)
        except projects_db.ChatsRunning as exc:
            running = exc.chat_ids
            raise FailedPreconditionError(
                f"project {project.name} has {len(running)} chat(s) running a turn ({', '.join(running)}):"
                " stop them first, then remove the project"
            ) from None
        for chat_id in deleted:  # idle and paused chats still have a workflow waiting for messages
            what = before.get(chat_id) or await chat_stop.running(self.db, chat_id, project.daemon_id)
            try:
                await chat_stop.stop(self.ctx, what, "project removed")
            except UnavailableError as exc:
                logger.warning("%s", exc)
        return Removed(len(deleted), await self._release(project))

    async def _release(self, project: Project) -> bool:
        """Tell the daemon to forget the directory's trust and stop serving it (best effort: the
        project is gone either way)."""
        try:
            await control(self.ctx.bus, project.daemon_id, "trust.revoke", {"workspace": project.path}, timeout=10)
            reply = await control(
                self.ctx.bus, project.daemon_id, "workspace.remove", {"path": project.path}, timeout=10
            )
        except DaemonUnavailableError as exc:
            logger.info("project %s removed; its daemon did not hear of it: %s", project.path, exc)
            return False
        return isinstance(reply, dict) and bool(reply.get("removed"))
