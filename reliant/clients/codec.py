"""The Temporal payload codec: every payload reliant hands to Temporal is sealed with AES-256-GCM.

The Temporal dev server has no authentication, so any local user can read histories and send
signals and updates. Sealing closes both: a history shows `binary/encrypted` blobs, and a signal or
update whose payload was not sealed with this reliant's key decodes to a *refused* payload that
the payload converter turns into a non-retryable `ApplicationError`. The SDK then drops such a
signal, rejects such an update before its validator runs, and fails (instead of retrying forever)
a workflow started with such an input — nothing is left stuck.

A sealed payload is the whole original `Payload` (its metadata included) encrypted, with the
workflow id as associated data: a blob copied out of one chat's history does not open in another.

Upgrades: runs started before the key existed hold plaintext payloads. A key file written by
reliant records when the key was made (`legacy_before`); a plaintext payload is accepted only for a
workflow whose current run started before that moment (asked from Temporal, which sets start times
itself: a run cannot be made to look older than it is). Every other plaintext payload is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, Self, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from reliant.errors import ConfigError

logger = logging.getLogger(__name__)

SEALED = b"binary/encrypted"
REFUSED = b"binary/reliant-refused"
KEY_ID = "encryption-key-id"
REFUSED_TYPE = "RefusedPayload"
_NONCE = 12
_AAD = b"reliant-payload-v1\0"


@dataclass(frozen=True, slots=True)
class CodecKey:
    """A 256-bit key, and the moment before which Temporal runs may hold plaintext payloads."""

    key: bytes = dataclasses.field(repr=False)
    legacy_before: float | None = None  # unix seconds; None: no plaintext is ever accepted

    @classmethod
    def generate(cls) -> CodecKey:
        return cls(AESGCM.generate_key(bit_length=256), legacy_before=time.time())

    @classmethod
    def parse(cls, text: str, source: str) -> CodecKey:
        """A key as written by `to_text` (or just its first line: the key alone)."""
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if not lines:
            raise ConfigError(f"{source}: empty")
        try:
            key = base64.b64decode(lines[0] + "=" * (-len(lines[0]) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{source}: not base64") from None
        if len(key) != 32:
            raise ConfigError(f"{source}: must be 32 bytes (256 bits), got {len(key)}")
        legacy_before = None
        for line in lines[1:]:
            name, _, value = line.partition("=")
            if name.strip() != "legacy_before":
                raise ConfigError(f"{source}: unknown line {name.strip()!r}")
            try:
                legacy_before = float(value)
            except ValueError:
                raise ConfigError(f"{source}: legacy_before must be unix seconds") from None
        return cls(key, legacy_before)

    def to_text(self) -> str:
        text = base64.urlsafe_b64encode(self.key).decode().rstrip("=") + "\n"
        if self.legacy_before is not None:
            text += f"legacy_before={self.legacy_before!r}\n"
        return text

    @property
    def key_id(self) -> str:
        """A short, non-secret name of the key, to tell keys apart in logs."""
        return hmac.new(self.key, b"reliant-codec-key-id", "sha256").hexdigest()[:12]


def load_key(*, key: str = "", key_file: str = "") -> CodecKey:
    """The key from a setting (`codec_key`, the key alone) or a file (`codec_key_file`)."""
    if key:
        return dataclasses.replace(CodecKey.parse(key, "codec_key"), legacy_before=None)
    if not key_file:
        raise ConfigError("no Temporal codec key: set codec_key_file (RELIANT_CODEC_KEY_FILE) or RELIANT_CODEC_KEY")
    try:
        text = Path(key_file).expanduser().read_text()
    except OSError as exc:
        raise ConfigError(f"codec_key_file: cannot read {key_file}: {exc.strerror}") from None
    return CodecKey.parse(text, f"codec_key_file {key_file}")


class LegacyRuns(Protocol):
    """Whether a workflow's current run started before the codec key existed."""

    async def predates_key(self, workflow_id: str) -> bool: ...


