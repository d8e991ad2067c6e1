"""Outages of the pipeline's own services: the ledger database, Slack, the metric source.

No event is silently dropped: a ledger append retries, then fails the task; a Slack outage never
fails a launch but always leaves a ``notification_failed`` row; unreachable metrics are error
samples that fail the soak safe.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException
from psycopg.conninfo import conninfo_to_dict

import include.launch.evidence.ledger as ledger_module
from include.devservices.postgres import PostgresServer
from include.devservices.slack_receiver import SlackReceiver
from include.launch.core.errors import LedgerError
from include.launch.engine.soak import SoakStore, SustainedMonitorOperator
from include.launch.evidence.ledger import Event, Ledger
from include.launch.evidence.notify import Message, SlackNotifier
from include.launch.plan import load_plan
from include.launch.spec.phase import build_phase_spec


def _allow_connections(server: PostgresServer, url: str, allow: bool) -> None:
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')


def test_ledger_briefly_unavailable_append_retries_and_lands(pg_server: PostgresServer, ledger_db: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger(ledger_db, attempts=4, backoff_seconds=0.01)
    ledger.append(Event(launch_id="accubooks", event="phase_started"))
    waits: list[float] = []

    def back_up_after_first_wait(seconds: float) -> None:  # the outage ends while the append backs off
        waits.append(seconds)
        _allow_connections(pg_server, ledger_db, True)

    monkeypatch.setattr(ledger_module, "time", SimpleNamespace(sleep=back_up_after_first_wait))
    _allow_connections(pg_server, ledger_db, False)
    try:
        row = ledger.append(Event(launch_id="accubooks", event="change_applied", outcome="successful"))
    finally:
        _allow_connections(pg_server, ledger_db, True)
    assert len(waits) == 1  # failed once, retried once
    assert row.seq == 2
    assert [r.event for r in ledger.rows()] == ["phase_started", "change_applied"]
    assert ledger.verify() == []


def test_ledger_down_for_longer_fails_the_step_not_silently(pg_server: PostgresServer, ledger_db: str,
                                                           evidence_base: object) -> None:
    """A step that cannot record fails (Airflow retries it); the event is never dropped."""
    from include.launch.engine import steps

    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    context = {"run_id": "manual__ledger_down", "ti": SimpleNamespace(task_id="pre_checks.freeze_window",
                                                                      try_number=1, max_tries=1),
               "dag_run": SimpleNamespace(run_id="manual__ledger_down", triggering_user_name="operator"),
               "params": {}}
    Ledger(ledger_db).ensure_schema()
    _allow_connections(pg_server, ledger_db, False)
    try:
        original = Ledger.__init__

        def fast(self: Ledger, dsn: str, *, attempts: int = 2, backoff_seconds: float = 0.01) -> None:
            original(self, dsn, attempts=attempts, backoff_seconds=backoff_seconds)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Ledger, "__init__", fast)
            patch.setattr(Ledger, "ensure_schema", lambda self: None)
            with pytest.raises(LedgerError, match="event 'check_result' not recorded"):
                steps.run_builtin_check(spec, "freeze_window", context)
    finally:
        _allow_connections(pg_server, ledger_db, True)
    assert Ledger(ledger_db).rows() == []  # nothing half-written; the retried task records it


KINDS = ["completed", "approved", "rejected", "failed", "rolled_back", "incident"]


CASES = [(kind, "error") for kind in KINDS] + [("incident", "hang"), ("rolled_back", "refused")]


@pytest.mark.parametrize(("kind", "mode"), CASES, ids=[f"{k}-{m}" for k, m in CASES])
def test_slack_down_for_every_kind_of_notification(ledger_db: str, kind: str, mode: str) -> None:
    receiver = SlackReceiver(hang_seconds=3).start()
    url = receiver.url
    if mode == "refused":
        receiver.stop()
    else:
        receiver.mode = mode
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AIRFLOW_CONN_SLACK_RELIABILITY", json.dumps({"conn_type": "slackwebhook", "password": url}))
            notifier = SlackNotifier("slack_reliability", retries=1, backoff_seconds=0.01, timeout_seconds=1,
                                     ledger=Ledger(ledger_db), run_id="manual__slack")
            sent = notifier.send(Message("accubooks", "phase1_pool_scaling", kind, "reason", severity="P0"))
    finally:
        if mode != "refused":
            receiver.stop()
    assert sent is False  # the caller carries on
    failures = Ledger(ledger_db).rows(event="notification_failed")
    assert len(failures) == 1
    assert failures[0].payload["outcome"] == kind and failures[0].payload["attempts"] == 2
    assert "services/local" not in failures[0].body  # the webhook URL's secret path never lands in the ledger


def test_slack_failure_with_ledger_down_fails_loudly(pg_server: PostgresServer, ledger_db: str) -> None:
    notifier = SlackNotifier("slack_missing_connection_xyz", retries=0, backoff_seconds=0,
                             ledger=Ledger(ledger_db, attempts=2, backoff_seconds=0.01))
    _allow_connections(pg_server, ledger_db, False)
    try:
        with pytest.raises(LedgerError, match="notification_failed"):
            notifier.send(Message("accubooks", "phase1_pool_scaling", "failed"))
    finally:
        _allow_connections(pg_server, ledger_db, True)


def _soak_context(run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "ti": SimpleNamespace(task_id="sustained_monitor"),
            "dag_run": SimpleNamespace(run_id=run_id, triggering_user_name="operator"),
            "params": {"monitor_minutes": 10, "sample_interval_seconds": 1, "pool_max": 50, "pool_min": 10}}


def test_metrics_unreachable_fails_the_soak_after_the_error_limit(ledger_db: str, evidence_base: object,
                                                                 slack: SlackReceiver,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Phase 1 scrapes the replicas (no Prometheus yet): an unreachable /metrics is an error sample,
    never a pass; after consecutive_error_limit (3) in a row the soak fails (-> rollback)."""
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", json.dumps({
        "conn_type": "http", "password": "x", "extra": {"replicas": ["http://127.0.0.1:9"], "timeout": 1}}))
    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    run_id = "manual__metrics_down"
    for _ in range(2):
        with pytest.raises(AirflowRescheduleException):
            SustainedMonitorOperator(task_id="sustained_monitor", spec=spec).execute(_soak_context(run_id))
    with pytest.raises(AirflowFailException, match="3 samples in a row could not be taken"):
        SustainedMonitorOperator(task_id="sustained_monitor", spec=spec).execute(_soak_context(run_id))
    samples = SoakStore(ledger_db, "accubooks", "phase1_pool_scaling", run_id).samples()
    assert len(samples) == 3 and all("127.0.0.1:9" in s.error for s in samples)
    triggered = Ledger(ledger_db).rows(event="rollback_triggered")
    assert triggered[0].payload["status"] == "error" and triggered[0].outcome == "failed"


