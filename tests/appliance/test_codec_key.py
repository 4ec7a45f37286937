"""The database remembers the codec key's fingerprint: the first start records it, a role given
another key is refused at start naming where its key came from, and a lost data-dir key file is not
silently made anew."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from embedded.ports import free_port
from reliant.api.role import ApiRole
from reliant.appliance.datadir import DataDir
from reliant.appliance.supervisor import resolve_embedded, settle_codec_key
from reliant.clients.codec import CodecKey, load_key
from reliant.clients.codec_record import CodecKeyChangedError, CodecKeyLostError
from reliant.config import Settings
from reliant.db import Database, migrate
from reliant.db import codec_key as codec_key_db
from reliant.worker.role import WorkerRole
from tests.conftest import Infra
from tests.support import RoleRunner


@pytest.fixture
async def fresh_db(fresh_database_url: str) -> AsyncIterator[tuple[str, Database]]:
    """A database of its own: the shared test database's key is every other test's."""
    db = await Database.open(fresh_database_url, min_size=1)
    try:
        yield fresh_database_url, db
    finally:
        await db.close()


def _settings(infra: Infra, tmp_path: Path, database_url: str, **values: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        nats_url=infra.nats_url,
        nats_token=infra.nats_token,
        temporal_address=infra.temporal_address,
        temporal_task_queue=f"codec-{uuid.uuid4().hex[:8]}",
        api_port=free_port(),
        api_token="codec-token",
    ).with_overrides(**values)


async def test_the_first_worker_records_the_key_and_one_with_another_key_is_refused(
    infra: Infra, tmp_path: Path, fresh_db: tuple[str, Database]
) -> None:
    url, db = fresh_db
    first = _settings(infra, tmp_path, url, codec_key=infra.codec_key)
    mine = load_key(key=infra.codec_key).key_id
    async with RoleRunner(WorkerRole(first)) as runner:
        assert await codec_key_db.recorded(db) == mine, "the first start records the key's fingerprint"
        await runner.stop()
    row = await db.fetchrow("SELECT * FROM codec_key")
    assert row is not None and infra.codec_key not in str(row), "a fingerprint, never the key"

    other = CodecKey.generate()
    key_file = tmp_path / "other_key"
    key_file.write_text(other.to_text())
    key_file.chmod(0o600)
    second = _settings(infra, tmp_path, url, codec_key_file=str(key_file))
    with pytest.raises(CodecKeyChangedError) as refused:
        async with RoleRunner(WorkerRole(second)):
            pass
    message = str(refused.value)
    assert f"codec_key_file {key_file}" in message and other.key_id in message and mine in message
    assert f"--replace-codec-key {mine}" in message, "it says how to accept the new key knowingly"
    with pytest.raises(CodecKeyChangedError, match="codec_key \\(RELIANT_CODEC_KEY\\)"):
        given = other.to_text().splitlines()[0]
        async with RoleRunner(ApiRole(_settings(infra, tmp_path, url, codec_key=given))):
            pass
    assert await codec_key_db.recorded(db) == mine, "a refused start changes nothing"

    # Knowingly: the recorded key named, the new one takes its place (and only while it is recorded).
    async with RoleRunner(WorkerRole(second.with_overrides(replace_codec_key=mine))) as runner:
        assert await codec_key_db.recorded(db) == other.key_id
        await runner.stop()
    with pytest.raises(CodecKeyChangedError):
        async with RoleRunner(WorkerRole(first.with_overrides(replace_codec_key=mine))):
            pass


async def test_a_lost_data_dir_key_file_is_refused_naming_it_and_not_made_again(
    tmp_path: Path, fresh_db: tuple[str, Database]
) -> None:
    url, db = fresh_db
    await migrate(db)
    datadir = DataDir(tmp_path / "data")
    datadir.ensure()
    resolved, _, _, _ = resolve_embedded(Settings(data_dir=datadir.path), datadir)
    settings = resolved.with_overrides(database_url=url)
    await settle_codec_key(settings, datadir)  # a first start: no key recorded, one is made
    key = load_key(key_file=settings.codec_key_file)
    assert key.legacy_before is not None, "the key records when it was made"
    await settle_codec_key(settings, datadir)
    assert load_key(key_file=settings.codec_key_file) == key, "made once"
    await codec_key_db.record(db, key.key_id)  # as the roles do once they start

    path = Path(settings.codec_key_file)
    path.unlink()
    with pytest.raises(CodecKeyLostError) as refused:
        await settle_codec_key(settings, datadir)
    assert str(path) in str(refused.value) and key.key_id in str(refused.value)
    assert not path.exists(), "no new key made in its place"
    assert await codec_key_db.recorded(db) == key.key_id

    await settle_codec_key(settings.with_overrides(replace_codec_key=key.key_id), datadir)
    assert load_key(key_file=str(path)) != key, "asked for knowingly, a new key is made"
