"""REST twin of SettingsService, in the same JSON shapes (protobuf JSON, field names as in the proto).

GET   /api/settings   providers (keys masked), the default model, budgets and price overrides
PATCH /api/settings   an UpdateSettingsRequest: only the fields present change, e.g.
                      {"budget_chat_usd": 5, "budget_project_day_usd": 20,
                       "model_prices": {"prices": [{"model": "openai:local", "input": 0.1, "output": 0.2}]}}
                      a bad field is refused with 400 naming it, and nothing changes
"""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from litestar import Controller, Request, get, patch
from litestar.di import NamedDependency

from reliant.api.request_decoding import decode_json
from reliant.api.settings import SettingsService
from reliant.wire.v1 import settings_pb2 as pb


def _json(settings: pb.Settings) -> dict[str, Any]:
    return MessageToDict(settings, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


class SettingsController(Controller):
    path = "/api/settings"

    @get("/")
    async def read(self, settings: NamedDependency[SettingsService]) -> dict[str, Any]:
        return _json(await settings.current())

    @patch("/")
    async def update(
        self, request: Request[Any, Any, Any], settings: NamedDependency[SettingsService]
    ) -> dict[str, Any]:
        return _json(await settings.update(decode_json(await request.body(), pb.UpdateSettingsRequest)))
