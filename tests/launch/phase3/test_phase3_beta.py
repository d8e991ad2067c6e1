"""Phase 3 on the engine: enroll, verify, first watch; the rollback pauses the beta and exports the data;
a cohort outside 10-20 is refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from include.demo_target.beta import cohort_entries
from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import ApprovalClient, run_dag
from tests.harness.answers import approve
from tests.harness.faults import WhenLedgerShows
from tests.harness.phase import build_variant
from tests.harness.scorecard import states
from tests.harness.target import LiveTraffic
from tests.launch.phase3.conftest import COHORT_TENANTS

FAST = {"monitor_minutes": 0.05, "sample_interval_seconds": 2, "rollback_watch_minutes": 0}
TENANT_TABLES_WITH_ROWS = ("users", "accounts", "journal_entries", "invoices", "forecasts")


def counts(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant_id = ANY(%s)",
                                (COHORT_TENANTS,)).fetchone()[0] for t in TENANT_TABLES_WITH_ROWS}


def flags(db_url: str) -> dict[str, set[int]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT flag, tenant_id FROM feature_flags WHERE enabled").fetchall()
    found: dict[str, set[int]] = {}
    for flag, tenant in rows:
        found.setdefault(flag, set()).add(int(tenant))
    return found


def failing_verify(plan: dict[str, Any]) -> None:
    phase = next(p for p in plan["phases"] if p["id"] == "phase3_beta")
    phase["verify"].append({"kind": "document_present", "name": "planted_failure",
                            "params": {"path": "pre_launch/not_there.md"}})


def test_enroll_verify_and_first_watch(beta_env: dict[str, Any], phase2_monitoring: Any,
                                       approvals: ApprovalClient) -> None:
    target = beta_env["target"]
    dag = build_variant("accubooks", "phase3_beta")
    conf = {**FAST, "cohort": cohort_entries(target.db_url, COHORT_TENANTS)}
    with LiveTraffic(target.urls):
        dag_run, results = run_dag(dag, client=approvals, conf=conf, answers=[approve()])
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "success", states(dag_run)
    assert flags(target.db_url) == {"beta": set(COHORT_TENANTS), "detailed_logging": set(COHORT_TENANTS)}
    ledger = Ledger(beta_env["ledger"])
    started = ledger.rows(event="beta_started")
    assert len(started) == 1 and started[0].payload["days"] == 14 and started[0].payload["tenants"] == COHORT_TENANTS
    assert ledger.rows(event="phase_completed", phase_id="phase3_beta")
    outbox = list((beta_env["evidence"] / "phase3_beta").rglob("outbox/invitation_*.eml"))
    assert len(outbox) == len(COHORT_TENANTS)
    assert any("Beta started for 12 tenants" in text for text in beta_env["slack"].texts())
    (watch,) = (beta_env["evidence"] / "phase3_beta").rglob("sustained_monitoring.json")
    samples = json.loads(watch.read_text())["samples"]
    for metric in ("error_rate_percent", "uptime_percent", "data_integrity_issues_count"):  # every rule measured
        assert any(s["values"].get(metric) is not None for s in samples), f"{metric} never measured"
    assert all(s["values"].get("data_integrity_issues_count") in (None, 0.0) for s in samples)
    assert ledger.verify() == []


def test_an_integrity_defect_during_the_first_watch_pauses_the_beta_as_a_p0(
        beta_env: dict[str, Any], phase2_monitoring: Any, approvals: ApprovalClient) -> None:
    """Seed 001: any integrity issue means an immediate pause. The defect appears once the watch runs."""
    from include.demo_target.generator import plant_defects

    target = beta_env["target"]
    dag = build_variant("accubooks", "phase3_beta")
    conf = {**FAST, "monitor_minutes": 1, "cohort": cohort_entries(target.db_url, COHORT_TENANTS)}

    def plant() -> None:
        with psycopg.connect(target.db_url) as conn:
            plant_defects(conn, ["unbalanced_entry"], seed=5)

    with LiveTraffic(target.urls), WhenLedgerShows(beta_env["ledger"], "soak_started", plant) as planted:
        dag_run, _ = run_dag(dag, client=approvals, conf=conf, answers=[approve()])
    assert planted.fired.is_set()
    assert dag_run.state == "failed" and states(dag_run)["sustained_monitor"] == "failed"
    ledger = Ledger(beta_env["ledger"])
    (triggered,) = ledger.rows(event="rollback_triggered")
    assert "data_integrity_issues_count > 0" in triggered.payload["summary"] and triggered.payload["severity"] == "P0"
    assert [r.outcome for r in ledger.rows(event="incident_opened")] == ["P0"]
    assert ledger.rows(event="beta_paused") and flags(target.db_url) == {}
    assert ledger.verify() == []


def test_rollback_pauses_the_beta_exports_and_keeps_the_data(beta_env: dict[str, Any],
                                                             approvals: ApprovalClient) -> None:
    target = beta_env["target"]
    before = counts(target.db_url)
    dag = build_variant("accubooks", "phase3_beta", failing_verify)
    conf = {**FAST, "cohort": cohort_entries(target.db_url, COHORT_TENANTS)}
    dag_run, _ = run_dag(dag, client=approvals, conf=conf, answers=[approve()])
    assert dag_run.state == "failed"
    assert states(dag_run)["rollback"] == "failed"  # rolled back, then fails the run on purpose
    assert flags(target.db_url) == {}
    assert counts(target.db_url) == before  # every row of the cohort's data is still there
    with psycopg.connect(target.db_url) as conn:
        statuses = {s for (s,) in conn.execute("SELECT status FROM beta_cohort WHERE tenant_id = ANY(%s)",
                                               (COHORT_TENANTS,))}
    assert statuses == {"paused"}
    folder: Path = beta_env["evidence"] / "phase3_beta"
    for tenant in COHORT_TENANTS:
        exported = {p.name: p for p in folder.rglob(f"exports/tenant_{tenant}/*.csv")}
        assert "journal_entries.csv" in exported and "users.csv" in exported
        lines = exported["users.csv"].read_text().splitlines()
        assert lines[0].startswith("id,tenant_id,email") and len(lines) == 1 + 2  # header + the tenant's users
    ledger = Ledger(beta_env["ledger"])
    paused = ledger.rows(event="beta_paused")
    assert len(paused) == 1 and "pre_launch/not_there.md is missing" in paused[0].payload["reason"]
    assert paused[0].payload["data_kept"] is True
    assert len(list(folder.rglob("outbox/beta_paused_*.eml"))) == len(COHORT_TENANTS)
    assert ledger.rows(event="rollback_completed")
    assert ledger.verify() == []


@pytest.mark.parametrize("size", [9, 21])
def test_cohort_outside_10_to_20_is_refused_before_anything_runs(beta_env: dict[str, Any], size: int) -> None:
    target = beta_env["target"]
    tenants = list(range(1, size + 1))
    dag = build_variant("accubooks", "phase3_beta")
    dag_run = dag.test(run_conf={**FAST, "cohort": cohort_entries(target.db_url, tenants)})
    assert dag_run.state == "failed"
    assert states(dag_run)["phase_gate"] == "failed"
    assert states(dag_run)["apply_change"] == "upstream_failed"
    refused = Ledger(beta_env["ledger"]).rows(event="params_refused")
    assert len(refused) == 1
    assert f"cohort: {size} invitee(s) given; the beta needs 10-20" in refused[0].payload["error"]
    assert flags(target.db_url) == {}
