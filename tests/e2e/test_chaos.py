"""The chaos run's bounded sample: scripts/chaos.py SIGKILLs the appliance twice (its process
group, and every process of it at once) and each split role and service once, at random moments
during scripted chats, and fails on any violation. A kill that misses (the chats were done before
it) is drawn again once. Every hit runs (no budget cuts the sample short), so each run checks the
same hits; the seed is the date, so CI samples other moments every day. It is printed, and each
violation prints the command that replays its hit."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import clean_env
from tests.support import processes_mentioning

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "chaos.py"


def _seed() -> int:
    return int(datetime.datetime.now(datetime.UTC).strftime("%Y%m%d"))


def _chaos(*args: str, timeout: float) -> dict[str, Any]:
    """Run the script; its JSON line. Stopped like Ctrl-C if it overruns, and nothing it started
    is left behind. Its workdir is short (Postgres's socket path must fit in 107 bytes); the script
    removes it after a clean run and keeps it, with every log, after a violation."""
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    seed = _seed()
    print(f"chaos seed {seed}")
    command = [sys.executable, str(SCRIPT), "--seed", str(seed), "--workdir", str(workdir), *args]
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
    assert report["skipped"] == [], f"chaos seed {seed} did not run every hit:\n{out}"
    return report


def _one_kill_each(report: dict[str, Any], victims: tuple[str, ...]) -> None:
    """Each victim's kill landed while chats ran (perhaps drawn again after one that missed), or it
    and the kill drawn in its place both came after the round's chats were done."""
    rows = report["victims"]
    assert set(rows) == set(victims), rows
    for victim, row in rows.items():
        landed_and_missed = (row["kills"], row["missed"])
        assert landed_and_missed in {(1, 0), (1, 1), (0, 2)}, (victim, row)
        assert row["hits"] == row["kills"] + row["missed"] and row["freezes"] == 0, (victim, row)


@pytest.mark.timeout(480)
def test_a_sample_of_hits_on_the_appliance_breaks_nothing() -> None:
    victims = ["--victims", "appliance,power-cut", "--kills-per-victim", "1", "--freezes-per-victim", "0"]
    report = _chaos("--mode", "appliance", *victims, timeout=340)
    _one_kill_each(report, ("appliance", "power-cut"))


@pytest.mark.timeout(680)
def test_a_sample_of_hits_on_each_split_role_and_service_breaks_nothing() -> None:
    kills = ["--kills-per-victim", "1", "--freezes-per-victim", "0"]
    report = _chaos("--mode", "split", *kills, timeout=540)
    _one_kill_each(report, ("api", "worker", "gateway", "daemon", "postgres", "nats", "temporal"))
