"""ListModelChoices over real HTTP: each configured provider's own model list (asked through its SDK
from the fake provider servers), recent models first, cached, and failing soft."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.config import Settings
from reliant.daemon.role import DaemonRole
from reliant.db import Database
from reliant.gateway.role import GatewayRole
from reliant.wire.v1 import chat_pb2
from reliant.wire.v1 import settings_pb2 as pb
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from reliant.wire.v1.settings_connect import SettingsServiceClient
from tests.conftest import Infra
from tests.llm.fakes import ErrorResponse, FakeLlmServer
from tests.support import RoleRunner, eventually

HEADERS = {"authorization": "Bearer test-api-token"}


@dataclasses.dataclass
class Env:
    url: str
    settings: Settings
    anthropic: FakeLlmServer
    openai: FakeLlmServer
    workspace: Path


@pytest.fixture
async def env(infra: Infra, migrated_db: object, tmp_path: Path) -> AsyncIterator[Env]:
    api_port, gateway_port = free_port(), free_port()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    async with AsyncExitStack() as stack:
        anthropic = await stack.enter_async_context(FakeLlmServer())
        openai = await stack.enter_async_context(FakeLlmServer())
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=infra.database_url,
            nats_url=infra.nats_url,
            nats_token=infra.nats_token,
            temporal_address=infra.temporal_address,
            codec_key=infra.codec_key,
            temporal_task_queue=f"models-{uuid.uuid4().hex[:8]}",
            api_port=api_port,
            api_token="test-api-token",
            gateway_port=gateway_port,
            gateway_address=f"127.0.0.1:{gateway_port}",
            daemon_token="daemon-secret",
            daemon_id=f"d-{uuid.uuid4().hex[:8]}",
            heartbeat_interval=0.5,
            heartbeat_timeout=3.0,
            anthropic_api_key="sk-ant-test",
            anthropic_base_url=anthropic.url,
            openai_base_url=openai.openai_url,
        )
        await stack.enter_async_context(RoleRunner(GatewayRole(settings)))
        await stack.enter_async_context(RoleRunner(DaemonRole(settings)))
        await stack.enter_async_context(RoleRunner(ApiRole(settings)))
        try:
            yield Env(f"http://127.0.0.1:{api_port}", settings, anthropic, openai, workspace)
        finally:
            # Settings written through the api live in the shared database: a base URL left behind
            # would become every later test's provider configuration.
            assert isinstance(migrated_db, Database)
            await migrated_db.execute("DELETE FROM settings")


def listed(choices: pb.ModelChoices, source: str | None = None) -> list[str]:
    return [c.model for c in choices.choices if source is None or c.source == source]


def asked(server: FakeLlmServer) -> int:
    return sum(1 for r in server.requests if r.path == "/v1/models")


async def test_providers_list_their_models_recent_ones_first_cached_and_failing_soft(env: Env) -> None:
    env.anthropic.listed_models = ["claude-opus-4-7", "claude-sonnet-4-6"]
    env.openai.listed_models = ["llama3.2"]
    async with SettingsServiceClient(env.url) as settings, ProjectServiceClient(env.url) as projects:
        project = await eventually(
            lambda: projects.create_project(
                chat_pb2.CreateProjectRequest(path=str(env.workspace), daemon_id=env.settings.daemon_id),
                headers=HEADERS,
            ),
            timeout=20,
        )
        async with ChatServiceClient(env.url) as chats:
            await chats.create_chat(
                chat_pb2.CreateChatRequest(project_id=project.id, model="openai:my-finetune"), headers=HEADERS
            )
        choices = await settings.list_model_choices(pb.ListModelChoicesRequest(), headers=HEADERS)
        assert listed(choices, "recent")[0] == "openai:my-finetune"  # newest first (the database is shared)
        assert listed(choices, "provider") == [
            "anthropic:claude-opus-4-7",
            "anthropic:claude-sonnet-4-6",
            "openai:llama3.2",
        ]
        assert listed(choices)[0] == "openai:my-finetune" and "scripted:demo" in listed(choices), "recent, default"
        labels = {c.model: c.label for c in choices.choices}
        assert labels["anthropic:claude-opus-4-7"] == "Claude Opus 4 7"
        assert {p.provider: (p.configured, p.error) for p in choices.providers} == {
            "anthropic": (True, ""),
            "openai": (True, ""),
            "scripted": (True, ""),
        }
        # Cached: the providers are not asked again, unless asked to refresh.
        await settings.list_model_choices(pb.ListModelChoicesRequest(), headers=HEADERS)
        assert (asked(env.anthropic), asked(env.openai)) == (1, 1)
        # A provider that fails gives its usual models and says why; the others are unaffected.
        env.anthropic.models_error = ErrorResponse(
            401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
        )
        env.openai.listed_models = ["llama3.2", "qwen2.5-coder"]
        fresh = await settings.list_model_choices(pb.ListModelChoicesRequest(refresh=True), headers=HEADERS)
        assert (asked(env.anthropic), asked(env.openai)) == (2, 2)
        anthropic = next(p for p in fresh.providers if p.provider == "anthropic")
        assert "invalid x-api-key" in anthropic.error
        assert "anthropic:claude-sonnet-4-6" in listed(fresh, "default")
        assert "openai:qwen2.5-coder" in listed(fresh, "provider")


async def test_a_new_provider_configuration_never_waits_for_the_answer_to_the_old_one(env: Env) -> None:
    env.anthropic.listed_models = ["claude-from-the-old-server"]
    env.anthropic.models_held = asyncio.Event()  # the old server does not answer yet
    async with FakeLlmServer() as new_server, SettingsServiceClient(env.url) as settings:
        new_server.listed_models = ["claude-from-the-new-server"]
        old = asyncio.create_task(settings.list_model_choices(pb.ListModelChoicesRequest(), headers=HEADERS))
        await eventually(lambda: asked(env.anthropic) == 1, timeout=10)
        await settings.update_settings(pb.UpdateSettingsRequest(anthropic_base_url=new_server.url), headers=HEADERS)
        # Asked while the old listing is still in flight: the new server's models (not the old
        # listing's, nor its failure once it gives up waiting).
        fresh = await settings.list_model_choices(pb.ListModelChoicesRequest(), headers=HEADERS)
        assert "anthropic:claude-from-the-new-server" in listed(fresh, "provider")
        assert "anthropic:claude-from-the-old-server" not in listed(fresh)
        env.anthropic.models_held.set()
        assert "anthropic:claude-from-the-old-server" in listed(await old, "provider")
        # The old answer, come late, does not stand for the new configuration.
        again = await settings.list_model_choices(pb.ListModelChoicesRequest(), headers=HEADERS)
        assert "anthropic:claude-from-the-new-server" in listed(again, "provider")
        assert "anthropic:claude-from-the-old-server" not in listed(again)
