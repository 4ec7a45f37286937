"""The chaos run's bounded sample: scripts/chaos.py hits the appliance twice (its process group,
and every process of it at once) and each split role and service once, at random moments during
scripted chats, and fails on any violation. The seed is the date, so CI samples other moments every
day; it is printed, and each violation prints the command that replays its hit."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import clean_env
from tests.support import processes_mentioning

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "chaos.py"


def _seed() -> int:
    return int(datetime.datetime.now(datetime.UTC).strftime("%Y%m%d"))


def _chaos(tmp_path: Path, *args: str, budget: float, timeout: float) -> dict[str, Any]:
    """Run the script; its JSON line. Stopped like Ctrl-C if it overruns, and nothing it started
    is left behind."""
    workdir = tmp_path / "chaos"
    seed = _seed()
    print(f"chaos seed {seed}")
    command = [sys.executable, str(SCRIPT), "--seed", str(seed), "--workdir", str(workdir)]
    command += ["--budget-seconds", str(budget), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env())
    try:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # the script stops what it started, then reports
            out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid, _ in processes_mentioning(str(workdir)):
            os.kill(pid, signal.SIGKILL)
    print(out)
    lines = [line for line in out.splitlines() if line.startswith('{"bench": "chaos"')]
    assert lines, f"the chaos run printed no result (exit {proc.returncode}):\n{out}"
    report: dict[str, Any] = json.loads(lines[-1])
    assert report["seed"] == seed
    assert proc.returncode == 0 and report["violations"] == 0, f"chaos seed {seed} found violations:\n{out}"
    return report


@pytest.mark.timeout(420)
def test_a_sample_of_hits_on_the_appliance_breaks_nothing(tmp_path: Path) -> None:
    victims = ["--victims", "appliance,power-cut", "--kills-per-victim", "1", "--freezes-per-victim", "0"]
    report = _chaos(tmp_path, "--mode", "appliance", *victims, budget=150, timeout=360)
    assert sum(v["hits"] for v in report["victims"].values()) >= 1


@pytest.mark.timeout(600)
def test_a_sample_of_hits_on_each_split_role_and_service_breaks_nothing(tmp_path: Path) -> None:
    kills = ["--kills-per-victim", "1", "--freezes-per-victim", "0"]
    report = _chaos(tmp_path, "--mode", "split", *kills, budget=240, timeout=540)
    assert sum(v["hits"] for v in report["victims"].values()) >= 1
