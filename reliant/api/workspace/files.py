"""Files of a workspace: tree, read, write (with conflict detection), search, rename, delete."""

from __future__ import annotations

import base64
import logging
from typing import Any

from reliant.api.workspace.daemons import (
    Ctx,
    Daemons,
    guard,
)
from reliant.wire.v1 import workspace_pb2 as pb

logger = logging.getLogger(__name__)


class FileSystemService:
    def __init__(self, daemons: Daemons) -> None:
        self.daemons = daemons

    async def _ask(self, project_id: str, worktree_id: str, name: str, body: dict[str, Any]) -> Any:
        t = await self.daemons.target(project_id, worktree_id)
        return await self.daemons.ask(t.daemon_id, name, {"workspace": t.workspace, **body})

    async def list_directory(self, request: pb.ListDirectoryRequest, ctx: Ctx) -> pb.ListDirectoryResponse:
        async def work() -> pb.ListDirectoryResponse:
            body = {"path": request.path or ".", "show_ignored": request.show_ignored}
            reply = await self._ask(request.project_id, request.worktree_id, "fs.tree", body)
            return pb.ListDirectoryResponse(
                path=reply["path"], entries=[pb.FileEntry(**e) for e in reply["entries"]], truncated=reply["truncated"]
            )

        return await guard(work())

    async def read_file(self, request: pb.ReadFileRequest, ctx: Ctx) -> pb.ReadFileResponse:
        async def work() -> pb.ReadFileResponse:
            body: dict[str, Any] = {"path": request.path}
            if request.max_bytes:
                body["max_bytes"] = request.max_bytes
            r = await self._ask(request.project_id, request.worktree_id, "fs.read", body)
            return pb.ReadFileResponse(
                path=r["path"],
                size=r["size"],
                sha256=r["sha256"],
                mtime_unix=r["mtime_unix"],
                binary=r["binary"],
                mime=r["mime"],
                text=r["content"] if r["encoding"] == "utf-8" else "",
                data=base64.b64decode(r["content"]) if r["encoding"] == "base64" else b"",
                truncated=r["truncated"],
            )

        return await guard(work())

    async def save_file(self, request: pb.SaveFileRequest, ctx: Ctx) -> pb.SaveFileResponse:
        async def work() -> pb.SaveFileResponse:
            body: dict[str, Any] = {"path": request.path, "base_sha256": request.base_sha256, "force": request.force}
            if request.data:
                body["data"] = base64.b64encode(request.data).decode()
            else:
                body["content"] = request.text
            r = await self._ask(request.project_id, request.worktree_id, "fs.save", body)
            return pb.SaveFileResponse(path=r["path"], sha256=r["sha256"], size=r["size"], created=r["created"])

        return await guard(work())

    async def create_path(self, request: pb.CreatePathRequest, ctx: Ctx) -> pb.PathResponse:
        body = {"path": request.path, "kind": "dir" if request.directory else "file", "content": request.text}
        r = await guard(self._ask(request.project_id, request.worktree_id, "fs.create", body))
        return pb.PathResponse(path=r["path"])

    async def delete_path(self, request: pb.DeletePathRequest, ctx: Ctx) -> pb.PathResponse:
        body = {"path": request.path, "recursive": request.recursive}
        r = await guard(self._ask(request.project_id, request.worktree_id, "fs.delete", body))
        return pb.PathResponse(path=r["path"])

    async def rename_path(self, request: pb.RenamePathRequest, ctx: Ctx) -> pb.PathResponse:
        body = {"path": request.path, "to": request.to, "overwrite": request.overwrite}
        r = await guard(self._ask(request.project_id, request.worktree_id, "fs.rename", body))
        return pb.PathResponse(path=r["path"], to=r["to"])

    async def search_files(self, request: pb.SearchFilesRequest, ctx: Ctx) -> pb.SearchFilesResponse:
        body: dict[str, Any] = {
            "query": request.query,
            "mode": "content" if request.content else "name",
            "regex": request.regex,
            "case_sensitive": request.case_sensitive,
            "path": request.path or ".",
        }
        if request.max_results:
            body["max_results"] = request.max_results
        r = await guard(self._ask(request.project_id, request.worktree_id, "fs.search", body))
        return pb.SearchFilesResponse(
            matches=[
                pb.SearchMatch(path=m["path"], line=m.get("line", 0), text=m.get("text", "")) for m in r["results"]
            ],
            truncated=r["truncated"],
        )
