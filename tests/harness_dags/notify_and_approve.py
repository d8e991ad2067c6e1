"""Airflow DAG used by the harness tests: one Slack notification, one approval, one step after it."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import dag, task

from include.launch.evidence.ledger import Ledger
from include.launch.evidence.notify import Message, SlackNotifier


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["test"])
def harness_notify_and_approve() -> None:
    @task(retries=0)
    def announce(**context: object) -> bool:
        notifier = SlackNotifier("slack_launch", retries=2, backoff_seconds=0.1, timeout_seconds=1,
                                 ledger=Ledger.from_connection("launch_db"), run_id=str(context["run_id"]))
        return notifier.send(Message(launch="harness", phase="notify", outcome="completed", reason="hello"))

    approve = ApprovalOperator(task_id="approve", subject="Go?", body="Approve the harness step.",
                               assigned_users=[{"id": "exec_approver", "name": "Exec Approver"}])

    @task
    def after(**context: object) -> str:
        return "ran"

    announce() >> approve >> after()


harness_notify_and_approve()
