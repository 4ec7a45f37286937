"""The payload codec on its own: what it seals, what it opens, and what it refuses."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext
from temporalio.exceptions import ApplicationError

from reliant.clients.codec import (
    REFUSED,
    REFUSED_TYPE,
    SEALED,
    CodecKey,
    RunStartedBefore,
    SealingCodec,
    data_converter,
    load_key,
)
from reliant.errors import ConfigError

KEY = CodecKey.generate()


def context(workflow_id: str) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="reliant", workflow_id=workflow_id)


async def test_a_value_is_sealed_for_its_workflow_and_opens_only_there() -> None:
    converter = data_converter(KEY).with_context(context("chat-1"))
    [payload] = await converter.encode(["the message id m-123"])
    assert payload.metadata["encoding"] == SEALED
    assert b"m-123" not in payload.SerializeToString()
    assert await converter.decode([payload], [str]) == ["the message id m-123"]
    # An activity of the same workflow opens it too.
    activity = ActivitySerializationContext(
        namespace="reliant",
        activity_id="1",
        activity_type="t",
        activity_task_queue="q",
        workflow_id="chat-1",
        workflow_type="Agent",
        is_local=False,
    )
    assert await data_converter(KEY).with_context(activity).decode([payload], [str]) == ["the message id m-123"]

    # Copied into another chat's workflow, or read with another key: refused, and reading it fails
    # with a non-retryable error (the SDK drops such a signal and rejects such an update).
    elsewhere = data_converter(KEY).with_context(context("chat-2"))
    other_key = data_converter(CodecKey.generate()).with_context(context("chat-1"))
    for wrong in (elsewhere, other_key):
        with pytest.raises(ApplicationError) as info:
            await wrong.decode([payload], [str])
        assert info.value.type == REFUSED_TYPE and info.value.non_retryable


async def test_the_codec_bound_to_a_workflow_is_made_once_and_still_binds_it() -> None:
    root = SealingCodec(KEY)
    one, two = root.with_context(context("chat-1")), root.with_context(context("chat-2"))
    assert root.with_context(context("chat-1")) is one and one.with_context(context("chat-2")) is two
    [sealed] = await one.encode([Payload(metadata={"encoding": b"binary/plain"}, data=b"x")])
    [refused] = await two.decode([sealed])
    assert refused.metadata["encoding"] == REFUSED
    [opened] = await root.with_context(context("chat-1")).decode([sealed])
    assert opened.data == b"x"


async def test_a_tampered_or_forged_sealed_payload_is_refused_not_raised() -> None:
    codec = SealingCodec(KEY).with_context(context("chat-1"))
    [payload] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"manual"')])
    flipped = bytearray(payload.data)
    flipped[-1] ^= 1
    forged = [
        Payload(metadata=payload.metadata, data=bytes(flipped)),
        Payload(metadata={"encoding": SEALED}, data=b"short"),
        Payload(metadata={"encoding": SEALED}, data=payload.data[:12]),
        Payload(metadata={"encoding": SEALED}),
    ]
    for opened in await codec.decode(forged):
        assert opened.metadata["encoding"] == REFUSED and not opened.data


async def test_plaintext_opens_only_for_runs_that_started_before_the_key() -> None:
    cutoff = time.time()
    starts = {"chat-old": datetime.fromtimestamp(cutoff - 60, UTC), "chat-new": datetime.fromtimestamp(cutoff + 1, UTC)}
    asked: list[str] = []

    async def started_at(workflow_id: str) -> datetime | None:
        asked.append(workflow_id)
        return starts.get(workflow_id)

    legacy = RunStartedBefore(cutoff, started_at)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"auto"')
    for workflow_id, opens in [("chat-old", True), ("chat-new", False), ("chat-none", False), ("", False)]:
        [opened] = await SealingCodec(KEY, legacy).with_context(context(workflow_id)).decode([plain])
        assert (opened == plain) is opens, workflow_id
        assert opens or opened.metadata["encoding"] == REFUSED
    # Without the rule (a key given as a setting), plaintext never opens.
    [opened] = await SealingCodec(KEY).with_context(context("chat-old")).decode([plain])
    assert opened.metadata["encoding"] == REFUSED
    # A run newer than the key never gets older: it is not asked about again.
    asked.clear()
    await SealingCodec(KEY, legacy).with_context(context("chat-new")).decode([plain])
    assert asked == []


def test_the_key_file_round_trips_and_errors_name_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "codec_key"
    path.write_text(KEY.to_text())
    loaded = load_key(key_file=str(path))
    assert loaded == KEY and loaded.legacy_before is not None
    # The key alone, as RELIANT_CODEC_KEY: never any plaintext.
    alone = KEY.to_text().splitlines()[0]
    assert load_key(key=alone) == CodecKey(KEY.key, None)
    with pytest.raises(ConfigError, match="codec_key: must be 32 bytes"):
        load_key(key="c2hvcnQ")
    with pytest.raises(ConfigError, match="codec_key: not base64"):
        load_key(key="not base64 at all!")
    with pytest.raises(ConfigError, match=f"codec_key_file: cannot read {tmp_path / 'missing'}"):
        load_key(key_file=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no Temporal codec key"):
        load_key()
    assert "key=" not in repr(KEY) and KEY.to_text().splitlines()[0] not in repr(KEY)
