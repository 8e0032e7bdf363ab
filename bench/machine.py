"""How fast this machine is right now, printed beside every benchmark's figures.

The development VM's speed varies: the same build took 2.0 s one day and 3.5 s another,
and a fixed Python loop took 0.46 s and 1.03 s an hour apart. Figures are only comparable
with the check printed next to them.
"""

from __future__ import annotations

import resource
import time


def cpu_check(iterations: int = 5_000_000) -> str:
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i
    seconds = time.perf_counter() - started
    return f"CPU check: a {iterations:,}-step Python loop took {seconds:.2f} s (lower is faster)"


def peak_memory_mb() -> float:
    """This process's peak resident memory. Linux keeps ru_maxrss across the exec of a
    spawned process, so a benchmark phase spawned by a parent that had just generated a
    big archive reported the parent's size; VmHWM starts afresh with the new program."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
