"""The watch after a rollback: which verdict ends it, and the page a breach sends."""

from __future__ import annotations

import json

import pytest

from include.devservices.slack_receiver import SlackReceiver
from include.launch.core.criteria import RollbackTrigger
from include.launch.core.vocabulary import Comparison, Metric
from include.launch.engine.rollback_watch import judge_watch
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.pager import page
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plan.loader import watched_triggers
from include.launch.plan.models import Soak
from include.launch.plugins.metrics.sample import Sample
from include.launch.spec.phase import build_phase_spec

ERROR_2MIN = RollbackTrigger(metric=Metric.ERROR_RATE_PERCENT, op=Comparison.GT, threshold=1, sustained_minutes=2)
ANY_P0 = RollbackTrigger(metric=Metric.ACTIVE_INCIDENTS_COUNT, op=Comparison.GT, threshold=0)
LIMITS = Soak(window_minutes=15, interval_seconds=60, inconclusive_limit=2, consecutive_error_limit=2)


def series(*rates: float | None, error: str = "") -> list[Sample]:
    return [Sample(i * 60.0, "target", {"error_rate_percent": rate}, error=error) for i, rate in enumerate(rates)]


@pytest.mark.parametrize(("rates", "status"), [
    ([0.0, 0.2, 0.1], None),                 # healthy: keep watching until the window ends
    ([2.0, 2.0], None),                      # one minute above 1 %: not yet sustained
    ([2.0, 2.0, 2.0], "breach"),             # two minutes above 1 %: the rollback did not fix it
    ([0.0, None, None], "unmeasured"),       # no data twice in a row: nobody may say it held
], ids=["healthy", "not-yet-sustained", "sustained-breach", "blind"])
def test_the_watch_ends_on_a_breach_or_when_it_cannot_see(rates: list[float | None], status: str | None) -> None:
    verdict = judge_watch(series(*rates), [ERROR_2MIN], LIMITS)
    assert (verdict.status if verdict else None) == status
    if status == "breach":
        assert "error_rate_percent > 1 for 2 min fired (measured 2)" in verdict.reason  # type: ignore[union-attr]


def test_samples_that_cannot_be_taken_end_the_watch_unmeasured() -> None:
    verdict = judge_watch(series(None, None, error="ConnectError: refused"), [ERROR_2MIN], LIMITS)
    assert verdict is not None and verdict.status == "unmeasured"
    assert "2 samples in a row could not be taken: ConnectError: refused" in verdict.reason


def test_the_open_incident_that_caused_the_rollback_does_not_judge_its_watch() -> None:
    assert watched_triggers([ERROR_2MIN, ANY_P0]) == [ERROR_2MIN]


@pytest.fixture()
def phase_run(ledger_db: str, evidence_base: object, slack: SlackReceiver) -> PhaseRun:
    plan = load_plan("accubooks")
    spec = build_phase_spec(plan, plan.phases[0].id, "accubooks")
    return PhaseRun(spec=spec, run_id="watch_test", task_id="rollback")


def test_a_page_reaches_the_pager_with_its_routing_key_and_is_recorded(phase_run: PhaseRun,
                                                                       pager: SlackReceiver) -> None:
    assert page(phase_run, severity="P0", summary="error rate 50 % after the rollback", dedup_key="k1")
    body = pager.messages[-1]["body"]
    assert body["routing_key"] == "routing-key-1234" and body["event_action"] == "trigger"
    assert body["payload"] == {"summary": "error rate 50 % after the rollback", "severity": "P0",
                               "source": "accubooks/phase1_pool_scaling"}
    paged = Ledger(phase_run.ledger.dsn).rows(event="paged")
    assert len(paged) == 1 and "routing-key-1234" not in json.dumps(paged[0].payload)


def test_a_page_that_cannot_be_delivered_is_recorded_and_said_in_slack(phase_run: PhaseRun, slack: SlackReceiver,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_PAGER", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9/x"}))
    assert not page(phase_run, severity="P0", summary="breach after the rollback", dedup_key="k2")
    failed = Ledger(phase_run.ledger.dsn).rows(event="page_failed")
    assert len(failed) == 1 and "ConnectionError" in failed[0].payload["error"]
    assert any("PAGE NOT DELIVERED" in text and "breach after the rollback" in text for text in slack.texts())


@pytest.mark.parametrize(("watch", "within", "said"), [
    (("rollback_watch_completed", "successful", {"samples": 15}), True,
     "rolled back: error_rate_percent > 1; took 0.5 min (target 10); watched 15 samples after it: held"),
    (("rollback_watch_breached", "failed", {"summary": "error rate 4 %"}), True,
     "rolled back: error_rate_percent > 1; took 0.5 min (target 10); BREACH IN THE WATCH AFTER IT (P0): "
     "error rate 4 %"),
    (("rollback_watch_skipped", "not_applicable", {}), False,
     "rolled back: error_rate_percent > 1; took 0.5 min (target 10, OVER: P1); NOT WATCHED after it (the form asked "
     "for 0 min: weakened run)"),
    (None, True, "rolled back: error_rate_percent > 1; took 0.5 min (target 10); watch after it still running or "
                 "never started"),
], ids=["held", "breached", "skipped-and-late", "no-watch-yet"])
def test_the_status_table_says_how_the_rollback_went_and_what_the_watch_saw(
        fresh_db: str, watch: tuple[str, str, dict[str, object]] | None, within: bool, said: str) -> None:
    """Nothing reads "rolled back" alone: the duration against the plan's target and the watch's
    verdict are on the same line, so a watch that never ran is never mistaken for one that held."""
    from include.launch.evidence.ledger import Event
    from include.launch.evidence.status import phase_statuses

    ledger = Ledger(fresh_db)
    ledger.ensure_schema()
    rows = [("phase_started", "", {}),
            ("rollback_completed", "successful", {"reason": "error_rate_percent > 1", "duration_minutes": 0.5,
                                                  "target_minutes": 10, "within_target": within})]
    for event, outcome, payload in rows + ([watch] if watch else []):
        ledger.append(Event(launch_id="accubooks", phase_id="phase1_pool_scaling", run_id="r1", task_id="t",
                            event=event, outcome=outcome, payload=payload))
    status = phase_statuses(load_plan("accubooks"), ledger)[0]
    assert (status.status, status.outcome) == ("ROLLED BACK", said)
