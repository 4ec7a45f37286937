"""A daemon killed with SIGKILL leaves no tool running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.daemon.conftest import read_pids
from tests.support import eventually, pid_alive

# A daemon-side process: a ToolHost running one shell call that starts a background job and waits.
DAEMON_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from reliant.daemon.tools import BUILTIN_TOOLS, ToolHost
    from reliant.domain.tools import ToolCall

    async def main() -> None:
        host = ToolHost("d-death", BUILTIN_TOOLS, [Path(sys.argv[1])])
        command = "sleep 300 & echo $! > bg.pid; echo $$ > sh.pid; sleep 300"
        await host.execute(ToolCall("t1", "shell", {"command": command}, chat_id="c1"))

    asyncio.run(main())
    """
)


async def test_a_sigkilled_daemon_leaves_no_shell_behind(tmp_path: Path, workspace: Path) -> None:
    script = tmp_path / "daemon.py"
    script.write_text(DAEMON_SCRIPT)
    daemon = subprocess.Popen(
        [sys.executable, str(script), str(workspace)], cwd=Path(__file__).parents[2], start_new_session=True
    )
    try:
        pids = await eventually(lambda: read_pids(workspace, "bg.pid", "sh.pid"), timeout=30)
        assert all(pid_alive(p) for p in pids)
        os.kill(daemon.pid, signal.SIGKILL)
        assert daemon.wait(timeout=10) == -signal.SIGKILL
        await eventually(lambda: not any(pid_alive(p) for p in pids))
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
