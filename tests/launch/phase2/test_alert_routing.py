"""alert_routing against a real Alertmanager: Launch B's critical alerts must reach Slack and the pager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from include.devservices.prometheus import MonitoringStack, monitoring_stack
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plugins.checks.catalog import AlertRoutingParams
from include.launch.spec.phase import build_phase_spec
from include.monitoring.alertmanager_config import alertmanager_document
from include.monitoring.settings import MonitoringSettings
from tests.harness.checks import registered_check

alert_routing = registered_check("alert_routing")  # through the registry: the mutant reaches it

PARAMS = AlertRoutingParams(receivers=["slack", "pager"])


@pytest.fixture()
def stack(tmp_path: Path, evidence_base: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitoringStack]:
    with monitoring_stack(tmp_path / "monitoring") as running:
        monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER", json.dumps(running.alertmanager_connection()))
        yield running


def install_routing(stack: MonitoringStack, plan_name: str) -> None:
    settings = MonitoringSettings(stack.prometheus.url, "", stack.alertmanager.url, str(stack.alertmanager.config_dir),
                                  pager_url="http://127.0.0.1:9/pager")
    document = alertmanager_document(load_plan(plan_name), settings, stack.alertmanager.config_dir)
    (stack.alertmanager.config_dir / "alertmanager.yml").write_text(yaml.safe_dump(document))
    assert requests.post(f"{stack.alertmanager.url}/-/reload", timeout=10).status_code == 200


def run_for(plan_name: str) -> PhaseRun:
    plan = load_plan(plan_name)
    return PhaseRun(spec=build_phase_spec(plan, plan.phases[0].id, plan_name), run_id="routing_test")


def test_launch_b_critical_alerts_reach_slack_and_pager(stack: MonitoringStack) -> None:
    install_routing(stack, "reconciliation")
    result = alert_routing(run_for("reconciliation"), PARAMS)
    assert result.outcome is Outcome.SUCCESSFUL, result.summary
    assert result.measured["routes"]["P1"] == ["pager", "slack_urgent"]


def test_fresh_alertmanager_routes_nowhere(stack: MonitoringStack) -> None:
    result = alert_routing(run_for("reconciliation"), PARAMS)
    assert result.outcome is Outcome.FAILED
    assert "misses 'pager'" in result.summary
