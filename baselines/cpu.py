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


# ----------------------------------------------------------------------------------------------
# Memory, precision and device: what a run may assume of this machine
# ----------------------------------------------------------------------------------------------
#: The peak resident memory a default run aims to stay under, whatever the machine has free:
#: a laptop shares its memory with everything else its user runs.
MEMORY_CAP = 4 * 1024**3
#: The share of the memory the kernel reports available that a run may take (the page cache
#: it counts as available is what the memory-mapped image tensors live in, too).
MEMORY_SHARE = 0.75


def _meminfo(path: str = "/proc/meminfo") -> dict[str, int]:
    """``/proc/meminfo`` in bytes (empty off Linux)."""
    found = {}
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    found[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return found


def available_memory(path: str = "/proc/meminfo") -> int | None:
    """Bytes the kernel says a new allocation may take without swapping (MemAvailable)."""
    return _meminfo(path).get("MemAvailable")


def resident_memory() -> int:
    """This process's resident set in bytes now (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def memory_budget(available: int | None = None, resident: int | None = None) -> int:
    """Bytes a run may still allocate: the least of :data:`MEMORY_CAP` and
    :data:`MEMORY_SHARE` of what is available, less what this process already holds."""
    available = available_memory() if available is None else available
    resident = resident_memory() if resident is None else resident
    ceiling = MEMORY_CAP if available is None else min(MEMORY_CAP, int(available * MEMORY_SHARE))
    return max(0, ceiling - resident)


def size_text(n: float) -> str:
    """Bytes for people: ``"3.2 GB"``, ``"35 MB"``."""
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (empty off Linux)."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


#: Flags of x86 CPUs that compute bf16 natively (Sapphire Rapids' AMX, Cooper Lake's and
#: Zen 4's AVX512-BF16); elsewhere bf16 is emulated and slower than float32.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def precision(device: str, flags: frozenset[str] | None = None) -> str:
    """``"bf16"`` on CUDA and on CPUs with native bf16 (:data:`BF16_FLAGS`), else ``"fp32"``.
    ``flags`` stands for :func:`cpu_flags` (tests pass their own)."""
    if device == "cuda":
        return "bf16"
    flags = cpu_flags() if flags is None else flags
    return "bf16" if flags & BF16_FLAGS else "fp32"


def cuda_here() -> bool:
    """Whether torch is installed and sees a CUDA GPU (False without torch: no import error)."""
    from harness.baselines import importable

    if not importable("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())
