"""Each role trying each action, over Airflow's own API app and the FAB auth manager with the
launch roles (include.access): trigger a DAG run, answer an approval it is assigned and one it is
not, read the Launch board, download an evidence export (tenant data), trigger a manual rollback.

One real run of ``harness_access_approvals`` (five approvals waiting at once) under ``dag.test()``;
while it waits, every user of the table tries every action as itself, through the REST API with
its own JWT; the assertions then read the table, one test per cell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

from include.access.auth_manager import LaunchFabAuthManager
from include.access.roles import (
    APPROVER,
    DEMO_USERS,
    EVIDENCE_RESOURCE,
    INCIDENT_STEP_RESOURCE,
    MANUAL_ROLLBACK_RESOURCE,
    OPERATOR,
    VIEWER,
    role_permissions,
)
from include.devservices.airflow_local import PROJECT_ROOT, passwords_file
from include.devservices.postgres import PostgresServer, airflow_connection_json
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.store import EvidenceStore
from tests.harness.airflow import HARNESS_DAGS, ApprovalClient

DAG_ID, ROLLBACK_DAG_ID = "harness_access_approvals", "harness_access_manual_rollback"
STEP_DAG_ID = "harness_access_incident_step"
EXPORT = "pre_launch/tenant_export.csv"
SECRET_EMAIL = "alice@tenant-0042.example"
ACTIONS = ("trigger", "answer_assigned", "answer_unassigned", "read_board", "download_export",
           "trigger_manual_rollback", "trigger_incident_step")

# What each role may do: 200 allowed, 403 refused by the auth manager.
EXPECTED: dict[str, dict[str, int]] = {
    "outsider":      {"trigger": 403, "answer_assigned": 403, "answer_unassigned": 403, "read_board": 200,
                      "download_export": 403, "trigger_manual_rollback": 403,
                      "trigger_incident_step": 403},
    "operator":      {"trigger": 200, "answer_assigned": 403, "answer_unassigned": 403, "read_board": 200,
                      "download_export": 200, "trigger_manual_rollback": 200,
                      "trigger_incident_step": 200},
    "exec_approver": {"trigger": 403, "answer_assigned": 200, "answer_unassigned": 403, "read_board": 200,
                      "download_export": 200, "trigger_manual_rollback": 200,
                      "trigger_incident_step": 200},
    "admin":         {"trigger": 200, "answer_assigned": 200, "answer_unassigned": 403, "read_board": 200,
                      "download_export": 200, "trigger_manual_rollback": 200,
                      "trigger_incident_step": 200},
}
ROLE_OF = {"outsider": "Viewer", "operator": "Operator", "exec_approver": "Approver", "admin": "Admin"}


def _hitl(dag_id: str, run_id: str, task_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"


class RoleTable:
    """Runs the table once the five approvals wait; records status codes; then lets the run end."""

    def __init__(self, client: ApprovalClient) -> None:
        self.client = client
        self.codes: dict[tuple[str, str], int] = {}
        self.bodies: dict[tuple[str, str], str] = {}
        self.responded_by: dict[str, Any] = {}
        self.board_html: dict[str, str] = {}
        self.error = ""
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _call(self, user: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.client.request(method, path, headers=self.client.headers(user), **kwargs)

    def _record(self, user: str, action: str, response: Any) -> Any:
        self.codes[(user, action)] = response.status_code
        self.bodies[(user, action)] = response.text
        return response

    def _wait_for_approvals(self) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pending = self.client.pending(DAG_ID)
            if len(pending) == 5:
                return str(pending[0]["task_instance"]["dag_run_id"])
            time.sleep(0.3)
        raise TimeoutError("the five approvals never waited together")

    def _run(self) -> None:
        created: list[tuple[str, str]] = []
        run_id = ""
        try:
            run_id = self._wait_for_approvals()
            for user in EXPECTED:
                for dag_id, action in ((DAG_ID, "trigger"), (ROLLBACK_DAG_ID, "trigger_manual_rollback"),
                                       (STEP_DAG_ID, "trigger_incident_step")):
                    response = self._record(user, action, self._call(user, "POST", f"/api/v2/dags/{dag_id}/dagRuns",
                                                                     json={"logical_date": None}))
                    if response.status_code == 200:
                        created.append((dag_id, str(response.json()["dag_run_id"])))
                answer = {"chosen_options": ["Approve"], "params_input": {}}
                assigned = self._record(user, "answer_assigned",
                                        self._call(user, "PATCH", _hitl(DAG_ID, run_id, f"for_{user}"), json=answer))
                if assigned.status_code == 200:
                    self.responded_by[user] = assigned.json()["responded_by"]
                self._record(user, "answer_unassigned",
                             self._call(user, "PATCH", _hitl(DAG_ID, run_id, "for_cto"), json=answer))
                page = self._call(user, "GET", "/launch/board/accubooks")
                self.board_html[user] = page.text
                board = self._call(user, "GET", "/launch/api/launches/accubooks")
                self._record(user, "read_board", board if board.status_code != 200 else page)  # JSON and page
                self._record(user, "download_export", self._call(user, "GET", f"/launch/evidence/accubooks/{EXPORT}"))
        except Exception as exc:  # noqa: BLE001 - reported by the tests below
            self.error = repr(exc)
        finally:
            self._let_the_run_end(run_id, created)

    def _let_the_run_end(self, run_id: str, created: list[tuple[str, str]]) -> None:
        for dag_id, other in created:
            self._call("admin", "DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{other}")
        if not run_id:
            return
        answer = {"chosen_options": ["Approve"], "params_input": {}}
        for item in self.client.pending(DAG_ID):
            task_id = item["task_instance"]["task_id"]
            self._call("cto" if task_id == "for_cto" else "cpo", "PATCH", _hitl(DAG_ID, run_id, task_id), json=answer)


@pytest.fixture(scope="module")
def table(airflow_db: Path, approvals: ApprovalClient, pg_server: PostgresServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleTable]:
    ledger_url = pg_server.create_database("access")
    Ledger(ledger_url).ensure_schema()
    evidence = tmp_path_factory.mktemp("access") / "evidence"
    EvidenceStore(str(evidence)).write_text(EXPORT, f"tenant_id,user_email\n0042,{SECRET_EMAIL}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_LAUNCH_DB", airflow_connection_json(ledger_url))
        patch.setenv("LAUNCH_EVIDENCE_BASE", str(evidence))
        patch.delenv("LAUNCH_BOARD_PLANS", raising=False)
        bag = DagBag(dag_folder=str(HARNESS_DAGS / "access_approvals.py"))
        assert bag.import_errors == {}
        roles = RoleTable(approvals)
        roles.thread.start()
        dag_run = bag.get_dag(DAG_ID).test()
        roles.thread.join(timeout=30)
        assert dag_run.state == "success", roles.error
        yield roles
    pg_server.drop_database(ledger_url)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("user", list(EXPECTED), ids=lambda user: f"{ROLE_OF[user]}:{user}")
def test_role_action(table: RoleTable, user: str, action: str) -> None:
    assert not table.error, table.error
    assert table.codes[(user, action)] == EXPECTED[user][action], table.bodies[(user, action)][:300]


def test_a_refused_download_carries_no_tenant_data(table: RoleTable) -> None:
    assert SECRET_EMAIL not in table.bodies[("outsider", "download_export")]
    assert SECRET_EMAIL in table.bodies[("operator", "download_export")]


def test_the_viewer_board_lists_evidence_without_links(table: RoleTable) -> None:
    viewer, operator = table.board_html["outsider"], table.board_html["operator"]
    assert 'id="evidence-restricted"' in viewer and "tenant_export.csv" in viewer
    assert "/launch/evidence/" not in viewer
    assert f"/launch/evidence/accubooks/{EXPORT}" in operator and 'id="evidence-restricted"' not in operator


def test_an_answer_records_the_fab_user(table: RoleTable) -> None:
    """Airflow records FAB's numeric id and the user name: the launch reads the actor from ``name``."""
    by = table.responded_by["exec_approver"]
    assert by["name"] == "exec_approver" and by["id"].isdigit()


