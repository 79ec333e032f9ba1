"""Is a worker process still running? Asked of a worker on the same machine only.

A worker on another machine is known to be dead only by its silent heartbeat. One on
this machine, in this pid namespace, can be asked of the kernel: a process that is
gone was killed, and the rows it held can be taken back at once (ESC-03).
"""

import functools
import os
from pathlib import Path

from django.conf import settings


@functools.cache
def _kernel_view() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""  # not Linux, or no /proc: the heartbeat alone tells
    return f"{boot} {namespace}"


def machine() -> str:
    """Which processes this one can see: the kernel's boot id and its pid namespace.
    Two workers with the same value see each other's pids; empty means unknown (or
    LONEWATCH_WORKER_PID_CHECK is off), and then only the heartbeat tells."""
    return _kernel_view() if settings.WORKER_PID_CHECK else ""


def is_running(pid: int) -> bool:
    """False only when the process is certainly gone. A pid taken since by another
    process looks alive: then the heartbeat's silence decides, a few seconds later."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user: not ours, but running
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return not Path("/proc").is_dir()  # gone since, unless there is no /proc at all
    return state != "Z"  # killed, and only its parent has not yet read how it ended
