"""The third launch: a queue worker the engine has never heard of, run through a whole phase.

Only include/plans/queueworker.yaml (its target profile) and include/demo_worker describe the
service: another health endpoint and format (``/status``, ``state: serving``), its release in a
response header, its own metric names on ``/prom``, routes without tenants, settings read back
from nested fields. On dag.test against two real worker processes and a real PostgreSQL job store:
the happy path (pre-checks, approval, hot reload, verification under load, soak, completion) and a
breach during the soak rolled back to the settings it found.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include.launch.evidence.ledger import Ledger
from tests.conftest import postgres_connection_json
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.faults import WhenLedgerShows
from tests.harness.phase import build_variant
from tests.harness.worker import JobTraffic, RunningWorker, running_worker

PHASE = "scale_workers"
APPROVE = [Answer("approve", user="devops_lead", params={"comment": "reviewed the queue baseline and the pool"})]
FAST = {"threads": 6, "monitor_minutes": 0.15, "sample_interval_seconds": 2, "synthetic_requests": 200,
        "concurrency": 8, "rollback_watch_minutes": 0}


def queue_wait_cannot_decide(plan: dict[str, Any]) -> None:
    """Beside another test worker, no wait time may decide: these tests are about the engine, not
    about how fast this machine runs threads (the error-rate gates and triggers stay as shipped)."""
    phase = plan["phases"][0]
    for check in phase["verify"]:
        for criterion in check.get("params", {}).get("criteria", []):
            if criterion["metric"] == "queue_wait_p95_ms":
                criterion["threshold"] = 60000
    for criterion in phase["success_criteria"] + phase["rollback_triggers"]:
        if criterion["metric"] == "queue_wait_p95_ms":
            criterion["threshold"] = 60000


@pytest.fixture()
def worker(pg_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningWorker]:
    db_url = pg_server.create_database("jobs")
    with running_worker(db_url, tmp_path / "worker") as running:
        monkeypatch.setenv("AIRFLOW_CONN_QUEUEWORKER_API", running.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_QUEUEWORKER_DB", postgres_connection_json(db_url))
        yield running
    pg_server.drop_database(db_url)


@pytest.fixture()
def launch_env(worker: RunningWorker, ledger_db: str, evidence_base: Path, slack: Any,
               pager: Any) -> Iterator[dict[str, Any]]:
    with JobTraffic(worker.urls):
        yield {"worker": worker, "ledger": ledger_db, "evidence": evidence_base, "slack": slack, "pager": pager}


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def threads(env: dict[str, Any]) -> list[int]:
    return [status["workers"]["threads"] for status in env["worker"].status()]


def test_the_worker_pool_is_scaled_measured_and_completed(launch_env: dict[str, Any],
                                                          approvals: ApprovalClient) -> None:
    dag = build_variant("queueworker", PHASE, queue_wait_cannot_decide)
    dag_run, results = run_dag(dag, client=approvals, conf=FAST, answers=APPROVE)
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "success", states(dag_run)
    assert threads(launch_env) == [6, 6]
    ledger = Ledger(launch_env["ledger"])
    assert ledger.verify() == []
    checks = {row.task_id: row for row in ledger.rows(event="check_result")}
    assert checks["verify.settings_applied"].payload["summary"] == ("every replica reports WORKER_THREADS 6, "
                                                                    "JOB_TIMEOUT_MS 3000")
    health = checks["pre_checks.health_endpoints"]
    assert health.outcome == "successful" and health.payload["summary"] == "2 replica(s) healthy"
    load = checks["verify.synthetic_load"].payload["measured"]
    assert load["client"]["requests"] == 200 and load["metrics"]["queue_wait_p95_ms"] is not None
    (version,) = ledger.rows(event="target_version")  # from the X-Worker-Release header, before and after
    assert set(version.payload["after"].values()) == {"2.4.0"} and version.outcome == "successful"
    folder = next((launch_env["evidence"] / PHASE).iterdir())
    soak = (folder / "sustained_monitoring.json").read_text()
    for metric in ("error_rate_percent", "queue_wait_p95_ms", "latency_p95_ms", "pool_utilization_percent"):
        assert f'"{metric}": ' in soak, f"{metric} never sampled"
    assert any("completed" in text for text in launch_env["slack"].texts())


def error_rate_decides(plan: dict[str, Any]) -> None:
    """The error-rate criterion waits for the window's end, so the P0 trigger is what rolls back."""
    queue_wait_cannot_decide(plan)
    plan["phases"][0]["soak"]["judged_at_end"] = ["error_rate_percent"]


def test_failed_jobs_during_the_soak_roll_the_pool_back(launch_env: dict[str, Any],
                                                        approvals: ApprovalClient) -> None:
    """Half the jobs fail once the soak starts: the P0 trigger fires, the rollback writes back the
    settings the snapshot found (two threads, 2000 ms) and reloads; the reload clears the fault."""
    worker: RunningWorker = launch_env["worker"]
    dag = build_variant("queueworker", PHASE, error_rate_decides)
    conf = {**FAST, "monitor_minutes": 1}
    with WhenLedgerShows(launch_env["ledger"], "soak_started", lambda: worker.fail_jobs(0.5)) as fault:
        dag_run, _ = run_dag(dag, client=approvals, conf=conf, answers=APPROVE)
    assert fault.fired.is_set()
    assert dag_run.state == "failed" and states(dag_run)["sustained_monitor"] == "failed", states(dag_run)
    assert threads(launch_env) == [2, 2]
    assert [s["limits"]["job_timeout_ms"] for s in worker.status()] == [2000, 2000]
    assert "JOB_TIMEOUT_MS=2000" in worker.env_file.read_text()
    ledger = Ledger(launch_env["ledger"])
    assert ledger.verify() == []
    (triggered,) = ledger.rows(event="rollback_triggered")
    assert "error_rate_percent > 5" in triggered.payload["summary"], triggered.payload
    events = [row.event for row in ledger.rows()]
    assert "rollback_completed" in events and "rollback_failed" not in events, events
    assert any("[P0]" in text for text in launch_env["slack"].texts())
