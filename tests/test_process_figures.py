"""What the benches read from /proc about a process and the machine."""

from __future__ import annotations

import mmap
import os
import time

from robotwatch.bench.process import cpu_s, machine_cpu_s, rss_mb


def test_the_machine_cpu_time_holds_this_process_busy_time_and_no_idle_time() -> None:
    pid = os.getpid()
    machine, own, wall = machine_cpu_s(), cpu_s(pid), time.monotonic()
    deadline = wall + 10
    while cpu_s(pid) - own < 0.5 and time.monotonic() < deadline:  # a busy loop, bounded
        sum(range(10_000))
    used, elapsed = cpu_s(pid) - own, time.monotonic() - wall
    busy = machine_cpu_s() - machine
    assert used >= 0.5
    assert 0.9 * used <= busy <= elapsed * (os.cpu_count() or 1) + 0.1


def test_resident_memory_grows_with_what_the_process_holds() -> None:
    before = rss_mb(os.getpid())
    with mmap.mmap(-1, 64 << 20) as held:  # fresh pages, never memory the allocator kept resident
        for page in range(0, len(held), mmap.PAGESIZE):
            held[page] = 1  # touched, so resident
        assert rss_mb(os.getpid()) - before > 50
