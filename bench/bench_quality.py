"""Benchmark: both quality suites through the runner vs the same checks as plain SQL, at 50,000 tenants.

Generates balanced ledgers (no defects) into a fresh database, then times, in one process:
  gx     - run_suite(integrity) + run_suite(tenant_isolation) through the runner: GX validation,
           result JSON + Data Docs HTML written as evidence, ledger rows appended;
  plain  - the same generated queries (plus the row-count snapshot), each run once with psycopg.
Importing great_expectations (a once-per-process cost of seconds) is done before the clock starts
and reported separately. A warm-up pass of the plain SQL runs first so both see a warm cache.

Usage: PYTHONPATH=. .venv/bin/python bench/bench_quality.py [--tenants 50000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import psycopg

from include.demo_target.generator import generate
from include.devservices.postgres import start_server
from include.launch.evidence.ledger import Ledger
from include.launch.plan import load_plan
from include.launch.plugins.quality.checks import SUITES, Check, suite_checks
from include.launch.plugins.quality.model import DataModel
from include.launch.plugins.quality.runner import row_snapshot, run_suite
from tests.conftest import postgres_connection_json


def plain_sql(dsn: str, model: DataModel) -> float:
    """The same checks, each query run once, violations fetched; plus the row-count snapshot."""
    checks: list[Check] = [c for suite in SUITES for c in suite_checks(model, suite)]
    started = time.perf_counter()
    row_snapshot(dsn, model)
    with psycopg.connect(dsn) as conn:
        for check in checks:
            conn.execute(check.query).fetchall()  # type: ignore[arg-type]
    return time.perf_counter() - started


def through_runner(model_plan: str) -> float:
    from include.launch.evidence.runtime import PhaseRun
    from include.launch.spec.phase import build_phase_spec

    run = PhaseRun(spec=build_phase_spec(load_plan(model_plan), "phase1_pool_scaling", model_plan),
                   run_id=f"bench-{time.time_ns()}", task_id="bench")
    started = time.perf_counter()
    for suite in SUITES:
        result = run_suite(run, suite)
        if result.outcome.value != "successful":
            raise SystemExit(f"clean data did not pass {suite}: {result.summary}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = start_server()
    target, ledger = server.create_database("benchq"), server.create_database("benchl")
    os.environ["AIRFLOW_CONN_ACCUBOOKS_DB"] = postgres_connection_json(target)
    os.environ["AIRFLOW_CONN_LAUNCH_DB"] = postgres_connection_json(ledger)
    os.environ["LAUNCH_EVIDENCE_BASE"] = tempfile.mkdtemp(prefix="bench-quality-")
    try:
        generated = generate(target, args.tenants, seed=0)
        Ledger(ledger).ensure_schema()
        model = load_plan("accubooks").data_model
        assert model is not None
        started = time.perf_counter()
        import great_expectations  # noqa: F401 - the import cost, once per process

        import_seconds = time.perf_counter() - started
        plain_sql(target, model)  # warm-up: both sides then read a warm cache
        gx_times, plain_times = [], []
        for _ in range(args.rounds):
            gx_times.append(through_runner("accubooks"))
            plain_times.append(plain_sql(target, model))
    finally:
        server.drop_database(target)
        server.drop_database(ledger)
    gx_s, plain_s = statistics.median(gx_times), statistics.median(plain_times)
    print(json.dumps({
        "tenants": args.tenants,
        "rows": generated.total_rows,
        "expectations": sum(len(suite_checks(model, s)) for s in SUITES),
        "gx_import_seconds": round(import_seconds, 2),
        "suites_seconds_median": round(gx_s, 3),
        "plain_sql_seconds_median": round(plain_s, 3),
        "ratio": round(gx_s / plain_s, 2),
        "suites_seconds_all": [round(t, 3) for t in gx_times],
        "plain_sql_seconds_all": [round(t, 3) for t in plain_times],
        "goal": "ratio <= 1.5 and suites < 60 s",
    }, indent=2))


if __name__ == "__main__":
    main()
