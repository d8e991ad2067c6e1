"""Phase 2 end to end on dag.test with real Prometheus and Alertmanager: approval over REST, install,
reload, live verification, the test alert at the Slack receiver, a P0 reaching Slack and the pager,
a broken rule refused before anything is installed, a failing verify rolled back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.phase import build_variant
from tests.launch.phase2.conftest import use_monitoring

APPROVE = [Answer("approve", user="exec_approver", params=REVIEWED)]
EVIDENCE = ["rules_loaded.json", "targets_up.json", "metrics_present.json", "test_alert_delivery.json",
            "test_alert_evidence.json", "dashboards.json", "monitoring_config_validation.json", "config_diff.txt"]


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def bodies(receiver: Any) -> list[str]:
    return [json.dumps(message["body"]) for message in receiver.messages]


def rules_loaded(prometheus_url: str) -> list[str]:
    groups = requests.get(f"{prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    return [rule["name"] for group in groups for rule in group["rules"]]


def previous_targets_up(prometheus_url: str) -> bool:
    """The pre-change config's own targets are scraped and up: the stale state verify must not trust."""
    targets = requests.get(f"{prometheus_url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return bool(targets) and all(t["health"] == "up" for t in targets)


def config_files(env: dict[str, Any]) -> dict[str, str]:
    stack = env["monitoring"]
    return {str(p): p.read_text() for folder in (stack.prometheus.config_dir, stack.alertmanager.config_dir)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def check_rows(ledger_db: str, check: str) -> list[Any]:
    return [r for r in Ledger(ledger_db).rows(event="check_result") if r.payload.get("check") == check]


def test_happy_path_and_p0_alert_reaches_slack_and_pager(phase2_env: dict[str, Any], approvals: ApprovalClient
                                                         ) -> None:
    env, stack = phase2_env, phase2_env["monitoring"]
    dag = build_variant("accubooks", "phase2_monitoring")
    dag_run, results = run_dag(dag, client=approvals, answers=APPROVE)
    assert [r.status_code for r in results] == [200]
    assert dag_run.state == "success", states(dag_run)

    loaded = rules_loaded(stack.prometheus.url)
    assert {"ErrorRateP0", "LatencyP95P1", "TargetDownP0", "ErrorRateP2"} <= set(loaded)
    targets = requests.get(f"{stack.prometheus.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    assert targets and all(t["health"] == "up" for t in targets), targets

    # The test alert went through Alertmanager to the Slack receiver, with its severity.
    assert any("LaunchMonitoringTestAlert" in body and "P2" in body for body in bodies(env["slack"]))
    runs = list((env["evidence"] / "phase2_monitoring").iterdir())
    assert len(runs) == 1  # one evidence folder per run
    folder: Path = runs[0]
    names = {p.name for p in folder.iterdir()}
    assert set(EVIDENCE) <= names, sorted(names)
    assert any(n.startswith("monitoring_setup_verification_") for n in names)
    assert json.loads((folder / "test_alert_delivery.json").read_text())["delivered"] is True
    dashboards = json.loads((folder / "dashboards.json").read_text())["dashboards"]
    assert set(dashboards) == {"executive_overview", "operations", "business_metrics"}

    # The webhook lives only in the 0600 secret file, never in the installed config.
    secret = stack.alertmanager.config_dir / "secrets" / "slack_webhook_url"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert env["slack"].url not in (stack.alertmanager.config_dir / "alertmanager.yml").read_text()
    assert Ledger(env["ledger"]).verify() == []
    assert "phase_completed" in [r.event for r in Ledger(env["ledger"]).rows(phase_id="phase2_monitoring")]

    # An injected error rate makes the P0 error-rate alert fire and reach Slack and the pager.
    env["target"].set_faults(error_rate=0.5)
    try:
        assert wait_for(lambda: any("ErrorRateP0" in b for b in bodies(env["pager"]))), bodies(env["pager"])
        assert wait_for(lambda: any("ErrorRateP0" in b and "P0" in b for b in bodies(env["slack"])))
    finally:
        env["target"].clear_faults()


def test_broken_rule_file_refused_before_install(phase2_env: dict[str, Any], approvals: ApprovalClient,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = phase2_env
    broken = tmp_path / "team_rules.yml"
    broken.write_text("groups:\n- name: team\n  rules:\n  - alert: Broken\n"
                      "    expr: sum(rate(http_requests_total[5m]\n")
    use_monitoring(monkeypatch, env["monitoring"], extra_rules=[str(broken)])
    before = config_files(env)
    dag_run, _ = run_dag(build_variant("accubooks", "phase2_monitoring"))
    assert dag_run.state == "failed"
    assert states(dag_run)["pre_checks.monitoring_config_valid"] == "failed"
    assert "approve" not in states(dag_run) or states(dag_run)["approve"] != "success"
    summary = check_rows(env["ledger"], "monitoring_config_valid")[-1].payload["summary"]
    assert "promtool check rules" in summary and "parse error" in summary.lower(), summary
    assert config_files(env) == before
    assert rules_loaded(env["monitoring"].prometheus.url) == []


def test_failing_verify_restores_previous_config(phase2_env: dict[str, Any], approvals: ApprovalClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    env = phase2_env
    use_monitoring(monkeypatch, env["monitoring"], verify_timeout_seconds=8)
    # A replica that never answers: its scrape target stays down, so verify must fail.
    connection = json.loads(env["target"].connection_json())
    connection["extra"]["replicas"].append("http://127.0.0.1:9")
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", json.dumps(connection))
    before = config_files(env)
    assert wait_for(lambda: previous_targets_up(env["monitoring"].prometheus.url), timeout=30)
    dag_run, _ = run_dag(build_variant("accubooks", "phase2_monitoring"), client=approvals, answers=APPROVE)
    assert dag_run.state == "failed", states(dag_run)
    assert states(dag_run)["verify.monitoring_live"] == "failed"
    summary = check_rows(env["ledger"], "monitoring_live")[-1].payload["summary"]
    assert "not up" in summary, summary
    events = [r.event for r in Ledger(env["ledger"]).rows(phase_id="phase2_monitoring")]
    assert "change_applied" in events and "rollback_completed" in events
    assert config_files(env) == before
    assert rules_loaded(env["monitoring"].prometheus.url) == []
    assert Ledger(env["ledger"]).verify() == []


PAGER_TOKEN = "FAKE-PAGER-TOKEN-5c1e0b"
OLD_SLACK_URL = "https://hooks.slack.com/services/tfake/bfake/fake-slack-secret"


def test_snapshot_of_a_config_with_secrets_is_masked_and_restored_exactly(
        phase2_env: dict[str, Any], approvals: ApprovalClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The config Phase 2 replaces carries the pager's token and an inline Slack URL: the ledger and the
    evidence never show them, and the rollback still puts the exact text back."""
    env, stack = phase2_env, phase2_env["monitoring"]
    pager_url = f"{env['pager'].url}/{PAGER_TOKEN}"
    use_monitoring(monkeypatch, stack, verify_timeout_seconds=8)
    alertmanager = stack.alertmanager_connection()
    alertmanager["extra"]["pager_url"] = pager_url
    monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER", json.dumps(alertmanager))
    previous = ("route:\n  receiver: team\nreceivers:\n- name: team\n  webhook_configs:\n"
                f"  - url: {pager_url}\n  slack_configs:\n  - api_url: {OLD_SLACK_URL}\n    channel: '#team'\n")
    (stack.alertmanager.config_dir / "alertmanager.yml").write_text(previous)
    assert requests.post(f"{stack.alertmanager.url}/-/reload", timeout=30).status_code == 200
    connection = json.loads(env["target"].connection_json())
    connection["extra"]["replicas"].append("http://127.0.0.1:9")  # verify fails, so the rollback runs
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", json.dumps(connection))
    before = config_files(env)

    dag_run, _ = run_dag(build_variant("accubooks", "phase2_monitoring"), client=approvals, answers=APPROVE)
    assert dag_run.state == "failed", states(dag_run)
    events = [r.event for r in Ledger(env["ledger"]).rows(phase_id="phase2_monitoring")]
    assert "snapshot_taken" in events and "change_applied" in events and "rollback_completed" in events

    # The rollback put back the exact text, token included, and left no private copy behind.
    assert config_files(env) == before
    assert PAGER_TOKEN in (stack.alertmanager.config_dir / "alertmanager.yml").read_text()

    secrets = [PAGER_TOKEN, OLD_SLACK_URL, "fake-slack-secret", env["slack"].url]
    evidence = {str(p): p.read_text(errors="replace") for p in env["evidence"].rglob("*") if p.is_file()}
    assert any(p.endswith("pre_change_monitoring_config.json") for p in evidence)
    assert any(p.endswith("config_diff.txt") for p in evidence)
    leaked = [(path, s) for path, text in evidence.items() for s in secrets if s in text]
    assert leaked == [], leaked
    with psycopg.connect(env["ledger"]) as conn:  # every column of every row, as stored
        rows = [str(row[0]) for row in conn.execute("SELECT launch_ledger::text FROM launch_ledger ORDER BY seq")]
    assert any("snapshot_taken" in row for row in rows)
    leaked_rows = [(row[:160], s) for row in rows for s in secrets if s in row]
    assert leaked_rows == [], leaked_rows
    snapshot = json.loads(next(t for p, t in evidence.items() if p.endswith("pre_change_monitoring_config.json")))
    recorded = next(text for path, text in snapshot["files"].items() if path.endswith("alertmanager.yml"))
    assert f"{env['pager'].url.rsplit('/', 2)[0]}/***" in recorded  # the endpoint is still on record
