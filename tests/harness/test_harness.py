"""The harness itself: approvals answered over REST as named users; Slack outages never fail a task."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from include.devservices.slack_receiver import SlackReceiver
from include.launch.evidence.ledger import Ledger
from tests.harness.airflow import Answer, ApprovalClient, run_dag

HARNESS_DAGS = Path(__file__).resolve().parents[1] / "harness_dags"


@pytest.fixture(scope="module")
def harness_dag(airflow_db: Path) -> object:
    bag = DagBag(dag_folder=str(HARNESS_DAGS))
    assert bag.import_errors == {}
    return bag.get_dag("harness_notify_and_approve")


def _ti_states(dag_run: object) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}  # type: ignore[attr-defined]


def test_unassigned_user_is_refused_and_assigned_user_approves(
    harness_dag: object, approvals: ApprovalClient, ledger_db: str, slack: SlackReceiver
) -> None:
    dag_run, results = run_dag(harness_dag, client=approvals, answers=[
        Answer("approve", user="outsider"), Answer("approve", user="exec_approver"),
    ])
    assert [r.status_code for r in results] == [403, 200]
    assert results[1].body["responded_by"]["name"] == "exec_approver"  # FAB: "id" is the numeric user id
    assert _ti_states(dag_run)["after"] == "success"
    assert dag_run.state == "success"
    assert slack.messages[0]["body"]["blocks"][0]["type"] == "header"


@pytest.mark.parametrize("mode", ["error", "hang"], ids=["slack-500", "slack-hangs"])
def test_slack_outage_never_fails_the_task(
    harness_dag: object, approvals: ApprovalClient, ledger_db: str, slack: SlackReceiver, mode: str
) -> None:
    slack.mode = mode
    dag_run, _ = run_dag(harness_dag, client=approvals, answers=[Answer("approve", user="exec_approver")])
    assert _ti_states(dag_run)["announce"] == "success"
    assert dag_run.state == "success"
    assert slack.attempts == 3  # one try and two bounded retries
    failures = Ledger(ledger_db).rows(event="notification_failed")
    assert len(failures) == 1
    assert failures[0].payload["attempts"] == 3
    assert "127.0.0.1" not in failures[0].body or "services/local" not in failures[0].body
