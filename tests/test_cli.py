"""The CLI stays fast: --help must not import the heavy SDKs."""

from __future__ import annotations

import subprocess
import sys


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
