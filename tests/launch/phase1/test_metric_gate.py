"""metric_gate against real replicas: a criterion the live service breaks fails the gate, named
with its measured value; a source that cannot be read is an error, never a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.launch.core.criteria import Criterion
from include.launch.core.vocabulary import Comparison, Metric, Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plugins.checks.catalog import MetricGateParams
from include.launch.spec.phase import build_phase_spec
from tests.harness.checks import registered_check
from tests.harness.target import LiveTraffic, RunningTarget

metric_gate = registered_check("metric_gate")  # through the registry: the mutant reaches it

ERRORS_UNDER_A_TENTH = MetricGateParams(criteria=[Criterion(metric=Metric.ERROR_RATE_PERCENT, op=Comparison.LT,
                                                            threshold=0.1)], window_seconds=2)


def gate_run() -> PhaseRun:
    plan = load_plan("accubooks")
    spec = build_phase_spec(plan, "phase1_pool_scaling", "accubooks")
    return PhaseRun(spec=spec, run_id="gate_test", task_id="pre_checks.health_baseline")


def test_an_error_rate_over_the_criterion_fails_the_gate(target: RunningTarget, ledger_db: str,
                                                         evidence_base: Path) -> None:
    target.set_faults(error_rate=0.5)
    with LiveTraffic(target.urls):
        result = metric_gate(gate_run(), ERRORS_UNDER_A_TENTH)
    assert result.outcome is Outcome.FAILED, result.summary
    assert "error_rate_percent < 0.1" in result.summary
    measured = result.measured["metrics"]["error_rate_percent"]
    assert measured is not None and measured > 10


def test_replicas_that_cannot_be_read_are_an_error_not_a_pass(target: RunningTarget, ledger_db: str,
                                                             evidence_base: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    connection = json.loads(target.connection_json())
    connection["extra"]["replicas"] = ["http://127.0.0.1:9"]  # nothing listens on the discard port
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", json.dumps(connection))
    result = metric_gate(gate_run(), ERRORS_UNDER_A_TENTH)
    assert result.outcome is Outcome.ERROR and result.summary.startswith("metrics unreachable")
