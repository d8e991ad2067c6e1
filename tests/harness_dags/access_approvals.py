"""Airflow DAGs for the role tests (tests/plugins/test_access_roles.py).

``harness_access_approvals``: one approval per role's user, all waiting at once, so each user can
try one approval it is assigned and one it is not. ``for_<user>`` is assigned to that user and to
``cpo`` (who answers whatever the table left open); ``for_cto`` is assigned to ``cto`` alone: the
approval nobody else in the table is assigned.

``harness_access_manual_rollback`` and ``harness_access_incident_step``: empty DAGs named like a
launch's manual-rollback and incident-step DAGs, so the table shows that an approver may trigger
those kinds of DAG and no other.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import dag, task

TABLE_USERS = ("operator", "exec_approver", "outsider", "admin")
CLEANUP_USER = "cpo"
UNASSIGNED_TASK, UNASSIGNED_USER = "for_cto", "cto"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["test"])
def harness_access_approvals() -> None:
    for user in TABLE_USERS:
        ApprovalOperator(task_id=f"for_{user}", subject=f"Go? ({user})", body="A role test.",
                         assigned_users=[{"id": user, "name": user}, {"id": CLEANUP_USER, "name": CLEANUP_USER}])
    ApprovalOperator(task_id=UNASSIGNED_TASK, subject="Go? (cto)", body="A role test.",
                     assigned_users=[{"id": UNASSIGNED_USER, "name": UNASSIGNED_USER}])


harness_access_approvals()


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["test"])
def harness_access_manual_rollback() -> None:
    @task
    def nothing() -> None:
        return None

    nothing()


harness_access_manual_rollback()


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False, tags=["test"])
def harness_access_incident_step() -> None:
    @task
    def nothing() -> None:
        return None

    nothing()


harness_access_incident_step()
