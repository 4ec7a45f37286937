"""An exec wrapper that ties a service to the process that starts it.

    python -I -S _die_with_parent.py PARENT_PID PROGRAM [ARGS...]

It asks the kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG, kept across exec), makes sure
that parent is still PARENT_PID (it may have died between fork and prctl, and then nobody would ever
stop the service), and execs PROGRAM in its own place: the service keeps the wrapper's pid and is the
starter's direct child.

It runs as a script of its own, not as a `preexec_fn`: Python code between fork and exec in a process
with threads can deadlock (on a lock another thread held at fork, such as the import lock), and
`subprocess` documents preexec_fn as unsafe there. Run by path with -I -S it imports nothing but the
standard library and starts in ~25 ms.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, program = int(argv[1]), argv[2]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            sys.stderr.write(f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}\n")
            os._exit(126)
    if os.getppid() != parent:
        os._exit(1)
    try:
        os.execv(program, argv[2:])
    except OSError as exc:
        sys.stderr.write(f"cannot run {program}: {exc}\n")
        os._exit(127)


if __name__ == "__main__":
    main(sys.argv)
