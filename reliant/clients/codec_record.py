"""The codec key the database remembers: a different key is refused at start.

Temporal payloads are sealed with the codec key (reliant/clients/codec.py). A role started with
another key than the one the running work was sealed with (its key file lost and made anew, or a
replica given another replica's key) would start fine and fail deep inside every chat it touches.
So the first role that uses a key records its fingerprint (`CodecKey.key_id`, a keyed hash of a
constant: it tells keys apart and says nothing of the key), and every api and worker start compares.
"""

from __future__ import annotations

import logging

from reliant.clients.codec import CodecKey
from reliant.config import Settings
from reliant.db import Database
from reliant.db import codec_key as codec_key_db
from reliant.errors import ConfigError

logger = logging.getLogger(__name__)

REPLACE_FLAG = "--replace-codec-key"
REPLACE_ENV = "RELIANT_REPLACE_CODEC_KEY"


def key_source(settings: Settings) -> str:
    """Where the settings' key comes from, as an operator would look for it."""
    if settings.codec_key:
        return "codec_key (RELIANT_CODEC_KEY)"
    return f"codec_key_file {settings.codec_key_file}"


def how_to_replace(recorded: str) -> str:
    return (
        f"only if no sealed work must be read any more (running chats then fail), start once with "
        f"{REPLACE_FLAG} {recorded} (or {REPLACE_ENV}={recorded}) to record the new key in its place"
    )


class CodecKeyChangedError(ConfigError):
    """The key a role was given is not the one the database recorded."""

    def __init__(self, source: str, given: str, recorded: str) -> None:
        self.source = source
        self.given = given
        self.recorded = recorded
        super().__init__(
            f"the Temporal codec key from {source} (key {given}) is not the key this database's work is "
            f"sealed with (key {recorded}): give this process that key (restore the key file from a backup, "
            f"or give it the same key as the other replicas); {how_to_replace(recorded)}"
        )


class CodecKeyLostError(ConfigError):
    """The data dir's key file is missing while the database recorded a key: it was lost."""

    def __init__(self, key_file: str, recorded: str) -> None:
        self.key_file = key_file
        self.recorded = recorded
        super().__init__(
            f"the Temporal codec key file {key_file} is missing, but this database's work is sealed with key "
            f"{recorded}: a new key would leave it unreadable, so none was made. Restore {key_file} from a backup; "
            f"{how_to_replace(recorded)}"
        )


async def verify_codec_key(db: Database, settings: Settings, key: CodecKey) -> None:
    """Record `key`'s fingerprint if none is, else refuse a different one (CodecKeyChangedError),
    unless `settings.replace_codec_key` names the recorded one. A database not migrated this far
    (an api that started before any worker) records nothing: the worker will."""
    if not await codec_key_db.has_table(db):
        return
    recorded, made = await codec_key_db.record(db, key.key_id)
    if made:
        logger.info("recorded the fingerprint of the Temporal codec key (key %s)", key.key_id)
    if recorded == key.key_id:
        return
    replaces = settings.replace_codec_key
    if replaces and replaces == recorded and await codec_key_db.replace(db, recorded, key.key_id):
        logger.warning(
            "the Temporal codec key from %s (key %s) replaces key %s, as %s asked: work sealed with that key "
            "can no longer be read",
            key_source(settings),
            key.key_id,
            recorded,
            REPLACE_FLAG,
        )
        return
    raise CodecKeyChangedError(key_source(settings), key.key_id, recorded)
