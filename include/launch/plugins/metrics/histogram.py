"""Quantiles from cumulative Prometheus histogram buckets, as histogram_quantile() computes them."""

from __future__ import annotations

import math


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """``buckets`` maps upper bound (le) -> cumulative count. None when there are no observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return previous_bound  # beyond the last finite bucket: its bound is the honest answer
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound


def subtract(later: dict[float, float], earlier: dict[float, float]) -> dict[float, float]:
    """Bucket counts observed between two scrapes (a restart resets counters: then use ``later``)."""
    if any(later.get(bound, 0.0) < count for bound, count in earlier.items()):
        return dict(later)
    return {bound: later[bound] - earlier.get(bound, 0.0) for bound in later}
