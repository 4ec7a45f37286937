"""The `reliant up` console: an expected condition (here a missing API key) is one line, not a
traceback, and stopping it (Ctrl-C or SIGTERM) ends with a line saying how long it took."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.e2e.harness import Appliance, Rest, clean_env

pytestmark = pytest.mark.e2e


def test_a_missing_key_is_one_line_and_stopping_says_how_long_it_took(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    up = Appliance(tmp_path / "data", env=clean_env())
    up.start()
    try:
        # A chat made while there was a key, removed since (a model without one is refused when
        # chosen): its first call finds none.
        rest = Rest(up.url, up.token)
        rest.call("PATCH", "/api/settings", {"anthropic_api_key": "sk-ant-removed-0123456789"})
        chat = rest.chat(rest.project(project)["id"], "anthropic:claude-sonnet-4-6")
        rest.call("PATCH", "/api/settings", {"anthropic_api_key": ""})
        done = up.cli("chat", "--chat", chat["id"], "hi")
        assert done.returncode == 2 and "ANTHROPIC_API_KEY" in done.stderr, done.stdout + done.stderr
    finally:
        code = up.stop()  # SIGINT, as Ctrl-C sends
    assert up.proc is not None
    console = up.proc.output()
    assert code == 0, console
    assert "Traceback" not in console, console
    about_key = [line for line in console.splitlines() if "no API key configured" in line]
    assert len(about_key) == 1, console
    assert re.search(r"WARNING .*call_llm for chat [0-9a-f-]{36} failed: anthropic: no API key", about_key[0])
    assert re.search(r"\nreliant stopped in \d+\.\ds \(Ctrl-C\)\n$", console), console[-300:]

    up.start()
    assert up.proc is not None and up.proc.process is not None
    up.proc.process.send_signal(signal.SIGTERM)
    assert up.proc.process.wait(60) == 0
    assert re.search(r"\nreliant stopped in \d+\.\ds \(SIGTERM\)\n$", up.proc.output()), up.proc.output()[-300:]
    for pid, _ in up.leftovers():
        os.kill(pid, signal.SIGKILL)
