"""A retried soak resumes its window: the samples and the window's start survive a new process."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from airflow.sdk.exceptions import AirflowRescheduleException

from include.launch.engine.soak import SoakStore, SustainedMonitorOperator
from include.launch.evidence.ledger import Event, Ledger
from include.launch.plan import parse_plan
from include.launch.plan.loader import PLANS_DIR
from include.launch.spec.phase import PhaseSpec, build_phase_spec
from tests.harness.latency import latency_cannot_decide

RUN_ID = "manual__resume"


def _context() -> dict[str, Any]:
    return {"run_id": RUN_ID, "ti": SimpleNamespace(task_id="sustained_monitor"),
            "dag_run": SimpleNamespace(run_id=RUN_ID, triggering_user_name="operator"),
            "params": {"monitor_minutes": 0.1, "sample_interval_seconds": 3, "pool_max": 50, "pool_min": 10}}


def _spec() -> PhaseSpec:
    """Phase 1 of the shipped plan with its latency gates out of reach (tests/harness/latency.py):
    this test is about the soak's window, and live traffic on a shared machine must not fire the
    immediate p95-regression trigger or miss the p95 and pool-wait success criteria."""
    document = yaml.safe_load((PLANS_DIR / "accubooks.yaml").read_text())
    latency_cannot_decide(document)
    return build_phase_spec(parse_plan(yaml.safe_dump(document), "accubooks variant"), "phase1_pool_scaling",
                            "accubooks")


def test_retry_resumes_the_window(launch_env: dict[str, Any]) -> None:
    spec = _spec()
    ledger = Ledger(launch_env["ledger"])
    # The live-traffic baseline the p95 regression is taken against (a sample without one is
    # inconclusive); in this variant no p95 can make the regression trigger fire.
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
