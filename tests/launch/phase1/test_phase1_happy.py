"""Phase 1 end to end on dag.test: approval over REST, real restart, real load, soak, evidence, ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.launch.evidence.ledger import Ledger
from include.launch.plan import load_plan
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.latency import latency_cannot_decide
from tests.harness.phase import build_variant, phase1_conf

FAST = phase1_conf(monitor_minutes=0.1, sample_interval_seconds=2)


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_happy_path(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    # Beside another test worker no latency may decide (the real p95 gates pass alone in tests/e2e and
    # fail on an injected fault in test_phase1_failures); everything else runs as shipped.
    dag = build_variant("accubooks", "phase1_pool_scaling", latency_cannot_decide)
    dag_run, results = run_dag(dag, client=approvals, conf=FAST,
                               answers=[Answer("approve", user="exec_approver", params=REVIEWED)])
    print(states(dag_run))
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "success", states(dag_run)
    for health in launch_env["target"].health():
        assert (health["pool"]["max"], health["pool"]["min"]) == (120, 20)
    runs = list((launch_env["evidence"] / "phase1_pool_scaling").iterdir())
    assert len(runs) == 1  # one folder per run
    folder: Path = runs[0]
    names = {p.name for p in folder.iterdir()}
    for required in ["pre_change_metrics.json", "pre_change_config.json", "pre_change_connections.txt",
                     "pre_change_error_rate.txt", "pre_change_latency.json", "deployment_log.txt", "config_diff.txt",
                     "restart_log.txt", "post_change_config.json", "synthetic_load_test_results.json",
                     "sustained_monitoring.json", "error_rate_comparison.txt", "latency_comparison.json"]:
        assert required in names, f"{required} missing from {sorted(names)}"
    assert any(n.startswith("pool_scaling_verification_") and n.endswith(".md") for n in names)
    soak = json.loads((folder / "sustained_monitoring.json").read_text())
    plan = load_plan("accubooks").phase("phase1_pool_scaling")
    for rule in [*plan.rollback_triggers, *plan.success_criteria]:  # every one measured, under live traffic
        metric = rule.metric.value
        assert any(s["values"].get(metric) is not None for s in soak["samples"]), f"{metric} never measured"
    assert soak["metric_sources"] == ["target_scrape", "postgres_stats", "node_exporter"]
    (report,) = folder.glob("pool_scaling_verification_*.md")  # every check, and what the plan let be N/A
    assert "| pre_checks.no_firing_alerts | not_applicable | not applicable by the plan (when_unavailable): no " \
           "Alertmanager connection" in report.read_text()
    ledger = Ledger(launch_env["ledger"])
    assert ledger.verify() == []
    events = [row.event for row in ledger.rows()]
    assert "approval_given" in events and "change_applied" in events and "phase_completed" in events
    (version,) = ledger.rows(event="target_version")  # read before and after the change, on every replica
    assert version.outcome == "successful" and set(version.payload["after"].values()) == {"1.0.0"}
    assert version.payload["before"] == version.payload["after"] and version.payload["release"] is False
    assert any("completed" in text for text in launch_env["slack"].texts())
