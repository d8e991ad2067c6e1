"""Data integrity at every sample: the plan's quality suite run against the target, its failed
expectations counted (``data_integrity_issues_count``: 0 while the data holds)."""

from __future__ import annotations

import time
from typing import Any

from include.launch.plugins.metrics.sample import Sample

SOURCE = "quality_suite"


def quality_suite(run: Any, params: Any, previous: Sample | None) -> Sample:
    from include.launch.plugins.quality.runner import evaluate, target_dsn

    now = time.time()
    model = run.spec.plan.data_model
    if model is None:
        return Sample(now, SOURCE, error=f"plan {run.spec.launch_id!r} has no data_model for suite {params.suite!r}")
    try:
        report = evaluate(target_dsn(run), model, params.suite)
    except Exception as exc:  # noqa: BLE001 - an unreadable source is an error sample, never a pass
        return Sample(now, SOURCE, error=f"{params.suite}: {type(exc).__name__}: {exc}")
    if report.broken:
        return Sample(now, SOURCE, error=f"{params.suite}: {len(report.broken)} expectation(s) could not run")
    return Sample(now, SOURCE, {"data_integrity_issues_count": float(sum(max(f.count, 1) for f in report.failed))},
                  {"failed": [f.check for f in report.failed]})
