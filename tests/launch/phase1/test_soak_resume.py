"""A retried soak resumes its window: the samples and the window's start survive a new process."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowRescheduleException

from include.launch.ledger import Event, Ledger
from include.launch.plan import load_plan
from include.launch.soak import SoakStore, SustainedMonitorOperator
from include.launch.spec import build_phase_spec

RUN_ID = "manual__resume"


def _context() -> dict[str, Any]:
    return {"run_id": RUN_ID, "ti": SimpleNamespace(task_id="sustained_monitor"),
            "dag_run": SimpleNamespace(run_id=RUN_ID, triggering_user_name="operator"),
            "params": {"monitor_minutes": 0.1, "sample_interval_seconds": 3, "pool_max": 50, "pool_min": 10}}


def test_retry_resumes_the_window(launch_env: dict[str, Any]) -> None:
    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    ledger = Ledger(launch_env["ledger"])
    ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", run_id=RUN_ID,
                        task_id="pre_checks.health_baseline", event="check_result", outcome="successful",
                        payload={"kind": "metric_gate", "measured": {"metrics": {"latency_p95_ms": 40.0}}}))
    with pytest.raises(AirflowRescheduleException):
        SustainedMonitorOperator(task_id="sustained_monitor", spec=spec).execute(_context())
    store = SoakStore(launch_env["ledger"], "accubooks", "phase1_pool_scaling", RUN_ID)
    first = store.samples()
    assert len(first) == 1
    # The worker dies; Airflow retries the task in a fresh operator (a new process in production).
    with pytest.raises(AirflowRescheduleException):
        SustainedMonitorOperator(task_id="sustained_monitor", spec=spec).execute(_context())
    resumed = store.samples()
    assert len(resumed) == 2 and resumed[0].taken_at == first[0].taken_at  # same window, not restarted
    time.sleep(max(0.0, first[0].taken_at + 6.5 - time.time()))
    outcome = SustainedMonitorOperator(task_id="sustained_monitor", spec=spec).execute(_context())
    assert outcome["samples"] == 3  # neither restarted nor skipped: every sample of the window counted
    completed = ledger.rows(event="soak_completed")
    assert len(completed) == 1 and completed[0].payload["samples"] == 3
    assert len(ledger.rows(event="soak_started")) == 1
