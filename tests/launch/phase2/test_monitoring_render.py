"""Rendering from the plans, without processes: severities, runbooks, routing, no secret in files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from include.launch.core.vocabulary import Comparison, Metric
from include.launch.plan import load_plan
from include.monitoring import dashboards
from include.monitoring.alertmanager_config import alertmanager_document
from include.monitoring.rules import build_rules, duration, parse_condition, rules_document
from include.monitoring.settings import MonitoringSettings

SETTINGS = MonitoringSettings("http://127.0.0.1:9090", "/p", "http://127.0.0.1:9093", "/a", pager_url="http://pager/x")


@pytest.mark.parametrize(("text", "expected"), [
    ("error rate > 1%", (Metric.ERROR_RATE_PERCENT, Comparison.GT, 1.0, None)),
    ("p95 > 1 s", (Metric.LATENCY_P95_MS, Comparison.GT, 1000.0, None)),
    ("p99 > 1 s for 10 min", (Metric.LATENCY_P99_MS, Comparison.GT, 1000.0, 10.0)),
    ("DB pool in use >= 90% for 5 min", (Metric.POOL_UTILIZATION_PERCENT, Comparison.GE, 90.0, 5.0)),
    ("pool saturation > 90%", (Metric.POOL_UTILIZATION_PERCENT, Comparison.GT, 90.0, None)),
    ("data-integrity issue", None),
])
def test_conditions_of_the_documents_parse(text: str, expected: object) -> None:
    assert parse_condition(text) == expected


def test_accubooks_rules_carry_severity_and_runbook() -> None:
    plan = load_plan("accubooks")
    rule_set = build_rules(plan, "accubooks", "1m")
    by_name = {rule["alert"]: rule for rule in rules_document(plan, rule_set)["groups"][0]["rules"]}
    assert {"ErrorRateP0", "TargetDownP0", "LatencyP95P1", "PoolUtilizationP1", "ErrorRateP2"} <= set(by_name)
    error = by_name["ErrorRateP0"]
    assert error["labels"] == {"severity": "P0"} and error["for"] == "5m" and "> 1" in error["expr"]
    assert "stop all changes" in error["annotations"]["runbook"]
    assert "> 1000" in by_name["LatencyP95P1"]["expr"]
    assert "P0: data-integrity issue" in rule_set.not_alertable  # said, not silently dropped


def test_launch_b_critical_and_warning_alerts() -> None:
    names = build_rules(load_plan("reconciliation"), "reconciliation", "1m").names()
    assert {"ErrorRateP1", "LatencyP99P1", "PoolUtilizationP1", "ErrorRateP0", "LatencyP95P0"} <= set(names)


def test_routing_p0_pages_and_slacks_without_the_webhook_in_the_file(tmp_path: Path) -> None:
    document = alertmanager_document(load_plan("accubooks"), SETTINGS, tmp_path)
    routes = {(r["matchers"][0], r["receiver"]) for r in document["route"]["routes"]}
    assert routes == {('severity="P0"', "pager"), ('severity="P0"', "slack_urgent"),
                      ('severity="P1"', "slack_urgent"), ('severity="P2"', "slack")}
    receivers = {r["name"]: r for r in document["receivers"]}
    assert receivers["slack_urgent"]["slack_configs"][0]["channel"] == "#accubooks-urgent"
    assert "api_url" not in yaml.safe_dump(document).replace("api_url_file", "")


def test_dashboards_cover_every_required_metric() -> None:
    plan = load_plan("accubooks")
    assert plan.target_profile is not None
    boards = [dashboards.dashboard(plan, name) for name in plan.target_profile.monitoring.dashboards]
    assert len(boards) == 3 and dashboards.missing_metrics(plan, boards) == []
    assert all(board["panels"] for board in boards)


def test_duration_text() -> None:
    assert (duration(5), duration(0.05), duration(1.5)) == ("5m", "3s", "90s")


def test_launch_b_pages_on_p1_because_its_plan_says_so(tmp_path: Path) -> None:
    document = alertmanager_document(load_plan("reconciliation"), SETTINGS, tmp_path)
    paged = {r["matchers"][0] for r in document["route"]["routes"] if r["receiver"] == "pager"}
    assert paged == {'severity="P0"', 'severity="P1"'}
