"""Images and `@path` attachments over real HTTP: Connect (JSON, as the web composer sends them) and
REST; bad images get a 400 that names the field."""

from __future__ import annotations

import base64
from typing import Any

from tests.api.conftest import ApiEnv
from tests.api.test_api import rest

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


PIXEL = {"mediaType": "image/png", "data": base64.b64encode(PNG).decode()}  # as the web composer sends it


async def send_over_connect(env: ApiEnv, body: dict[str, Any]) -> tuple[int, Any]:
    return await rest(env, "POST", "/reliant.v1.ChatService/SendMessage", body)


async def new_chat(env: ApiEnv) -> dict[str, Any]:
    status, project = await rest(
        env, "POST", "/api/projects", {"path": str(env.workspace), "daemon_id": env.settings.daemon_id}
    )
    assert status == 201
    status, chat = await rest(env, "POST", "/api/chats", {"project_id": project["id"]})
    assert status == 201
    return dict(chat)


async def test_images_and_attachments_over_connect_json_and_rest(api_env: ApiEnv) -> None:
    (api_env.workspace / "notes.md").write_text("# notes\n")
    chat = await new_chat(api_env)
    image = PIXEL["data"]

    status, sent = await send_over_connect(
        api_env, {"chatId": chat["id"], "text": "see @notes.md and @gone.md", "images": [PIXEL]}
    )
    assert status == 200, sent
    assert sent["attachments"] == [
        {"path": "notes.md", "kind": "text", "size": "8"},
        {"path": "gone.md", "kind": "error", "error": "no such file in the project: gone.md"},
    ]
    status, by_rest = await rest(
        api_env,
        "POST",
        f"/api/chats/{chat['id']}/messages",
        {"text": "and this", "images": [{"media_type": "image/png", "data": image}]},
    )
    assert status == 201, by_rest
    assert by_rest["attachments"] == []

    status, messages = await rest(api_env, "GET", f"/api/chats/{chat['id']}/messages")
    assert status == 200
    first = messages[0]["blocks"]
    assert [(b["type"], b["path"], b["is_error"]) for b in first] == [
        ("text", "", False),
        ("text", "notes.md", False),
        ("text", "gone.md", True),
        ("image", "", False),
    ]
    assert first[3]["media_type"] == "image/png" and base64.b64decode(first[3]["text"]) == PNG


async def test_bad_images_get_a_400_naming_the_field(api_env: ApiEnv) -> None:
    chat = await new_chat(api_env)
    url = f"/api/chats/{chat['id']}/messages"

    status, body = await rest(
        api_env, "POST", url, {"text": "x", "images": [{"media_type": "image/png", "data": "%%"}]}
    )
    assert status == 400 and "images[0].data must be base64" in body["detail"]
    gif = {"media_type": "image/gif", "data": base64.b64encode(PNG).decode()}
    status, body = await rest(api_env, "POST", url, {"text": "x", "images": [gif]})
    assert status == 400 and "images[0].data is not a image/gif image" in body["detail"]
    status, body = await rest(
        api_env,
        "POST",
        "/reliant.v1.ChatService/SendMessage",
        {"chatId": chat["id"], "text": "x", "images": [{"mediaType": "text/html", "data": "PGI+"}]},
    )
    assert status == 400 and "images[0].media_type must be one of" in body["message"]


async def test_an_image_alone_is_a_message_and_nothing_at_all_is_refused(api_env: ApiEnv) -> None:
    chat = await new_chat(api_env)
    status, sent = await send_over_connect(api_env, {"chatId": chat["id"], "images": [PIXEL]})
    assert status == 200, sent
    status, messages = await rest(api_env, "GET", f"/api/chats/{chat['id']}/messages")
    assert status == 200
    # The image is the message: no empty text block before it (a provider refuses one).
    assert [b["type"] for b in messages[0]["blocks"]] == ["image"]
    status, body = await rest(api_env, "POST", f"/api/chats/{chat['id']}/messages", {"text": "  ", "images": []})
    assert status == 400 and "it has neither text nor an image" in body["detail"], body
