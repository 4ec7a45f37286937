"""How the CLI reaches a running api (ConnectRPC clients with the token), and its one-line error."""

from __future__ import annotations

from dataclasses import dataclass

from reliant.wire.v1.chat_connect import ChatServiceClientSync, ProjectServiceClientSync
from reliant.wire.v1.control_connect import ApprovalServiceClientSync, QuestionServiceClientSync


class CliError(Exception):
    """A one-line error for the user; the CLI prints it and exits 1."""


@dataclass
class Api:
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def chats(self) -> ChatServiceClientSync:
        return ChatServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)

    def projects(self) -> ProjectServiceClientSync:
        return ProjectServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)

    def approvals(self) -> ApprovalServiceClientSync:
        return ApprovalServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)

    def questions(self) -> QuestionServiceClientSync:
        return QuestionServiceClientSync(self.url, proto_json=True, timeout_ms=30_000)
