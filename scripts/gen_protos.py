"""Regenerate reliant/wire/v1 from its .proto files (offline; needs the dev extras).

python scripts/gen_protos.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRPC_PROTO = "daemon.proto"


def main() -> int:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "reliant/wire/v1").glob("*.proto"))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    base = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        str(ROOT),
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
    ]
    for proto in protos:
        # The daemon stream is plain gRPC; everything else is ConnectRPC for browsers and the CLI.
        plugin = f"--grpc_python_out={ROOT}" if proto.endswith(GRPC_PROTO) else f"--connect-python_out={ROOT}"
        if code := subprocess.call([*base, plugin, proto], cwd=ROOT, env=env):
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
