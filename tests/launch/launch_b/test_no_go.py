"""A load test that misses p95 says NO-GO with the number, before anyone is asked to sign.

Not a serial test: the latency is an injected 800 ms fault against the shipped 500 ms gate, which a
slower or busier machine can only make slower, so it shares the machine with the parallel tests."""

from __future__ import annotations

from typing import Any

from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import ApprovalClient, run_dag
from tests.harness.phase import build_variant
from tests.launch.launch_b.conftest import states


def only_load_test(plan: dict[str, Any]) -> None:
    phase = next(p for p in plan["phases"] if p["id"] == "go_no_go")
    phase["pre_checks"] = [c for c in phase["pre_checks"] if c["kind"] == "load_test"]
    phase["pre_checks"][0]["params"].update(duration_seconds=15, spawn_rate=250)


def test_load_test_missing_p95_says_no_go_with_the_number(launch_env: dict[str, Any],
                                                          approvals: ApprovalClient) -> None:
    env = launch_env["target"]
    env.set_faults(env.stable, latency_ms=800)  # every API call now takes > 800 ms
    dag = build_variant("reconciliation", "go_no_go", only_load_test)
    dag_run, _ = run_dag(dag, client=approvals)
    assert dag_run.state == "failed"
    assert states(dag_run)["pre_checks.load_test"] == "failed"
    assert states(dag_run)["approve_cpo"] != "success"
    row = next(r for r in Ledger(launch_env["ledger"]).rows(event="check_result")
               if r.payload["check"] == "load_test")
    p95 = row.payload["measured"]["load"]["latency_p95_ms"]
    assert row.outcome == "failed" and p95 >= 800
    assert row.payload["summary"].startswith("NO-GO")
    assert f"p95 {p95:g} ms" in row.payload["summary"] and "latency_p95_ms < 500" in row.payload["summary"]
