"""Metrics scraped from the target's replicas (Prometheus text), computed as the target profile says.

Used before Phase 2 brings Prometheus. The profile names every series by selector; a scrape keeps,
per replica, the sum of each selector's matching samples (histograms per bucket), so a Sample's
raw figures are cumulative and ``derive`` computes the interval's values from a pair. Without a
profile ``metrics`` section a scrape measures nothing (plan check refuses a trigger it cannot judge).
"""

from __future__ import annotations

import time
from collections import defaultdict
from functools import lru_cache
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from include.launch.core.selectors import Selector, parse_selector
from include.launch.plan.profile import MetricsProfile, ScrapeMetric
from include.launch.plugins.metrics.histogram import quantile, subtract
from include.launch.plugins.metrics.sample import Sample

SOURCE = "target"
REQUESTS = "requests_in_interval"


@lru_cache(maxsize=256)
def _selector(text: str) -> Selector:
    return parse_selector(text)


def _series(profile: MetricsProfile) -> tuple[set[str], set[str]]:
    """The selectors a scrape sums (counters and gauges) and the histograms it keeps per bucket."""
    plain: set[str] = {profile.requests} if profile.requests else set()
    histograms: set[str] = set()
    for metric in profile.scrape.values():
        plain |= set(metric.of) | set(metric.to) | ({metric.gauge} if metric.gauge else set())
        if metric.histogram:
            histograms.add(metric.histogram)
    return plain, histograms


def scrape_replica(url: str, profile: MetricsProfile, timeout: float = 5.0) -> dict[str, Any]:
    response = requests.get(f"{url.rstrip('/')}{profile.path}", timeout=timeout)
    response.raise_for_status()
    return read_exposition(response.text, profile)


def read_exposition(text: str, profile: MetricsProfile) -> dict[str, Any]:
    """One replica's sums per selector (absent: no sample matched) and bucket counts per histogram."""
    plain, histograms = _series(profile)
    sums: dict[str, float] = {}
    buckets: dict[str, dict[str, float]] = {selector: defaultdict(float) for selector in histograms}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for selector in plain:
                if _selector(selector).matches(sample.name, sample.labels):
                    sums[selector] = sums.get(selector, 0.0) + sample.value
            if sample.name.endswith("_bucket"):
                base = sample.name.removesuffix("_bucket")
                for selector in histograms:
                    if _selector(selector).matches(base, sample.labels):
                        buckets[selector][sample.labels["le"]] += sample.value
    return {"sums": sums, "buckets": {selector: dict(counts) for selector, counts in buckets.items()}}


def scrape(replica_urls: list[str], profile: MetricsProfile, timeout: float = 5.0) -> Sample:
    """One sample over every replica; an unreachable replica makes the whole sample an error."""
    raw: dict[str, Any] = {}
    for url in replica_urls:
        try:
            raw[url] = scrape_replica(url, profile, timeout)
        except (requests.RequestException, ValueError) as exc:
            return Sample(time.time(), SOURCE, error=f"{url}: {type(exc).__name__}: {exc}")
    return Sample(time.time(), SOURCE, values=instant_values(raw, profile), raw=raw)


def _across(values: list[float | None], how: str) -> float | None:
    present = [value for value in values if value is not None]
    if not present:
        return None
    filled = [value if value is not None else 0.0 for value in values]
    if how == "min":
        return min(filled)
    return max(filled) if how == "max" else sum(filled)


def _sum(replica: dict[str, Any], selectors: list[str]) -> float | None:
    found = [replica["sums"][text] for text in selectors if text in replica.get("sums", {})]
    return sum(found) if found else None


def _ratio(part: float | None, whole: float | None, metric: ScrapeMetric) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    share = (whole - part) / whole if metric.complement else part / whole
    return share * metric.scale


def _instant(replicas: list[dict[str, Any]], metric: ScrapeMetric) -> float | None:
    if metric.gauge:
        value = _across([_sum(r, [metric.gauge]) for r in replicas], metric.across)
        return None if value is None else value * metric.scale
    if metric.across == "sum":
        return _ratio(_across([_sum(r, metric.of) for r in replicas], "sum"),
                      _across([_sum(r, metric.to) for r in replicas], "sum"), metric)
    return _across([_ratio(_sum(r, metric.of), _sum(r, metric.to), metric) for r in replicas], metric.across)


def instant_values(raw: dict[str, Any], profile: MetricsProfile) -> dict[str, float | None]:
    """What one scrape can tell: the gauges and ratios of gauges."""
    replicas = list(raw.values())
    return {name.value: _instant(replicas, metric) for name, metric in profile.scrape.items()
            if not metric.counters and metric.quantile is None} if replicas else {}


def _buckets(data: dict[str, float]) -> dict[float, float]:
    return {float(le): count for le, count in data.items()}


def _increase(now: dict[str, Any], before: dict[str, Any], text: str) -> float:
    """A counter's increase; a replica that restarted (the counter fell) counts from zero."""
    current = now.get("sums", {}).get(text, 0.0)
    earlier = before.get("sums", {}).get(text, 0.0)
    return current if current < earlier else current - earlier


def derive(previous: Sample | None, current: Sample, profile: MetricsProfile) -> Sample:
    """The current sample with interval rates filled in from the previous one (None without traffic)."""
    if current.error:
        return current
    values: dict[str, float | None] = dict(current.values)
    pairs = [(now, (previous.raw.get(url) if previous and not previous.error else None) or {})
             for url, now in current.raw.items()]
    for name, metric in profile.scrape.items():
        if metric.counters:
            part = sum(_increase(now, before, text) for now, before in pairs for text in metric.of)
            whole = sum(_increase(now, before, text) for now, before in pairs for text in metric.to)
            values[name.value] = _ratio(part, whole, metric)
        elif metric.quantile is not None:
            merged: dict[float, float] = {}
            for now, before in pairs:
                later = _buckets(now.get("buckets", {}).get(metric.histogram, {}))
                earlier = _buckets(before.get("buckets", {}).get(metric.histogram, {}))
                for bound, count in subtract(later, earlier).items():
                    merged[bound] = merged.get(bound, 0.0) + count
            found = quantile(metric.quantile, merged)
            values[name.value] = None if found is None else found * metric.scale
    if profile.requests:
        values[REQUESTS] = sum(_increase(now, before, profile.requests) for now, before in pairs)
    return Sample(current.taken_at, current.source, values, current.raw, current.error)


def metrics_profile(run: Any) -> MetricsProfile:
    """The plan's metrics profile; none declared measures nothing (never a guessed metric name)."""
    profile = run.spec.plan.target_profile
    return profile.metrics if profile is not None and profile.metrics is not None else MetricsProfile()


def target_scrape(run: Any, params: Any, previous: Sample | None) -> Sample:
    """The ``target_scrape`` source: every replica of the plan's target, rates against ``previous``.
    Without a previous sample there is no interval: only the gauges (a rate over the replicas' whole
    life would mix the verification's load into the soak's first sample)."""
    from include.launch.plugins.target import Target

    target = Target.from_connection(run.spec.plan.connections.target_api)
    profile = metrics_profile(run)
    current = scrape(target.replicas, profile, timeout=target.timeout)
    return current if previous is None else derive(previous, current, profile)