class RunStartedBefore:
    """Asks Temporal when the workflow's current run started. A run that started after the cutoff
    never becomes older, so those answers are kept; the others are asked again each time."""

    def __init__(self, cutoff: float, started_at: Callable[[str], Awaitable[datetime | None]]) -> None:
        self.cutoff = datetime.fromtimestamp(cutoff, UTC)
        self._started_at = started_at
        self._newer: set[str] = set()

    async def predates_key(self, workflow_id: str) -> bool:
        if workflow_id in self._newer:
            return False
        started = await self._started_at(workflow_id)
        if started is None:
            return False
        if started >= self.cutoff:
            self._newer.add(workflow_id)
            return False
        return True


class RecordedBeforeTheKey:
    """For replaying histories recorded before payloads were sealed (tests, investigations)."""

    async def predates_key(self, workflow_id: str) -> bool:
        return True


class _Bound:
    """What a codec and the codecs it binds to workflows share: the cipher, and those codecs (the
    SDK asks for one per payload it seals or opens: a few per workflow task, each a new cipher)."""

    MAX = 4096

    def __init__(self, key: CodecKey) -> None:
        self.aead = AESGCM(key.key)
        self.codecs: dict[str, SealingCodec] = {}


class SealingCodec(PayloadCodec, WithSerializationContext):
    def __init__(
        self, key: CodecKey, legacy: LegacyRuns | None = None, workflow_id: str = "", *, _bound: _Bound | None = None
    ) -> None:
        self.key = key
        self.legacy = legacy
        self.workflow_id = workflow_id
        self._bound = _bound or _Bound(key)
        self._aead = self._bound.aead
        self._key_id = key.key_id.encode()

    def with_context(self, context: SerializationContext) -> Self:
        workflow_id = ""
        if isinstance(context, (WorkflowSerializationContext, ActivitySerializationContext)):
            workflow_id = context.workflow_id or ""
        if workflow_id == self.workflow_id:
            return self
        codecs = self._bound.codecs
        codec = codecs.get(workflow_id)
        if codec is None:
            if len(codecs) >= _Bound.MAX:
                codecs.clear()
            codec = codecs[workflow_id] = type(self)(self.key, self.legacy, workflow_id, _bound=self._bound)
        return cast(Self, codec)

    def _aad(self) -> bytes:
        return _AAD + self.workflow_id.encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            nonce = os.urandom(_NONCE)
            sealed = self._aead.encrypt(nonce, payload.SerializeToString(), self._aad())
            out.append(Payload(metadata={"encoding": SEALED, KEY_ID: self._key_id}, data=nonce + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._open(p) for p in payloads]

    async def _open(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding", b"")
        if encoding == SEALED:
            if len(payload.data) < _NONCE:
                return self._refuse(payload, "it is too short to be sealed")
            try:
                plain = self._aead.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], self._aad())
            except InvalidTag:
                return self._refuse(payload, "it was sealed with another key or for another workflow")
            opened = Payload()
            opened.ParseFromString(plain)
            return opened
        if encoding == REFUSED:
            return payload
        if self.workflow_id and self.legacy is not None and await self.legacy.predates_key(self.workflow_id):
            return payload
        return self._refuse(payload, "it is not sealed with this reliant's codec key")

    def _refuse(self, payload: Payload, why: str) -> Payload:
        given = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        detail = f" (key {given}; this process has key {self.key.key_id})" if given else ""
        logger.warning("refused a Temporal payload for workflow %r: %s%s", self.workflow_id, why, detail)
        return Payload(metadata={"encoding": REFUSED})


class RefusedPayloadConverter(EncodingPayloadConverter):
    """Turns a refused payload into a non-retryable failure wherever a value is read from it."""

    @property
    def encoding(self) -> str:
        return REFUSED.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise ApplicationError(
            "refused a payload that is not sealed with this reliant's codec key",
            type=REFUSED_TYPE,
            non_retryable=True,
        )


class SealedPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(*DefaultPayloadConverter.default_encoding_payload_converters, RefusedPayloadConverter())


def data_converter(key: CodecKey, legacy: LegacyRuns | None = None) -> DataConverter:
    """The converter of every Temporal client and worker reliant makes."""
    return DataConverter(
        payload_converter_class=SealedPayloadConverter,
        payload_codec=SealingCodec(key, legacy),
        # Failure messages and stack traces travel sealed too (as encoded attributes).
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
