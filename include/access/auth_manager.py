"""Airflow's FAB auth manager, with approvals matched to the user the plan names.

A plan names its approvers by Airflow user name (``exec_approver``), and the launch's HITL tasks
assign ``{"id": <plan user name>, "name": <display name>}``. FAB's users have numeric ids, and
Airflow's default rule (``user.get_id() in assigned_users``) would compare ``"3"`` with
``"exec_approver"`` and refuse everyone. The other way round, writing FAB's numeric ids into the
assignment when a task runs, is worse: a task cannot read the auth manager's tables, and an id is
a row number that a deleted user leaves behind for the next account to reuse. So the assignee is
resolved when someone answers: the signed-in FAB user's ``username`` (unique in FAB, and what the
plan names) must be one of the assigned ids. It fails closed: a plan name with no FAB user lets
nobody in, a deactivated user is refused before this rule runs (FAB re-reads the account behind a
token, cached at most ``[fab] cache_ttl`` seconds), and an anonymous user has no user name. The
role check runs first and is FAB's own: only roles with ``can_edit`` on ``HITL Detail``
(Approver, Admin) get this far.

The answer Airflow records keeps FAB's shape: ``responded_by = {"id": "<numeric>", "name":
"<username>"}``, so the launch code reads who answered from ``name``.

A second, narrow rule: a run of a launch's manual-rollback DAG (``<launch>_manual_rollback``) or
incident-step DAG (``<launch>_incident_step``) may also be created by a user holding ``can_create``
on ``Launch Manual Rollback`` or ``Launch Incident Step`` respectively (the Approver), with
FAB's usual ``can_edit`` on the DAG; everything else about DAG runs stays FAB's. The plan, not the
role, then decides which approver may roll back (the DAG refuses the others, operators included).
A custom resource rather than DAG ``access_control``: that is deprecated in Airflow 3, and it would
grant nothing to a launch whose DAG the DAG processor has not parsed yet.

The class name keeps "FabAuthManager" in it: Airflow's DAG processor syncs FAB's per-DAG
permissions only when ``[core] auth_manager`` contains that string.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

from include.access.roles import APPROVER_RUN_RESOURCES


def assignee_name(user: Any) -> str:
    """The name an assignment must hold for this user: FAB's ``username``, never an e-mail or id."""
    return str(getattr(user, "username", "") or "")


def approver_run_resource(dag_id: str | None) -> str:
    """The custom resource that lets an approver create runs of this DAG ("" for any other DAG)."""
    return next((resource for suffix, resource in APPROVER_RUN_RESOURCES.items()
                 if dag_id and str(dag_id).endswith(suffix)), "")


class LaunchFabAuthManager(FabAuthManager):
    """FAB, except that an assigned approval is answered by the assignee's user name, and that
    approvers may create manual-rollback and incident-step runs."""

    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        name = assignee_name(user)
        return bool(name) and name in assigned_users

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: DagAccessEntity | None = None,
                          details: DagDetails | None = None) -> bool:
        if super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details):
            return True
        resource = approver_run_resource(details.id if details is not None else None)
        return (method == "POST" and access_entity == DagAccessEntity.RUN and details is not None and bool(resource)
                and self.is_authorized_custom_view(method="POST", resource_name=resource, user=user)
                and super().is_authorized_dag(method="PUT", user=user, details=details))