def test_approvers_are_refused_by_assignment_not_by_role(table: RoleTable) -> None:
    assert "not a respondent" in table.bodies[("exec_approver", "answer_unassigned")]
    assert "not a respondent" not in table.bodies[("operator", "answer_assigned")]  # its role stops it first


# --- the rule and the roles themselves ---------------------------------------------------------

class _User:
    def __init__(self, username: str | None) -> None:
        self.username = username


@pytest.mark.parametrize(("username", "assigned", "allowed"), [
    ("exec_approver", {"exec_approver", "eng_lead"}, True),
    ("eng_lead", {"exec_approver"}, False),
    ("Exec_Approver", {"exec_approver"}, False),   # exactly the plan's name
    (None, {"exec_approver"}, False),               # anonymous (public role): no name, no answer
    ("", {""}, False),
    ("3", {"exec_approver"}, False),                # a FAB id is not a plan name
], ids=["assigned", "not-assigned", "case", "anonymous", "empty", "id"])
def test_an_approval_is_answered_by_the_name_the_plan_gives(username: str | None, assigned: set[str],
                                                            allowed: bool) -> None:
    manager = LaunchFabAuthManager.__new__(LaunchFabAuthManager)  # the rule needs no app
    assert manager.is_authorized_hitl_task(assigned_users=assigned, user=_User(username)) is allowed


