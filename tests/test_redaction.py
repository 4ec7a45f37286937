"""The secret mask for log records: message, arguments, exception chains and stacks."""

from __future__ import annotations

import io
import logging
import uuid
from pathlib import Path

from reliant.db import Database
from reliant.redaction import RedactingFilter, redact, remember


def test_remembered_secrets_are_masked_in_every_part_of_a_record() -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    longer = f"{secret}-and-more"
    remember(secret, longer, "short", "")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    log = logging.getLogger(f"test.redaction.{uuid.uuid4().hex[:6]}")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("key %s in args; %s", secret, longer)
        try:
            try:
                raise ValueError(f"the server said {secret}")
            except ValueError as exc:
                raise RuntimeError("wrapped") from exc
        except RuntimeError:
            log.error("failed", exc_info=True, stack_info=True)
    finally:
        log.removeHandler(handler)
    text = out.getvalue()
    assert secret not in text
    assert "key **** in args; ****\n" in text  # the longer value is masked whole
    assert "ValueError: the server said ****" in text and "RuntimeError: wrapped" in text
    assert "Stack (most recent call last)" in text
    assert redact("a short word") == "a short word"  # values under 8 characters are not masked


def test_reliants_own_tokens_and_passwords_are_masked(tmp_path: Path) -> None:
    """The data dir's generated secrets and those given in settings (the database URL's password
    too) are remembered as soon as the CLI loads them."""
    from reliant.appliance.datadir import DataDir
    from reliant.cli.app import load_settings

    datadir = DataDir(tmp_path)
    datadir.ensure()
    token = datadir.secret("api_token")
    assert redact(f"token={token}") == "token=****"
    password = f"pw-{uuid.uuid4().hex}"
    nats = f"nats-{uuid.uuid4().hex}"
    load_settings(tmp_path, database_url=f"postgresql://reliant:{password}@db:5432/reliant", nats_token=nats)
    assert password not in redact(f"could not connect with {password}; nats {nats}")
    assert nats not in redact(f"nats {nats}")


async def test_the_password_in_a_providers_base_url_is_masked_set_in_the_config_or_through_the_api(
    tmp_path: Path, migrated_db: Database
) -> None:
    """The settings show such a URL masked; the SDK's own errors (logged with their chain at debug)
    name the URL in full."""
    from reliant.cli.app import load_settings
    from reliant.clients.providers import ProviderPool
    from reliant.db import settings as settings_db

    configured = f"pw-{uuid.uuid4().hex}"
    settings = load_settings(tmp_path, openai_base_url=f"https://proxy:{configured}@llm.example/v1")
    assert configured not in redact(f"could not reach https://proxy:{configured}@llm.example/v1")
    stored = f"pw-{uuid.uuid4().hex}"
    await settings_db.put(migrated_db, {"anthropic_base_url": f"https://proxy:{stored}@gateway.example"})
    try:
        await ProviderPool(migrated_db, settings).providers()
        assert stored not in redact(f"could not reach https://proxy:{stored}@gateway.example")
    finally:
        await settings_db.put(migrated_db, {"anthropic_base_url": ""})
