"""reliant's ConnectRPC services called by @connectrpc/connect-node, a Connect client we did not
write, against `reliant up --demo`: proof that the wire protocol is the standard one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import Appliance, clean_env

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "tests" / "web" / "connect_node"


def require_client() -> str:
    node = shutil.which("node")
    installed = (CLIENT_DIR / "node_modules" / "@connectrpc" / "connect-node").is_dir()
    if node is None or not installed:
        message = f"node or @connectrpc/connect-node is missing: run `npm ci` in {CLIENT_DIR} (scripts/test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return node


def descriptor_set(out: Path) -> Path:
    """reliant's services and messages as a FileDescriptorSet, built from the .proto sources."""
    target = out / "reliant.pb"
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "reliant" / "wire" / "v1").glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            str(ROOT),
            "--include_imports",
            f"--descriptor_set_out={target}",
            *protos,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return target


def test_connect_node_calls_unary_rpcs_and_follows_a_chat_with_stream_updates(tmp_path: Path) -> None:
    node = require_client()
    descriptors = descriptor_set(tmp_path)
    up = Appliance(tmp_path / "data", env=clean_env(), extra=("--demo",))
    up.start()
    try:
        assert up.proc is not None
        up.proc.wait_for_output("Demo project ready at")
        project = up.data_dir.resolve() / "demo-project"
        done = subprocess.run(
            [
                node,
                "client.mjs",
                str(descriptors),
                up.url,
                up.token,
                str(project),
                "scripted:demo",
                "Fix the failing test",
            ],
            cwd=CLIENT_DIR,
            capture_output=True,
            text=True,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the node client hung; it saw:\n{exc.stderr!r}") from None
    finally:
        up.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert "scripted:demo" in seen["models"] and seen["defaultModel"] == "scripted:demo"
    assert seen["project"]["path"] == str(project)
    assert seen["chat"]["status"] == "idle" and seen["chat"]["model"] == "scripted:demo"
    assert seen["badRequest"]["code"] == 3  # Code.InvalidArgument, mapped by the client from the wire
    assert "must be a UUID" in seen["badRequest"]["rawMessage"]

    kinds = seen["kinds"]
    assert kinds[0] == "stream_ready"
    assert kinds.index("message_queued") < kinds.index("message_started") < kinds.index("block_delta")
    assert kinds.count("message_completed") == 6 and kinds[-1] == "chat_status"
    assert seen["toolsFinished"] == [["view", "ok"], ["view", "ok"], ["shell", "ok"], ["edit", "ok"], ["shell", "ok"]]
    assert seen["answer"].startswith("All five tests pass now.")
    roles = [m["role"] for m in seen["messages"]]
    assert roles == ["user"] + ["assistant", "tool"] * 5 + ["assistant"]
    assert [m["turn"] for m in seen["messages"] if m["role"] == "assistant"] == [1, 2, 3, 4, 5, 6]
    assert seen["resumeSeq"] > seen["sent"]["seq"]
