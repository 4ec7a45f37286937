"""A scripted model (`scripted:/path.yaml`) must lie inside the chat's project or the data dir: any
other path is refused when a chat is created, a message switches model or the default is set, with
the rule named and nothing of the file shown."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError

from reliant.wire.v1 import chat_pb2, settings_pb2
from reliant.wire.v1.chat_connect import ChatServiceClient, ProjectServiceClient
from reliant.wire.v1.settings_connect import SettingsServiceClient
from tests.api.conftest import ApiEnv

SECRET = "hunter2-do-not-print"
RULE = "must lie inside one of the chat's project directories or the data dir"


async def refusal(call: Awaitable[object]) -> str:
    with pytest.raises(ConnectError) as info:
        await call
    assert info.value.code == Code.INVALID_ARGUMENT, info.value
    assert SECRET not in info.value.message
    return info.value.message


async def test_scripts_outside_the_project_and_data_dir_are_refused_without_their_content(
    api_env: ApiEnv, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.yaml").write_text(f"root: {SECRET}\n{SECRET}: 1\n")
    (elsewhere / "shadow").write_text(f"root:{SECRET}:19000:0:99999:7:::\n")
    (api_env.workspace / "bad.yaml").write_text(f"{SECRET}: 1\nturns: []\n")
    (api_env.workspace / "logs-elsewhere.yaml").write_text(f"call_log: {elsewhere}/calls.jsonl\nturns: []\n")
    api_env.settings.data_dir.mkdir(parents=True, exist_ok=True)
    (api_env.settings.data_dir / "ok.yaml").write_text("turns: [{text: hi}]\n")
    (api_env.workspace / "ok.yaml").write_text("turns: [{text: hi}]\n")
    h = api_env.headers
    async with ProjectServiceClient(api_env.url) as projects, ChatServiceClient(api_env.url) as chats:
        project = await projects.create_project(
            chat_pb2.CreateProjectRequest(path=str(api_env.workspace), daemon_id=api_env.settings.daemon_id), headers=h
        )

        def create(model: str) -> Awaitable[chat_pb2.Chat]:
            return chats.create_chat(chat_pb2.CreateChatRequest(project_id=project.id, model=model), headers=h)

        message = await refusal(create(f"scripted:{elsewhere}/secret.yaml"))
        assert RULE in message and str(api_env.workspace) in message
        assert "unknown model" in await refusal(create(f"scripted:{elsewhere}/shadow"))
        shadow = await refusal(create("scripted:/etc/shadow"))
        assert ":*:" not in shadow and ":!:" not in shadow
        assert "the call_log" in await refusal(create(f"scripted:{api_env.workspace}/logs-elsewhere.yaml"))
        assert "unknown key (line 1, column 1)" in await refusal(create(f"scripted:{api_env.workspace}/bad.yaml"))

        chat = await create(f"scripted:{api_env.settings.data_dir}/ok.yaml")
        assert (await create(f"scripted:{api_env.workspace}/ok.yaml")).model.endswith("/ok.yaml")
        send = chats.send_message(
            chat_pb2.SendMessageRequest(chat_id=chat.id, text="hi", model=f"scripted:{elsewhere}/secret.yaml"),
            headers=h,
        )
        assert RULE in await refusal(send)
    async with SettingsServiceClient(api_env.url) as settings:
        update = settings.update_settings(
            settings_pb2.UpdateSettingsRequest(default_model=f"scripted:{elsewhere}/secret.yaml"), headers=h
        )
        assert RULE in await refusal(update)
