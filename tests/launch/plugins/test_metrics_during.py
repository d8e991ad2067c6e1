"""Utilisation is read under the load, not after it: the peak a sampler saw while the work ran."""

from __future__ import annotations

import threading

from include.launch.plugins.metrics.during import peak_during
from include.launch.plugins.metrics.sample import Sample


def test_the_peak_is_what_the_pool_showed_while_the_work_ran() -> None:
    busy = threading.Event()
    sampled_while_busy = threading.Event()

    def sample() -> Sample:
        value = 90.0 if busy.is_set() else 5.0
        if busy.is_set():
            sampled_while_busy.set()
        return Sample(0.0, "target", {"pool_utilization_percent": value})

    def work() -> str:
        busy.set()
        assert sampled_while_busy.wait(10)  # the work lasts until a sample has seen it
        busy.clear()
        return "load done"

    result, peak, count = peak_during(work, sample, "pool_utilization_percent", every_seconds=0.01)
    assert result == "load done" and peak == 90.0 and count >= 2
    assert sample().values["pool_utilization_percent"] == 5.0  # what a read after the load would have said


def test_no_sample_measured_is_no_value_never_a_pass() -> None:
    result, peak, count = peak_during(lambda: 1, lambda: Sample(0.0, "target", error="connection refused"),
                                      "pool_utilization_percent", every_seconds=0.01)
    assert (result, peak, count) == (1, None, 0)
