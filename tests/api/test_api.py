"""The api over real HTTP: auth, ConnectRPC and REST, errors with clear messages, settings masked."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.wire.v1 import chat_pb2, settings_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from reliant.wire.v1.settings_connect import SettingsServiceClient
from reliant.worker.role import WorkerRole
from tests.api.conftest import ApiEnv
from tests.support import RoleRunner


async def rest(env: ApiEnv, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """The api runs on this test's event loop: make the blocking request from a thread."""
    return await asyncio.to_thread(_rest, env, method, path, body, token)


def _rest(env: ApiEnv, method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
    request = urllib.request.Request(
        env.url + path, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Authorization", f"Bearer {env.token if token is None else token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


async def test_every_call_but_health_needs_the_token(api_env: ApiEnv) -> None:
    assert (await rest(api_env, "GET", "/health", token=""))[0] == 200
    assert (await rest(api_env, "GET", "/api/chats", token=""))[0] == 401
    assert (await rest(api_env, "GET", "/api/chats", token="nope"))[0] == 401
    async with ChatServiceClient(api_env.url) as client:
        with pytest.raises(ConnectError) as info:
            await client.list_chats(chat_pb2.ListChatsRequest(), headers={"authorization": "Bearer nope"})
    assert info.value.code == Code.UNAUTHENTICATED
    # The token also works as a query parameter (for scripts), but not as a cookie: a cookie would
    # reach every other server on 127.0.0.1.
    by_query = urllib.request.Request(f"{api_env.url}/api/version?token={api_env.token}")
    response = await asyncio.to_thread(urllib.request.urlopen, by_query, timeout=5)
    assert response.status == 200
    response.close()
    by_cookie = urllib.request.Request(
        f"{api_env.url}/api/version", headers={"Cookie": f"reliant_token={api_env.token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        await asyncio.to_thread(urllib.request.urlopen, by_cookie, timeout=5)
    assert refused.value.code == 401
    refused.value.close()


async def test_projects_and_chats_over_connect(api_env: ApiEnv) -> None:
    headers = api_env.headers
    async with ProjectServiceClient(api_env.url) as projects, ChatServiceClient(api_env.url) as chats:
        project = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(api_env.workspace), daemon_id=api_env.settings.daemon_id),
            headers=headers,
        )
        assert project.path == str(api_env.workspace.resolve()) and project.name == "workspace"
        again = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(api_env.workspace), daemon_id=api_env.settings.daemon_id),
            headers=headers,
        )
        assert again.id == project.id
        chat = await chats.create_chat(chat_pb2.CreateChatRequest(project_id=project.id), headers=headers)
        assert chat.model == "scripted:demo" and chat.status == "idle"
        renamed = await chats.rename_chat(chat_pb2.RenameChatRequest(id=chat.id, title="My chat"), headers=headers)
        assert renamed.title == "My chat"
        listed = await chats.list_chats(chat_pb2.ListChatsRequest(project_id=project.id), headers=headers)
        assert [c.id for c in listed.chats] == [chat.id]
        models = await chats.list_models(chat_pb2.ListModelsRequest(), headers=headers)
        assert "scripted:demo" in models.models
        await chats.delete_chat(chat_pb2.DeleteChatRequest(id=chat.id), headers=headers)
        with pytest.raises(ConnectError) as info:
            await chats.get_chat(chat_pb2.GetChatRequest(id=chat.id), headers=headers)
        assert info.value.code == Code.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "code", "fragment"),
    [
        (chat_pb2.GetChatRequest(id="not-a-uuid"), Code.INVALID_ARGUMENT, "must be a UUID"),
        (chat_pb2.GetChatRequest(id="00000000-0000-0000-0000-000000000000"), Code.NOT_FOUND, "not found"),
    ],
)
async def test_bad_ids_get_clear_errors(api_env: ApiEnv, request_: Any, code: Code, fragment: str) -> None:
    async with ChatServiceClient(api_env.url) as chats:
        with pytest.raises(ConnectError) as info:
            await chats.get_chat(request_, headers=api_env.headers)
    assert info.value.code == code and fragment in info.value.message


