"""The launch roles as FAB permissions (action, resource), built on Airflow's own role lists.

Built from FAB's ``VIEWER_PERMISSIONS`` / ``USER_PERMISSIONS`` rather than copied, so a resource
a later Airflow adds to its Viewer reaches ours too; the differences are spelled out here:

- everyone signed in reads the Launch board (``can_read`` on ``Plugins``: the board's routes and
  the "Launch" nav entry both ask ``is_authorized_view(PLUGINS)``);
- evidence files (tenant exports with user e-mails, approval documents) need ``can_read`` on the
  custom resource ``Launch Evidence``: Operator, Approver, Admin; never the Viewer;
- the Viewer also loses task logs and XComs, the other places task output (tenant data) lands;
- only the Operator (and Admin) create DAG runs; the Approver edits HITL details, and FAB asks
  ``can_edit`` on ``DAGs`` for any write under a DAG, so an Approver can pause a DAG but neither
  trigger a run nor clear or mark task instances; the one run an Approver may create is a manual
  rollback's (``Launch Manual Rollback``; its plan role check decides who really may) and an
  incident step's (``Launch Incident Step``; the plan decides who may resolve a P0).

Importing this module costs nothing (the plugin and the DAG files use the names); the permission
sets import FAB's security manager, so only ``role_permissions`` does.
"""

from __future__ import annotations

from typing import Final, Literal

VIEWER = "Launch Viewer"
OPERATOR = "Launch Operator"
APPROVER = "Launch Approver"
ADMIN = "Admin"  # FAB's own: every permission, ours included
LAUNCH_ROLES = (VIEWER, OPERATOR, APPROVER)  # the roles this module owns (Admin is FAB's)

# The board's evidence downloads: a custom FAB resource, checked with is_authorized_custom_view.
EVIDENCE_RESOURCE = "Launch Evidence"
EVIDENCE_METHOD: Final[Literal["GET"]] = "GET"  # FAB maps GET to can_read
READ, EDIT, MENU, CREATE = "can_read", "can_edit", "menu_access", "can_create"

# A launch's manual-rollback DAG (``<launch>_manual_rollback``, include.launch.engine.manual_rollback):
# approvers may create its runs, through this custom resource (include.access.auth_manager); the
# DAG itself then refuses everyone but the plan's ``rollback.manual_by_role``.
MANUAL_ROLLBACK_SUFFIX = "_manual_rollback"
MANUAL_ROLLBACK_RESOURCE = "Launch Manual Rollback"
# A launch's incident step DAG (``<launch>_incident_step``, include.launch.engine.incident_dags):
# approvers may create its runs (acknowledge, mitigate, resolve as themselves); the plan's incident
# rule then decides who may resolve a P0.
INCIDENT_STEP_SUFFIX = "_incident_step"
INCIDENT_STEP_RESOURCE = "Launch Incident Step"
# A launch's beta control DAG (``<launch>_beta_control``, include.launch.scorecard.dag): approvers may
# create its runs; the plan's ``pause_roles`` / ``resume_roles`` then decide who may pause or resume.
BETA_CONTROL_SUFFIX = "_beta_control"
BETA_CONTROL_RESOURCE = "Launch Beta Control"
# DAGs whose runs an approver may create, by suffix, and the custom resource that grants it.
APPROVER_RUN_RESOURCES: Final[dict[str, str]] = {MANUAL_ROLLBACK_SUFFIX: MANUAL_ROLLBACK_RESOURCE,
                                                INCIDENT_STEP_SUFFIX: INCIDENT_STEP_RESOURCE,
                                                BETA_CONTROL_SUFFIX: BETA_CONTROL_RESOURCE}

# The people the plans, the demo and the tests name, and their roles. ``dag_test`` is the user
# ``dag.test()`` records as the trigger of its runs (four-eyes tests make it an approver).
DEMO_USERS: dict[str, str] = {
    "operator": OPERATOR,
    "exec_approver": APPROVER, "eng_lead": APPROVER, "cpo": APPROVER, "cto": APPROVER,
    "devops_lead": APPROVER, "security_lead": APPROVER,
    "outsider": VIEWER,
    "admin": ADMIN,
    "dag_test": APPROVER,
}

Permission = tuple[str, str]


def role_permissions() -> dict[str, set[Permission]]:
    """Each launch role's exact permission set (Admin is left to FAB, plus evidence)."""
    from airflow.providers.fab.auth_manager.security_manager.override import (
        FabAirflowSecurityManagerOverride as Fab,
    )
    from airflow.providers.fab.www.security import permissions as p

    board = {(READ, p.RESOURCE_PLUGIN)}
    evidence = {(READ, EVIDENCE_RESOURCE)}
    airflow_viewer = set(Fab.VIEWER_PERMISSIONS)
    tenant_output = {(READ, p.RESOURCE_TASK_LOG), (READ, p.RESOURCE_XCOM)}
    answer = {(EDIT, p.RESOURCE_DAG), (EDIT, p.RESOURCE_HITL_DETAIL), (MENU, p.RESOURCE_HITL_DETAIL),
              (CREATE, MANUAL_ROLLBACK_RESOURCE), (CREATE, INCIDENT_STEP_RESOURCE), (CREATE, BETA_CONTROL_RESOURCE)}
    operate = set(Fab.USER_PERMISSIONS) - {(EDIT, p.RESOURCE_HITL_DETAIL)}
    return {
        VIEWER: (airflow_viewer - tenant_output) | board,
        OPERATOR: airflow_viewer | operate | board | evidence,
        APPROVER: airflow_viewer | answer | board | evidence,
    }
