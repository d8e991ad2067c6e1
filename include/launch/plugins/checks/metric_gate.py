"""Metric gates: fresh measurements of the live service against criteria (the health baseline)."""

from __future__ import annotations

import time

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult, evaluate
from include.launch.plugins.checks.catalog import MetricGateParams
from include.launch.plugins.metrics.source import take_sample


def metric_gate(run: PhaseRun, params: MetricGateParams) -> CheckResult:
    """Two samples ``window_seconds`` apart; rates over that interval; every criterion must hold."""
    first = take_sample(run)
    if first.error:
        return CheckResult(Outcome.ERROR, f"metrics unreachable: {first.error}")
    time.sleep(params.window_seconds)
    sample = take_sample(run, first)
    if sample.error:
        return CheckResult(Outcome.ERROR, f"metrics unreachable: {sample.error}")
    results = evaluate(params.criteria, sample.values)
    stage = "pre_change" if run.task_id.startswith("pre_checks") else "post_change"
    evidence = [
        run.evidence.write_json(f"{stage}_metrics.json", {"window_seconds": params.window_seconds,
                                                          "source": sample.source, "values": sample.values}),
    ]
    if stage == "pre_change":
        error_rate = sample.values.get("error_rate_percent")
        evidence.append(run.evidence.write_text(
            "pre_change_error_rate.txt",
            f"error rate over {params.window_seconds:g} s: "
            f"{'no data' if error_rate is None else f'{error_rate:.4f} %'} "
            f"({sample.values.get('requests_in_interval', 0):g} requests)\n"))
        evidence.append(run.evidence.write_json("pre_change_latency.json", {
            key: sample.values.get(key) for key in ("latency_p95_ms", "latency_p99_ms", "pool_wait_p95_ms")}))
    return CheckResult.from_criteria(results, what="metrics", measured={"metrics": sample.values}, evidence=evidence)