async def test_bad_input_is_refused_with_the_reason(api_env: ApiEnv) -> None:
    status, body = await rest(
        api_env, "POST", "/api/projects", {"path": "/definitely/not/here", "daemon_id": api_env.settings.daemon_id}
    )
    assert status == 400 and "/definitely/not/here" in body["detail"]
    status, project = await rest(
        api_env, "POST", "/api/projects", {"path": str(api_env.workspace), "daemon_id": api_env.settings.daemon_id}
    )
    assert status == 201
    status, body = await rest(api_env, "POST", "/api/chats", {"project_id": project["id"], "model": "gpt-4o"})
    assert status == 400 and "unknown model 'gpt-4o'" in body["detail"]
    status, chat = await rest(api_env, "POST", "/api/chats", {"project_id": project["id"]})
    assert status == 201
    # A model as typed, spaces and all, is kept as the spec it stands for (prices and lists go by it).
    status, spaced = await rest(
        api_env, "POST", "/api/chats", {"project_id": project["id"], "model": " scripted: demo "}
    )
    assert status == 201 and spaced["model"] == "scripted:demo", spaced
    status, body = await rest(api_env, "POST", f"/api/chats/{chat['id']}/messages", {"text": "   "})
    assert status == 400 and "empty" in body["detail"]
    status, body = await rest(api_env, "POST", f"/api/chats/{chat['id']}/messages", {"text": "x" * 300_000})
    assert status == 400 and "limit" in body["detail"]
    status, _ = await rest(api_env, "POST", f"/api/chats/{chat['id']}/messages", {"nope": 1})
    assert status == 400
    status, body = await rest(api_env, "POST", f"/api/chats/{chat['id']}/resume")
    assert status == 409 and "not paused" in body["detail"]


async def test_a_model_whose_provider_has_no_key_is_refused_where_it_is_chosen(api_env: ApiEnv) -> None:
    """A chat (or a message's model) on a provider without a key used to be accepted, then paused at
    its first model call: it is refused there, naming the field and the key to set. An
    OpenAI-compatible server that needs no key (a base URL alone) is accepted."""
    where = {"path": str(api_env.workspace), "daemon_id": api_env.settings.daemon_id}
    status, project = await rest(api_env, "POST", "/api/projects", where)
    assert status == 201, project
    keyless = {"anthropic:claude-sonnet-4-6": "RELIANT_ANTHROPIC_API_KEY", "openai:gpt-5.4": "RELIANT_OPENAI_BASE_URL"}
    status, chat = await rest(api_env, "POST", "/api/chats", {"project_id": project["id"]})
    assert status == 201, chat
    for model, setting in keyless.items():
        status, body = await rest(api_env, "POST", "/api/chats", {"project_id": project["id"], "model": model})
        assert status == 400 and body["detail"].startswith(f"model: {model!r} cannot be called"), body
        assert setting in body["detail"], body
        sent = {"text": "hi", "model": model}
        status, body = await rest(api_env, "POST", f"/api/chats/{chat['id']}/messages", sent)
        assert status == 400 and body["detail"].startswith(f"model: {model!r} cannot be called"), body
    assert (await rest(api_env, "GET", f"/api/chats/{chat['id']}"))[1]["model"] == "scripted:demo"
    async with ChatServiceClient(api_env.url) as chats:
        with pytest.raises(ConnectError) as info:
            await chats.create_chat(
                chat_pb2.CreateChatRequest(project_id=project["id"], model="anthropic:claude-sonnet-4-6"),
                headers=api_env.headers,
            )
    assert info.value.code == Code.INVALID_ARGUMENT and "ANTHROPIC_API_KEY" in info.value.message
    assert info.value.message.startswith("model: "), info.value.message

    status, _ = await rest(api_env, "PATCH", "/api/settings", {"openai_base_url": "http://127.0.0.1:9/v1"})
    assert status == 200
    status, local = await rest(api_env, "POST", "/api/chats", {"project_id": project["id"], "model": "openai:llama3"})
    assert status == 201 and local["model"] == "openai:llama3", local


async def test_a_model_whose_key_only_the_workers_have_is_taken(api_env: ApiEnv) -> None:
    """A split install may give the provider keys to the workers alone: the api, without them, takes
    the model while a worker of its task queue says (in its presence record) that it can call it."""
    where = {"path": str(api_env.workspace), "daemon_id": api_env.settings.daemon_id}
    _, project = await rest(api_env, "POST", "/api/projects", where)
    chat = {"project_id": project["id"], "model": "anthropic:claude-sonnet-4-6"}
    keyed = api_env.settings.with_overrides(anthropic_api_key="sk-ant-only-the-worker-has-it")
    async with RoleRunner(WorkerRole(keyed)):
        status, body = await rest(api_env, "POST", "/api/chats", chat)
        assert status == 201, body
    status, body = await rest(api_env, "POST", "/api/chats", chat)  # that worker is gone
    assert status == 400 and "ANTHROPIC_API_KEY" in body["detail"], body