def _check_context(task_id: str, try_number: int) -> dict[str, Any]:
    run_id = "manual__precheck"
    return {"run_id": run_id, "ti": SimpleNamespace(task_id=task_id, try_number=try_number, max_tries=1),
            "dag_run": SimpleNamespace(run_id=run_id, triggering_user_name="operator"), "params": {}}


def test_alertmanager_down_at_pre_check_is_an_error_never_a_pass(ledger_db: str, evidence_base: object,
                                                                slack: SlackReceiver,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Unreachable Alertmanager: retried (AirflowException), then the check fails the run before approval."""
    from airflow.sdk.exceptions import AirflowException

    from include.launch.engine import steps

    monkeypatch.setenv("AIRFLOW_CONN_ALERTMANAGER", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9"}))
    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    check = next(c for c in spec.pre_checks if c.kind == "no_firing_alerts")
    with pytest.raises(AirflowException) as first:
        steps.run_check(spec, check, _check_context(f"pre_checks.{check.name}", 1))
    assert not isinstance(first.value, AirflowFailException)  # a source that cannot be reached is retried
    with pytest.raises(AirflowFailException, match="could not measure"):
        steps.run_check(spec, check, _check_context(f"pre_checks.{check.name}", 2))
    outcomes = [row.outcome for row in Ledger(ledger_db).rows(event="check_result")]
    assert outcomes == ["error", "error"]


@pytest.mark.parametrize(("plan", "phase_id", "outcome"), [
    ("accubooks", "phase3_beta", "failed"),            # monitoring exists by Phase 3: no Alertmanager is a failure
    ("reconciliation", "canary_launch", "failed"),     # the canary never proceeds blind
    ("accubooks", "phase1_pool_scaling", "not_applicable"),  # before Phase 2, as its plan entry says
])
def test_no_alertmanager_fails_the_firing_alerts_gate_unless_the_plan_says_not_applicable(
        plan: str, phase_id: str, outcome: str, ledger_db: str, evidence_base: object, slack: SlackReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from include.launch.engine import steps

    monkeypatch.delenv("AIRFLOW_CONN_ALERTMANAGER", raising=False)
    spec = build_phase_spec(load_plan(plan), phase_id, plan)
    check = next(c for c in spec.pre_checks if c.kind == "no_firing_alerts")
    context = _check_context(f"pre_checks.{check.name}", 1)
    if outcome == "failed":
        with pytest.raises(AirflowFailException, match="cannot measure: no Alertmanager connection 'alertmanager'"):
            steps.run_check(spec, check, context)
    else:
        assert steps.run_check(spec, check, context)["outcome"] == "not_applicable"
    row = Ledger(ledger_db).rows(event="check_result")[0]
    assert row.outcome == outcome and row.payload["measured"]["when_unavailable"] == check.when_unavailable
    if outcome == "not_applicable":
        assert row.payload["summary"].startswith("not applicable by the plan (when_unavailable)")


def test_phase_triggered_before_its_predecessor_completed_is_refused(ledger_db: str, evidence_base: object,
                                                                     slack: SlackReceiver) -> None:
    from include.launch.engine import steps

    spec = build_phase_spec(load_plan("accubooks"), "phase2_monitoring", "accubooks")
    with pytest.raises(AirflowFailException, match="phase 'phase1_pool_scaling' has not completed"):
        steps.run_builtin_check(spec, "phase_order", _check_context("pre_checks.phase_order", 1))
    row = Ledger(ledger_db).rows(event="check_result")[0]
    assert row.outcome == "failed" and row.phase_id == "phase2_monitoring"


@pytest.mark.parametrize("undoing", ["rollback_completed", "beta_paused", "rollback_failed"])
def test_a_predecessor_undone_after_it_completed_no_longer_opens_the_next_phase(
        undoing: str, ledger_db: str, evidence_base: object, slack: SlackReceiver) -> None:
    """The latest outcome counts: a completion followed by a rollback (or a paused beta) is undone."""
    from include.launch.engine import steps

    ledger = Ledger(ledger_db)
    ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", event="phase_completed",
                        outcome="successful"))
    spec = build_phase_spec(load_plan("accubooks"), "phase2_monitoring", "accubooks")
    assert steps.run_builtin_check(spec, "phase_order", _check_context("pre_checks.phase_order", 1))["outcome"] == \
        "successful"
    ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", event=undoing, outcome="successful",
                        payload={"reason": "error rate > 1 % for 5 min"}))
    with pytest.raises(AirflowFailException, match=f"phase 'phase1_pool_scaling' completed \\(seq 1\\) but was undone "
                                                   f"after: {undoing} at seq \\d+ \\(error rate > 1 % for 5 min\\)"):
        steps.run_builtin_check(spec, "phase_order", _check_context("pre_checks.phase_order", 1))
    ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", event="phase_completed",
                        outcome="successful"))  # completed again: the next phase may start
    assert steps.run_builtin_check(spec, "phase_order", _check_context("pre_checks.phase_order", 1))["outcome"] == \
        "successful"
