"""The CLI against an api that is not the data dir's own `reliant up` (a split deployment):
RELIANT_API_URL and RELIANT_API_TOKEN[_FILE], named contexts in cli.toml, and errors that say which
api was tried and where its address came from."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from embedded.ports import free_port
from tests.api.conftest import ApiEnv
from tests.e2e.harness import clean_env, run_cli


async def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The api runs on this test's event loop: run the CLI from a thread."""
    return await asyncio.to_thread(run_cli, *args, env=env, timeout=60)


async def test_env_contexts_and_errors_that_name_the_api(api_env: ApiEnv, tmp_path: Path) -> None:
    token_file = tmp_path / "team.token"
    token_file.write_text(api_env.token + "\n")
    token_file.chmod(0o600)
    home = tmp_path / "home"  # no reliant up here: without a context or RELIANT_API_URL there is no api
    env = clean_env(XDG_CONFIG_HOME=str(tmp_path / "config"), RELIANT_DATA_DIR=str(home))

    nothing = await _cli("chats", env=env)
    assert nothing.returncode == 1
    assert "no running reliant found" in nothing.stderr and "RELIANT_API_URL" in nothing.stderr

    by_env = await _cli(
        "chats", "--json", env={**env, "RELIANT_API_URL": api_env.url, "RELIANT_API_TOKEN_FILE": str(token_file)}
    )
    assert by_env.returncode == 0, by_env.stderr

    added = await _cli("context", "add", "team", "--api-url", api_env.url, "--token-file", str(token_file), env=env)
    assert added.returncode == 0, added.stderr
    config = tmp_path / "config" / "reliant" / "cli.toml"
    assert config.stat().st_mode & 0o777 == 0o600
    assert (await _cli("chats", env=env)).returncode == 1, "added, not yet in use"
    assert (await _cli("--context", "team", "chats", "--json", env=env)).returncode == 0
    assert (await _cli("context", "use", "team", env=env)).returncode == 0
    listed = await _cli("context", "list", env=env)
    assert "* team" in listed.stdout and api_env.url in listed.stdout and "  local" in listed.stdout
    assert (await _cli("chats", "--json", env=env)).returncode == 0
    assert (await _cli("chats", env={**env, "RELIANT_CONTEXT": "local"})).returncode == 1

    dead = f"http://127.0.0.1:{free_port()}"
    await _cli("context", "add", "gone", "--api-url", dead, "--token", "t", env=env)
    unreachable = await _cli("--context", "gone", "chats", env=env)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(f"error: cannot reach the api at {dead} (context gone): ")
    assert "reliant up" not in unreachable.stderr
    from_env = await _cli(
        "chats", env={**env, "RELIANT_CONTEXT": "", "RELIANT_API_URL": dead, "RELIANT_API_TOKEN": "t"}
    )
    assert from_env.stderr.startswith(f"error: cannot reach the api at {dead} (RELIANT_API_URL): "), from_env.stderr
    await _cli("context", "add", "stranger", "--api-url", api_env.url, "--token", "wrong", env=env)
    refused = await _cli("--context", "stranger", "chats", env=env)
    assert refused.stderr.startswith(f"error: the api at {api_env.url} (context stranger) does not accept this token")
    unknown = await _cli("--context", "nope", "chats", env=env)
    assert unknown.returncode == 1 and "no context 'nope' (known: local, team, gone, stranger)" in unknown.stderr
