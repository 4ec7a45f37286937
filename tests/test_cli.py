"""The CLI stays fast (--help must not import the heavy SDKs) and fails in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_help_imports_no_heavy_sdk() -> None:
    probe = (
        "import sys; from typer.testing import CliRunner; from reliant.cli import app;"
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        "heavy = {'temporalio', 'litestar', 'grpc', 'anthropic', 'openai', 'mcp', 'psycopg', 'nats',"
        "         'uvicorn'};"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "reliant", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("reliant ")


def _run_main(argv: list[str], *, bridge: bool) -> subprocess.CompletedProcess[str]:
    program = (
        "import atexit, sys\n"
        + ("import temporalio.bridge.temporal_sdk_bridge\n" if bridge else "")
        + "from reliant.cli import main\n"
        + "atexit.register(lambda: print('finalized', file=sys.stderr))\n"
        + f"sys.argv = ['reliant', *{argv!r}]\n"
        + "main()\n"
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)


def test_a_command_that_loaded_temporal_ends_without_finalizing_and_loses_no_output() -> None:
    """Temporal's Tokio threads may call into Python while the interpreter finalizes and abort the
    process (exit -6): a command that loaded its bridge skips finalization, with its output and
    exit code intact; one that did not ends as usual."""
    shown = _run_main(["--version"], bridge=True)
    assert shown.returncode == 0 and shown.stdout.strip(), shown
    assert "finalized" not in shown.stderr
    refused = _run_main(["no-such-command"], bridge=True)
    assert refused.returncode == 2 and "No such command" in refused.stderr, refused
    assert "finalized" not in refused.stderr
    plain = _run_main(["--version"], bridge=False)
    assert plain.returncode == 0 and plain.stdout == shown.stdout and "finalized" in plain.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "70000"], "api_port (flag): 70000 is not a port"),
        (["--log-level", "loud"], "log_level (flag): 'loud' is not debug, info"),
        (["--workspace", "/no/such/workspace"], "--workspace /no/such/workspace is not a directory"),
    ],
)
def test_up_refuses_a_bad_setting_in_one_line_before_starting_anything(
    tmp_path: Path, args: list[str], said: str
) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-m", "reliant", "up", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], done.stderr
    assert not (data / "postgres").exists(), "nothing was started"
