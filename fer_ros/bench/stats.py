"""Timing summaries and process memory readings used by every benchmark."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def summarize(values_ms: list[float] | np.ndarray) -> dict[str, float | int | None]:
    """p50 / p95 / mean / min / max / std (ms) and n of a list of durations; None values when empty."""
    v = np.asarray(values_ms, dtype=np.float64)
    if v.size == 0:
        return {"n": 0, "p50": None, "p95": None, "mean": None, "min": None, "max": None, "std": None}
    return {"n": int(v.size), "p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
            "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()), "std": float(v.std())}


def proc_memory_mb(pid: int | None = None) -> dict[str, float]:
    """Resident set size now (VmRSS) and its peak so far (VmHWM), MiB, from /proc/<pid>/status."""
    text = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = int(rest.split()[0]) / 1024.0
    return out


def pin_to_cpus(cpus: set[int] | None) -> set[int]:
    """Restrict this process (threads created from now on) to ``cpus``; returns the CPUs now allowed."""
    if cpus and hasattr(os, "sched_setaffinity"):
        allowed = os.sched_getaffinity(0)
        chosen = {c for c in cpus if c in allowed} or {min(allowed)}
        os.sched_setaffinity(0, chosen)
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()