async def test_provider_keys_are_written_through_the_api_and_only_shown_masked(api_env: ApiEnv) -> None:
    secret = "sk-ant-abcdefghijklmnopqrstuvwxyz-0123"
    async with SettingsServiceClient(api_env.url) as settings:
        updated = await settings.update_settings(
            settings_pb2.UpdateSettingsRequest(anthropic_api_key=secret), headers=api_env.headers
        )
        anthropic = next(p for p in updated.providers if p.name == "anthropic")
        assert anthropic.configured and anthropic.source == "api"
        assert anthropic.api_key_masked.startswith("sk-a") and secret not in str(updated)
        assert any(m.startswith("anthropic:") for m in updated.models)
        with pytest.raises(ConnectError) as info:
            await settings.update_settings(
                settings_pb2.UpdateSettingsRequest(openai_base_url="ftp://x"), headers=api_env.headers
            )
        assert info.value.code == Code.INVALID_ARGUMENT
        for unsendable in ("sk-ant-ключ", "sk ant", "sk-\x7fant"):  # an HTTP header could never carry it
            with pytest.raises(ConnectError) as info:
                await settings.update_settings(
                    settings_pb2.UpdateSettingsRequest(openai_api_key=unsendable), headers=api_env.headers
                )
            assert info.value.code == Code.INVALID_ARGUMENT and "openai_api_key" in info.value.message
        cleared = await settings.update_settings(
            settings_pb2.UpdateSettingsRequest(anthropic_api_key=""), headers=api_env.headers
        )
        assert not next(p for p in cleared.providers if p.name == "anthropic").configured
    assert secret not in json.dumps((await rest(api_env, "GET", "/api/models"))[1])


async def test_credentials_in_a_base_url_are_never_shown(api_env: ApiEnv) -> None:
    """A proxy's base URL may carry its credentials (https://user:password@host/v1): they are a
    provider secret like a key, stored but never shown again."""
    url = "https://proxy-user:pw-s3cret-0123@127.0.0.1:9/v1"
    status, patched = await rest(api_env, "PATCH", "/api/settings", {"openai_base_url": url})
    assert status == 200, patched
    status, read = await rest(api_env, "GET", "/api/settings")
    assert status == 200
    for shown in (patched, read):
        openai = next(p for p in shown["providers"] if p["name"] == "openai")
        assert openai["configured"] and openai["base_url"] == "https://****@127.0.0.1:9/v1", openai
        assert "s3cret" not in json.dumps(shown) and "proxy-user" not in json.dumps(shown)
    async with SettingsServiceClient(api_env.url) as settings:
        got = await settings.get_settings(settings_pb2.GetSettingsRequest(), headers=api_env.headers)
        assert "s3cret" not in str(got)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/projects"),
        ("POST", "/api/chats"),
        ("PATCH", "/api/chats/{id}"),
        ("POST", "/api/chats/{id}/messages"),
        ("PUT", "/api/chats/{id}/budget"),
        ("POST", "/api/chats/{id}/agents/{id}/worktree"),
        ("POST", "/api/workflows/validate"),
        ("PUT", "/api/projects/{id}/workflows/mine"),
        ("PATCH", "/api/settings"),
    ],
)
async def test_a_rest_body_nested_too_deeply_is_a_clear_400(api_env: ApiEnv, method: str, path: str) -> None:
    """JSON nested thousands deep (in a field the request has, or one it ignores) is the client's
    fault: a 400 saying so, never a 500 from the decoder running out of stack."""
    deep = "[" * 5000 + "]" * 5000
    body = f'{{"unknown": {deep}, "project_id": "00000000-0000-4000-8000-000000000000", "inputs": {{"a": {deep}}}}}'
    url = api_env.url + path.replace("{id}", "00000000-0000-4000-8000-000000000000")
    request = urllib.request.Request(url, method=method, data=body.encode())
    request.add_header("Authorization", f"Bearer {api_env.token}")
    request.add_header("Content-Type", "application/json")

    def send() -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    status, doc = await asyncio.to_thread(send)
    assert status == 400, doc
    assert doc["code"] == "invalid_argument" and "nested too deeply" in doc["detail"], doc
