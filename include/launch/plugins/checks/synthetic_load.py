"""Verification under synthetic load: error rate, p95 and regression from the client, the rest from the server.

Client-side numbers come from every request; pool wait from the replicas' metrics over exactly the
load's interval; utilisation is the peak the replicas report while the load runs (read after it,
it would be the idle pool). The same check run as a pre-check is the baseline: the p95
regression compares the same load (requests, concurrency, endpoints) before and after the change.
"""

from __future__ import annotations

from typing import Any

from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult, evaluate
from include.launch.plugins.checks.catalog import SyntheticLoadParams
from include.launch.plugins.load import route_urls, run_load
from include.launch.plugins.metrics.during import peak_during
from include.launch.plugins.metrics.source import take_sample
from include.launch.plugins.metrics.target import metrics_profile, scrape
from include.launch.plugins.target import Target


def load_urls(run: PhaseRun, replicas: list[str], tenants: int) -> list[str]:
    """The target profile's routes over ``tenants`` tenants (read with the profile's SQL); a plan
    without routes cannot load the service, and a tenant query that finds none cannot either."""
    from include.launch.core.errors import ConfigurationError

    profile = run.spec.plan.target_profile
    if profile is None or profile.load is None:
        raise ConfigurationError("target_profile.load: no routes: the synthetic load has nothing to send")
    routes = [(route.path, route.weight) for route in profile.load.routes]
    tenant_ids: list[int] = []
    if profile.load.tenants_sql:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(postgres_conn_id=run.spec.plan.connections.target_db)
        tenant_ids = [int(row[0]) for row in hook.get_records(profile.load.tenants_sql, parameters={"count": tenants})]
        if not tenant_ids:
            raise ConfigurationError("target_profile.load.tenants_sql found no tenant: the routes name {tenant}")
    return route_urls(replicas, routes, tenant_ids)


def baseline_p95(run: PhaseRun, kind: str) -> float | None:
    """The p95 a pre-check of ``kind`` measured in this run: like is compared with like (live traffic
    with live traffic for the soak, the same synthetic load for verification)."""
    for row in reversed(run.own_rows("check_result")):
        metrics = (row.payload.get("measured") or {}).get("metrics") or {}
        if (row.task_id.startswith("pre_checks.") and row.payload.get("kind") == kind
                and metrics.get("latency_p95_ms")):
            return float(metrics["latency_p95_ms"])
    return None


def regression_percent(before: float | None, after: float | None) -> float | None:
    """How much slower, in percent of the baseline: the real number (5 -> 29 ms is 480 %). A plan
    that wants a floor says so with a ``when`` on ``latency_regression_ms``."""
    if before is None or after is None or before <= 0:
        return None
    return (after - before) / before * 100


def regression_ms(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def synthetic_load(run: PhaseRun, params: SyntheticLoadParams) -> CheckResult:
    total = int(run.params.get("synthetic_requests") or params.requests)
    concurrency = min(int(run.params.get("concurrency") or params.concurrency), total)
    target = Target.from_connection(run.spec.plan.connections.target_api)
    urls = load_urls(run, target.replicas, params.tenants)
    before = take_sample(run)
    load, peak_utilisation, utilisation_samples = peak_during(
        lambda: run_load(urls, total=total, concurrency=concurrency, timeout=target.timeout * 2),
        lambda: scrape(target.replicas, metrics_profile(run), timeout=target.timeout), "pool_utilization_percent")
    after = take_sample(run, before)
    is_baseline = run.task_id.startswith("pre_checks.")
    baseline = None if is_baseline else baseline_p95(run, "synthetic_load")
    client_p95 = load.percentile(0.95)
    # The server's own figures over exactly the load's interval (what the target profile computes),
    # then the client's: every request timed end to end, and the peak utilisation during the load.
    values: dict[str, float | None] = {key: value for key, value in after.values.items()
                                       if key != "requests_in_interval"}
    values.update({
        "error_rate_percent": load.error_rate_percent,
        "latency_p95_ms": client_p95,
        "latency_regression_percent": 0.0 if is_baseline else regression_percent(baseline, client_p95),
        "latency_regression_ms": 0.0 if is_baseline else regression_ms(baseline, client_p95),
        "pool_utilization_percent": peak_utilisation,
    })
    results = evaluate(params.criteria, values)
    document: dict[str, Any] = {"requests": total, "concurrency": concurrency, "client": load.summary(),
                                "server": after.values, "criteria": [r.as_dict() for r in results],
                                "pool_utilization": {"peak_percent_during_load": peak_utilisation,
                                                     "samples_during_load": utilisation_samples}}
    if is_baseline:
        ref = run.evidence.write_json("pre_change_load_baseline.json", document)
        return CheckResult.from_criteria(results, what=f"{total} synthetic requests (baseline before the change)",
                                         measured={"metrics": values, "client": load.summary()}, evidence=[ref])
    evidence = [
        run.evidence.write_json("synthetic_load_test_results.json", document),
        run.evidence.write_json("latency_comparison.json", {
            "method": "the same synthetic load (requests, concurrency, endpoints) before and after the change",
            "before_p95_ms": baseline, "after_p95_ms": client_p95, "after_server_p95_ms": after.values.get(
                "latency_p95_ms"), "regression_percent": values["latency_regression_percent"],
            "regression_ms": values["latency_regression_ms"],
            "judged": [r.as_dict() for r in results if r.criterion.metric.value.startswith("latency_regression")]}),
        run.evidence.write_text("error_rate_comparison.txt", _error_rate_text(run, load.error_rate_percent)),
    ]
    return CheckResult.from_criteria(results, what=f"{total} synthetic requests",
                                     measured={"metrics": values, "client": load.summary()}, evidence=evidence)


def _error_rate_text(run: PhaseRun, after: float) -> str:
    before = None
    for row in run.own_rows("check_result"):
        metrics = (row.payload.get("measured") or {}).get("metrics") or {}
        if metrics.get("error_rate_percent") is not None:
            before = float(metrics["error_rate_percent"])
    shown = "no data" if before is None else f"{before:.4f} %"
    return f"before the change (live traffic): {shown}\nafter the change (synthetic load): {after:.4f} %\n"
