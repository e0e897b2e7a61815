"""How many threads a trial may use, so that parallel trials and other work on the machine do
not oversubscribe the cores.

OpenMP (scikit-learn's HistGradientBoosting) collapses when it has more threads than free
cores: its threads spin at every barrier waiting for one that the kernel has descheduled, so a
trial of seconds takes minutes beside one CPU-bound process. :class:`CpuShare` gives each trial
``free cores // jobs`` threads (at least one), where the free cores are those the rest of the
machine left idle since the previous trial started (``/proc/stat`` less this process's own CPU
time), and :func:`limit_threads` applies that to the calling thread's OpenMP pool.
"""

from __future__ import annotations

import os
import threading
import time


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine spent busy since boot (None off Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """Threads per trial for ``jobs`` trials in parallel: fixed when ``threads`` is given, else
    measured at each trial's start from what the rest of the machine used meanwhile."""

    def __init__(self, jobs: int, threads: int | None = None, *, probe: float = 0.2) -> None:
        self.jobs, self.fixed, self.cores = max(1, jobs), threads, cores()
        self._lock = threading.Lock()
        self._last = self._sample()
        if threads is None and self._last[0] is not None and probe > 0:
            time.sleep(probe)  # a first look at the machine before the first trial
        self.busy = 0.0  # cores other processes kept busy, as last measured
        self.threads()

    @staticmethod
    def _sample() -> tuple[float | None, float, float]:
        return _machine_busy_seconds(), time.process_time(), time.monotonic()

    def threads(self) -> int:
        """The threads the next trial may use (and re-measure the machine)."""
        if self.fixed is not None:
            return self.fixed
        with self._lock:
            now = self._sample()
            (busy0, own0, wall0), (busy1, own1, wall1) = self._last, now
            if busy0 is not None and busy1 is not None and wall1 - wall0 > 0.05:
                others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
                self.busy = min(float(self.cores), others)
                self._last = now
            free = max(1, self.cores - round(self.busy))
            return max(1, free // self.jobs)


def limit_threads(threads: int) -> None:
    """Cap the calling thread's OpenMP pool (a per-thread setting: each trial thread sets its
    own) and the BLAS pools (process-wide; every trial asks the same)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