def test_the_roles_differ_where_the_table_says() -> None:
    roles = role_permissions()
    evidence = ("can_read", EVIDENCE_RESOURCE)
    assert evidence not in roles[VIEWER] and evidence in roles[OPERATOR] and evidence in roles[APPROVER]
    assert ("can_read", "Task Logs") not in roles[VIEWER] and ("can_read", "XComs") not in roles[VIEWER]
    assert ("can_create", "DAG Runs") in roles[OPERATOR] and ("can_create", "DAG Runs") not in roles[APPROVER]
    assert ("can_create", MANUAL_ROLLBACK_RESOURCE) in roles[APPROVER]
    assert ("can_create", MANUAL_ROLLBACK_RESOURCE) not in roles[VIEWER]
    assert ("can_create", INCIDENT_STEP_RESOURCE) in roles[APPROVER]
    assert ("can_create", INCIDENT_STEP_RESOURCE) not in roles[VIEWER]
    assert ("can_edit", "HITL Detail") in roles[APPROVER] and ("can_edit", "HITL Detail") not in roles[OPERATOR]
    assert all(("can_read", "Plugins") in perms for perms in roles.values())  # the board, for everyone


def _role_snapshot() -> dict[str, set[tuple[str, str]]]:
    """The launch roles' permissions, without the per-DAG ones a DAG's access_control grants."""
    from airflow.providers.fab.auth_manager.models import Role
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from include.access.sync import dag_owned

    with create_session() as session:
        return {role.name: {(p.action.name, p.resource.name) for p in role.permissions
                            if not dag_owned(p.resource.name)}
                for role in session.scalars(select(Role).where(Role.name.in_(role_permissions()))).unique()}


def _user_roles() -> dict[str, list[str]]:
    from airflow.providers.fab.auth_manager.models import User
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return {user.username: [role.name for role in user.roles] for user in session.scalars(select(User)).unique()}


def test_role_and_user_setup_is_idempotent(airflow_db: Path) -> None:
    before, users_before = _role_snapshot(), _user_roles()
    for role, wanted in role_permissions().items():
        assert before[role] == wanted, role
    assert users_before == {user: [role] for user, role in DEMO_USERS.items()}
    password_file = passwords_file(Path(os.environ["AIRFLOW_HOME"]))
    passwords = password_file.read_text()
    assert password_file.stat().st_mode & 0o777 == 0o600

    again = subprocess.run([sys.executable, "-m", "include.access.sync", "--demo-users", str(password_file)],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "WARNING" not in again.stdout  # every approver the shipped plans name has an account
    for secret in json.loads(passwords).values():
        assert secret not in again.stdout + again.stderr
    assert _role_snapshot() == before and _user_roles() == users_before
    assert password_file.read_text() == passwords


def test_the_approver_run_dags_are_named_for_the_approvers_rule(airflow_db: Path) -> None:
    """The shipped manual-rollback and incident-step DAGs carry the suffixes the auth manager's
    approver rule looks for; no phase DAG does."""
    from include.access.auth_manager import approver_run_resource

    for file, resources in (("accubooks_manual_rollback.py", {MANUAL_ROLLBACK_RESOURCE}),
                            ("accubooks_incidents.py", {INCIDENT_STEP_RESOURCE, ""})):
        bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / file))
        assert bag.import_errors == {}
        assert {approver_run_resource(dag_id) for dag_id in bag.dag_ids} == resources  # escalation: no one's
    assert approver_run_resource("accubooks_phase1_pool_scaling") == "" and approver_run_resource(None) == ""
