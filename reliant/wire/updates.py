"""Chat updates as JSON on NATS, and as protobuf for ConnectRPC clients."""

from __future__ import annotations

import json

from google.protobuf.struct_pb2 import Struct

from reliant.domain.chat import ChatUpdate
from reliant.wire.v1 import chat_pb2


def encode(update: ChatUpdate) -> bytes:
    return json.dumps(
        {
            "chat_id": update.chat_id,
            "seq": update.seq,
            "kind": update.kind,
            "payload": update.payload,
            "created_at": update.created_at,
        },
        separators=(",", ":"),
    ).encode()


def decode(data: bytes) -> ChatUpdate:
    doc = json.loads(data)
    return ChatUpdate(
        chat_id=str(doc["chat_id"]),
        seq=int(doc["seq"]),
        kind=str(doc["kind"]),
        payload=dict(doc.get("payload") or {}),
        created_at=float(doc.get("created_at", 0.0)),
    )


def to_pb(update: ChatUpdate) -> chat_pb2.ChatUpdate:
    payload = Struct()
    payload.update(update.payload)
    return chat_pb2.ChatUpdate(
        chat_id=update.chat_id,
        seq=update.seq,
        kind=update.kind,
        payload=payload,
        created_unix=update.created_at,
    )
