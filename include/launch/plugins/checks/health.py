"""Replica health: every /health answers ok, and (after a change) reports the new pool settings."""

from __future__ import annotations

from typing import Any

import requests

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.changes.catalog import POOL_MAX_KEY, POOL_MIN_KEY
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import NoParams
from include.launch.plugins.target import Target


def read_health(target: Target) -> dict[str, dict[str, Any]]:
    """Each replica's /health JSON (503 bodies included: a degraded replica still says why)."""
    states: dict[str, dict[str, Any]] = {}
    for url in target.replicas:
        response = requests.get(f"{url}/health", timeout=target.timeout)
        body = response.json()
        body["http_status"] = response.status_code
        states[url] = body
    return states


def health_endpoints(run: PhaseRun, params: NoParams) -> CheckResult:
    target = Target.from_connection(run.spec.plan.connections.target_api)
    states = read_health(target)
    bad = [f"{url} answered {s['http_status']} ({s.get('status')}, database {s.get('database', {}).get('status')})"
           for url, s in states.items() if s["http_status"] != 200 or s.get("status") != "ok"]
    summary = {url: {"status": s.get("status"), "version": s.get("version"), "pool": s.get("pool"),
                     "faults": s.get("faults")} for url, s in states.items()}
    ref = run.evidence.write_json(f"{run.task_id.replace('.', '_')}_health.json", summary)
    if bad:
        return CheckResult(Outcome.FAILED, "unhealthy replicas: " + "; ".join(bad), {"replicas": summary},
                           evidence=[ref])
    return CheckResult(Outcome.SUCCESSFUL, f"{len(states)} replica(s) healthy", {"replicas": summary}, evidence=[ref])


def pool_settings_applied(run: PhaseRun, params: NoParams) -> CheckResult:
    """Read back from every replica's /health: the pool max and min the change asked for."""
    from include.launch.spec.effective import change_params

    change = change_params(run.spec, run.params)
    settings = getattr(change, "settings", {})
    expected = {"max": settings.get(POOL_MAX_KEY), "min": settings.get(POOL_MIN_KEY)}
    target = Target.from_connection(run.spec.plan.connections.target_api)
    states = read_health(target)
    wrong = []
    for url, state in states.items():
        pool = state.get("pool") or {}
        for key, value in expected.items():
            if value is not None and pool.get(key) != int(value):
                wrong.append(f"{url} pool {key} = {pool.get(key)} (expected {value})")
    measured = {url: state.get("pool") for url, state in states.items()}
    pools = [pool or {} for pool in measured.values()]
    values = {"pool_max": min(p.get("max", 0) for p in pools), "pool_min": min(p.get("min", 0) for p in pools)}
    criteria = [{"metric": f"pool_{k}", "measured": values[f"pool_{k}"], "threshold": v} for k, v in expected.items()]
    if wrong:
        return CheckResult(Outcome.FAILED, "; ".join(wrong), {"replicas": measured, "metrics": values,
                                                              "expected": criteria})
    return CheckResult(Outcome.SUCCESSFUL, f"every replica reports pool max {expected['max']}, min {expected['min']}",
                       {"replicas": measured, "metrics": values})
