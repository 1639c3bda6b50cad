"""Side-by-side timing of whole processes: each contender in its own process, the order
alternated from round to round, min / median / max over the rounds, the load average and
each process's peak memory recorded.

A contender is a command line; its wall time is measured around the process (start-up and
imports included), its peak memory is the process's own high-water mark (``VmHWM``), or
with the processes it forked, their own memory added, when that is larger.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Timing:
    """A contender's runs: seconds, peak MB and the 1-minute load average before each."""

    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    stdout: str = ""

    def stats(self) -> tuple[float, float, float]:
        return min(self.seconds), statistics.median(self.seconds), max(self.seconds)

    def line(self) -> str:
        lo, med, hi = self.stats()
        return (
            f"{self.name:<34} min {lo:7.2f} s  median {med:7.2f} s  max {hi:7.2f} s  "
            f"peak {max(self.peak_mb):6.0f} MB  load {min(self.load):.2f}-{max(self.load):.2f}"
        )


def compare(
    contenders: dict[str, list[str]], rounds: int, cwd: str | None = None
) -> dict[str, Timing]:
    """Run every contender ``rounds`` times, the order reversed every other round."""
    timings = {name: Timing(name) for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            timings[name].load.append(os.getloadavg()[0])
            seconds, peak, out = run_once(contenders[name], cwd)
            timings[name].seconds.append(seconds)
            timings[name].peak_mb.append(peak)
            timings[name].stdout = out
    return timings


def _high_water_mb(pid: int) -> float:
    """The process's own peak RSS so far (``VmHWM``), in MB; 0 once it has gone."""
    return _status_mb(pid, "VmHWM:")


def _status_mb(pid: int, key: str) -> float:
    """A ``/proc/<pid>/status`` memory field in MB; 0 once the process has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    """The processes the main thread of ``pid`` forked (a forked writer), still running."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def _private_mb(pid: int) -> float:
    """Memory only ``pid`` maps (its pages not shared with its parent), in MB."""
    total = 0.0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) / 1024
    except OSError:
        pass
    return total


def run_once(cmd: Sequence[str], cwd: str | None = None) -> tuple[float, float, str]:
    """Run ``cmd``: its wall seconds, its own peak RSS in MB and its standard output. A
    failure raises with the end of its standard error.

    The peak is the process's ``VmHWM``, read every 10 ms while it runs: ``ru_maxrss`` of
    ``os.wait4`` starts from the RSS of the process it was forked from (Linux carries the
    high-water mark across exec), so every contender reported at least this harness's own
    memory, which holds the generated inputs (846 MB at 1M firms, 2.3 GB at 3M). While the
    process has children (sxzones forks a writer for a large GeoPackage), every 50 ms its
    resident memory plus the children's own pages (those not shared with it, copy on write)
    is counted too."""
    with tempfile.TemporaryFile("w+") as errf:
        t = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=errf, text=True, cwd=cwd)
        peak = [0.0]
        done = threading.Event()

        def watch() -> None:
            tick = 0
            while not done.wait(0.01):
                peak[0] = max(peak[0], _high_water_mb(proc.pid))
                tick += 1
                if tick % 5 == 0 and (kids := _children(proc.pid)):  # a forked writer
                    both = _status_mb(proc.pid, "VmRSS:") + sum(_private_mb(k) for k in kids)
                    peak[0] = max(peak[0], both)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        assert proc.stdout is not None
        out = proc.stdout.read()
        peak[0] = max(peak[0], _high_water_mb(proc.pid))  # still there until waited for
        _, status, _usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        done.set()
        watcher.join()
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code:
            errf.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} failed ({code}):\n{errf.read()[-3000:]}")
    return seconds, peak[0], out


def save(path: str | os.PathLike[str], doc: dict) -> None:
    """Write the results as JSON (for the README's figures): to a new file renamed into
    place, so that a results file hard-linked from another checkout is never written
    through."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=2)
    os.replace(tmp, path)
