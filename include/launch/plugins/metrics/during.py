"""Gauges read *while* something runs: a pool's utilisation after the load has finished is the idle
pool, so verification samples the target throughout its load and keeps the peak."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from include.launch.plugins.metrics.sample import Sample

T = TypeVar("T")


def peak_during(work: Callable[[], T], sample: Callable[[], Sample], metric: str,
                every_seconds: float = 1.0) -> tuple[T, float | None, int]:
    """Run ``work`` while a thread takes ``sample()`` every ``every_seconds`` (and once at the start;
    a scrape is parsed in this process, so sampling faster would slow the load it measures);
    return the work's result, the highest ``metric`` any sample under way measured (None when none
    did: inconclusive, never a pass) and how many samples measured it."""
    done = threading.Event()
    seen: list[float] = []

    def watch() -> None:
        while True:
            taken = sample()
            value = None if taken.error else taken.values.get(metric)
            if value is not None:
                seen.append(float(value))
            if done.wait(every_seconds):
                return

    watcher = threading.Thread(target=watch, name=f"peak-{metric}", daemon=True)
    watcher.start()
    try:
        result = work()
    finally:
        done.set()
        watcher.join(timeout=30)
    return result, (max(seen) if seen else None), len(seen)
