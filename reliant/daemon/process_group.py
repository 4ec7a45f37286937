"""Process groups the daemon starts: they die with the daemon and are stopped as a whole.

A tool's process leads a session of its own, so its process group id is its pid and one signal
reaches everything it started (bar processes that start a session of their own).

Dying with the daemon uses a *lifeline*: a pipe whose write end only this process holds (it is
close-on-exec, so no child inherits it) and whose read end every tool process gets. Nothing is ever
written to it; when this process dies, by SIGKILL too, the kernel closes the write end and a read on
the other end returns end-of-file, which the tool's wrapper answers by killing its whole group.
(PR_SET_PDEATHSIG would need a preexec hook, i.e. Python code between fork and exec; with gRPC's
threads in the process that child crashed now and then with SIGSEGV, so the daemon spawns without one.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
from pathlib import Path

logger = logging.getLogger(__name__)

# Runs `bash -c "$1"` in the background of a watchdog; $2 is the lifeline's file descriptor (digits).
# The watchdog's read returns only when the daemon is gone; `kill -KILL 0` then kills the whole
# group. The command runs without the lifeline (eval puts the fd number into the redirection; bash
# 3.2 has no {var}<&- form) and with the wrapper's stdin (a non-interactive shell would give a
# background job /dev/null). The wrapper exits with the command's status.
SHELL_WRAPPER = """
lifeline=$2
( read -r -u "$lifeline" _; kill -KILL 0 ) &
watchdog=$!
exec 4<&0
eval 'bash -c "$1" <&4 4<&- '"$lifeline"'<&- &'
exec 4<&-
wait $!
status=$?
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
exit "$status"
"""


@functools.cache
def lifeline() -> int:
    """The read end of this process's lifeline, created on first use; the write end stays open
    (on purpose, never closed) for as long as the process lives."""
    read_end, _write_end = os.pipe()
    return read_end


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to every process in the group; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError as exc:
        logger.warning("cannot signal process group %d: %s", pgid, exc)
        return False
    return True


def group_alive(pgid: int) -> bool:
    """True while a live process is in the group. Zombies do not count: where nothing reaps
    orphans they linger in the group without running."""
    if not signal_group(pgid, 0):
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command name: state, ppid, pgrp.
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


async def stop_group(pgid: int, leader_exited: asyncio.Event, grace: float = 2.0) -> None:
    """SIGTERM the group, give its leader `grace` seconds to exit, then SIGKILL whatever is left of
    the group. Safe to call when it is already gone."""
    try:
        if signal_group(pgid, signal.SIGTERM) and not leader_exited.is_set():
            try:
                await asyncio.wait_for(leader_exited.wait(), grace)
            except TimeoutError:
                logger.debug("process group %d ignored SIGTERM for %.1fs", pgid, grace)
    finally:
        signal_group(pgid, signal.SIGKILL)
