"""SettingsService: provider keys and the default model, written through the api and never read
back in clear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext

from reliant.api.context import ApiContext
from reliant.clients.providers import WRITABLE, ProviderPool
from reliant.config import mask
from reliant.db import projects as projects_db
from reliant.db import settings as settings_db
from reliant.llm.errors import LlmError
from reliant.llm.registry import parse_model
from reliant.llm.script import check_script_place
from reliant.wire.v1 import settings_pb2 as pb

MAX_VALUE_CHARS = 4096


class SettingsService:
    def __init__(self, ctx: ApiContext, providers: ProviderPool) -> None:
        self.ctx = ctx
        self.providers = providers

    async def get_settings(self, request: pb.GetSettingsRequest, ctx: RequestContext[Any, Any]) -> pb.Settings:
        return await self.current()

    async def update_settings(self, request: pb.UpdateSettingsRequest, ctx: RequestContext[Any, Any]) -> pb.Settings:
        changes = {key: getattr(request, key).strip() for key in WRITABLE if request.HasField(key)}
        for key, value in changes.items():
            if len(value) > MAX_VALUE_CHARS or "\n" in value:
                raise ConnectError(Code.INVALID_ARGUMENT, f"{key} is not a valid value")
            if key.endswith("_base_url") and value and not value.startswith(("http://", "https://")):
                raise ConnectError(Code.INVALID_ARGUMENT, f"{key} must be an http(s) URL")
            if key.endswith("_api_key") and not all("!" <= c <= "~" for c in value):
                # it goes into an HTTP header: printable ASCII without spaces, or it can never be sent
                raise ConnectError(Code.INVALID_ARGUMENT, f"{key} may only contain printable ASCII without spaces")
        if changes.get("default_model"):
            await self._check_default_model(changes["default_model"])
        await settings_db.put(self.ctx.db, changes)
        self.providers.invalidate()
        return await self.current()

    async def _check_default_model(self, spec: str) -> None:
        """A scripted default must lie inside a registered project or the data dir (each chat's
        model is checked again against its own project when it is used)."""
        try:
            parsed = parse_model(spec)
            if parsed.provider == "scripted":
                projects = await projects_db.list_all(self.ctx.db)
                check_script_place(parsed.model, [self.ctx.settings.data_dir, *(Path(p.path) for p in projects)])
        except LlmError as exc:
            raise ConnectError(Code.INVALID_ARGUMENT, f"default_model: {exc.message}") from None

    async def current(self) -> pb.Settings:
        effective = await self.providers.effective()
        v, source = effective.values, effective.source
        out = pb.Settings(
            default_model=v["default_model"] or self.ctx.settings.default_model,
            models=(await self.providers.providers()).available_models(),
        )
        for name in ("anthropic", "openai"):
            key, url = v[f"{name}_api_key"], v[f"{name}_base_url"]
            out.providers.append(
                pb.ProviderSettings(
                    name=name,
                    configured=bool(key or (name == "openai" and url)),
                    api_key_masked=mask(key) if key else "",
                    base_url=url,
                    source=source[f"{name}_api_key"] or source[f"{name}_base_url"],
                )
            )
        return out
