"""What the benchmarks share: a process's CPU and memory from /proc, percentiles, and printing the figures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(pids: list[int], seconds: float) -> tuple[float, float]:
    """(user, system) percent of one core used by `pids` together over `seconds` of wall time."""
    before = [cpu_times(p) for p in pids]
    t0 = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - t0
    after = [cpu_times(p) for p in pids]
    user = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
    system = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
    return 100 * user / elapsed, 100 * system / elapsed


def percentile(values: list[float], q: float) -> float:
    """The value at rank round(q × (n − 1)) of the sorted values (q = 0.5: the median for odd n)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def print_figures(result: dict, as_json: bool) -> None:
    """One JSON object (for scripts and docs), or one aligned `key: value` line per figure."""
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>32}: {value}")
