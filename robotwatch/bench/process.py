"""What a running process uses, read from /proc: resident memory and CPU time (Linux).

serve runs its forward passes in child processes (robotwatch.stream.scoring_worker), so its
figures are those of the process and its children together (`tree`).
"""

from __future__ import annotations

import os
from pathlib import Path


def tree(pid: int) -> list[int]:
    """The process and its descendants now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # it ended while we looked
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its descendants now, in MB (pages they share, such
    as the libraries they map, count once per process)."""
    return sum(_rss_kb(p) for p in tree(pid)) / 1024


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:  # it ended
        return 0
    return 0  # a zombie has no memory


def cpu_s(pid: int) -> float:
    """CPU time (user + system) the process and its living descendants used so far, in seconds."""
    return sum(_cpu_s(p) for p in tree(pid))


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_s() -> float:
    """CPU time every process of the machine used so far (all cores' user, system and
    interrupt time; not idle, I/O wait or time stolen by a hypervisor), in seconds."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
