"""What Linux's /proc says of the processes a test starts."""

from __future__ import annotations

import contextlib
from pathlib import Path


def _fields(stat: Path) -> list[str]:
    """The fields of a /proc/PID/stat after the command name: state, parent, group, ..."""
    return stat.read_text().rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """Whether the process runs (a zombie its parent has not reaped yet has ended)."""
    try:
        return _fields(Path(f"/proc/{pid}/stat"))[0] != "Z"
    except OSError:
        return False


def in_group(pgid: int) -> list[int]:
    """The processes of process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(_fields(stat)[2]) == pgid:
                found.append(int(stat.parent.name))
    return found


# How long a process asked to stop "at once" may take, counted from the signal (or from its
# parent's death): on a machine busy with other tests (two cores shared by three test workers,
# their servers, learners and browsers) being scheduled and exiting can take seconds, while a
# stop that waits for the work in hand (the 40 s and 60 s fits and sleeps these tests stop), for
# a simulation's replay to notice (up to 5 s, as `labelloop worker` once did) or for a kill 15 s
# later, or never comes, takes longer.
AT_ONCE_S = 4.0
