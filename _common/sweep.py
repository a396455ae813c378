"""Finding the processes that are left when wingmate shuts down.

As the container's init, wingmate ends every process still in its PID
namespace: daemons that escaped their service's process group, shells left by
``docker exec``.  Otherwise it ends only its own remaining children (as the
child subreaper, orphaned descendants become its children), and never
signals anything it did not start.
"""

from __future__ import annotations

import os


def leftover_pids(is_init: bool, me: int) -> list[int]:
    """The live processes a shutdown must still end (zombies excluded).

    As init: all of the namespace but pid 1 and ourselves.  Otherwise: our
    own children only.
    """
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in (1, me):
            continue
        stat = _read_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        if is_init or stat[1] == me:
            pids.append(pid)
    return pids


def _read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) from /proc/PID/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    # The command name in parentheses may hold spaces and ')': split after
    # the last one (proc(5)).
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])
