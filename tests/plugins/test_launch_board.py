"""The launch board plugin over Airflow's own app (create_app mounts plugin fastapi_apps): nav entry,
sign-in required, JSON shape from a real ledger and evidence tree, evidence served inside the base
only, and pending approvals from a real phase run linked to their Required Actions pages."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from include.launch.evidence.ledger import Event, Ledger
from include.launch.evidence.store import EvidenceStore
from tests.harness.airflow import Answer, ApprovalClient

BOARD = "/launch/api/launches/accubooks"
ROUTES = ["/launch/", "/launch/board/accubooks", "/launch/api/launches", BOARD,
          "/launch/evidence/accubooks/pre_launch/rollback_plan.md"]


@pytest.fixture()
def shipped_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCH_BOARD_PLANS", raising=False)


def get(client: ApprovalClient, path: str, user: str = "operator") -> Any:
    return client.client.get(path, headers=client.headers(user))


def seed_launch(ledger_url: str, base: Path) -> dict[str, Any]:
    """A launch part-way through: Phase 1 complete with evidence, Phase 2 running, two incidents
    (one resolved), three beta days with a trend chart."""
    ledger = Ledger(ledger_url)
    store = EvidenceStore(str(base), "phase1_pool_scaling")
    config = store.write_json("post_change_config.json", {"pool": {"max": 200, "min": 20}})
    EvidenceStore(str(base)).write_text("pre_launch/rollback_plan.md", "# Rollback\n")
    for event, phase, outcome, payload, evidence in [
        ("phase_started", "phase1_pool_scaling", "", {}, []),
        ("phase_completed", "phase1_pool_scaling", "successful", {}, [config]),
        ("phase_started", "phase2_monitoring", "", {}, []),
        ("freeze_override_granted", "phase2_monitoring", "successful", {
            "window": "month_end_close", "window_description": "month_end_close (last 2 and first 3 days)",
            "requested_by": "operator", "justification": "Alert routes must exist before the close",
            "approved_by": ["eng_lead", "exec_approver"], "comments": {}, "granted_at": "2026-12-01T09:00:00+00:00",
            "expires_at": "2026-12-01T17:00:00+00:00"}, []),
        ("incident_opened", "phase2_monitoring", "P1", {"incident_id": "INC-1", "title": "p95 above 1 s"}, []),
        ("incident_opened", "phase2_monitoring", "P2", {"incident_id": "INC-2", "title": "noisy alert"}, []),
        ("incident_resolved", "phase2_monitoring", "P2", {"incident_id": "INC-2"}, []),
    ]:
        run_id = f"run_{phase}"
        ledger.append(Event(launch_id="accubooks", event=event, phase_id=phase, run_id=run_id, outcome=outcome,
                            payload=payload, evidence=evidence))
    beta = EvidenceStore(str(base), "phase3_beta")
    for day, date in enumerate(["2026-11-01", "2026-11-02", "2026-11-03"], start=1):
        beta.write_json(f"daily_metrics_{date}.json", {"date": date, "day": day, "scorecard": "beta_daily_metrics",
                                                        "criteria": [
            {"metric": "trust_forecasts_percent", "description": ">= 70% trust", "value": 60 + day * 5, "op": ">=",
             "threshold": 70, "status": "pass" if 60 + day * 5 >= 70 else "fail"},
            {"metric": "nps_score", "description": "NPS >= 40", "value": 45, "op": ">=", "threshold": 40,
             "status": "pass"}]})
        beta.write_text(f"charts/{date}/nps_score.svg", '<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>')
    return {"config": config}


# --- mounting and access -----------------------------------------------------------------------

def test_launch_entry_in_the_ui_navigation(approvals: ApprovalClient) -> None:
    plugins = get(approvals, "/api/v2/plugins").json()["plugins"]
    board = next(p for p in plugins if p["name"] == "launch_board")
    assert len(board["external_views"]) == 1
    view = board["external_views"][0]
    assert (view["name"], view["href"], view["destination"], view["url_route"]) == ("Launch", "/launch/", "nav",
                                                                                      "launch")
    assert board["fastapi_apps"][0]["url_prefix"] == "/launch"


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.strip("/").replace("/", "_") or "root")
def test_signed_out_user_gets_401(approvals: ApprovalClient, path: str) -> None:
    response = approvals.client.get(path)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: p.strip("/").replace("/", "_") or "root")
def test_forged_token_gets_403(approvals: ApprovalClient, path: str) -> None:
    response = approvals.client.get(path, headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 403, response.text


def test_ui_session_cookie_is_accepted(approvals: ApprovalClient, shipped_plans: None) -> None:
    response = approvals.client.get("/launch/api/launches", cookies={"_token": approvals.token("cpo")})
    assert response.status_code == 200


def test_launches_listed(approvals: ApprovalClient, shipped_plans: None) -> None:
    launches = get(approvals, "/launch/api/launches").json()["launches"]
    assert {item["launch_id"] for item in launches} == {"accubooks", "reconciliation", "queueworker"}
    accubooks = next(item for item in launches if item["launch_id"] == "accubooks")
    assert accubooks["board_url"] == "/launch/board/accubooks" and accubooks["api_url"] == BOARD


def test_unknown_launch_is_404(approvals: ApprovalClient, shipped_plans: None) -> None:
    response = get(approvals, "/launch/api/launches/nope")
    assert response.status_code == 404 and "accubooks" in response.json()["detail"]


# --- the board's content -----------------------------------------------------------------------

def record_verification(ledger_url: str, base: Path) -> None:
    """What ``python -m include.launch.ledger verify`` stores (the board shows it, never re-hashes)."""
    from include.launch.evidence.verification import store_result

    ledger = Ledger(ledger_url)
    store_result(str(base), ledger.verify(), len(ledger.rows()), "")


def test_board_json_from_ledger_and_evidence(approvals: ApprovalClient, shipped_plans: None, ledger_db: str,
                                             evidence_base: Path) -> None:
    seed_launch(ledger_db, evidence_base)
    assert get(approvals, BOARD).json()["ledger"]["state"] == "not verified"
    record_verification(ledger_db, evidence_base)
    board = get(approvals, BOARD).json()

    assert set(board) == {"launch_id", "name", "version_from", "version_to", "evidence_base", "phases", "approvals",
                          "incidents", "overrides", "evidence", "scorecard", "scorecard_error", "ledger"}
    table = {row["phase_id"]: row for row in board["phases"]["items"]}
    assert list(table) == ["phase1_pool_scaling", "phase2_monitoring", "phase3_beta", "phase4_review"]
    assert set(table["phase1_pool_scaling"]) == {"phase_id", "title", "dag_id", "status", "duration", "start", "end",
                                                 "outcome", "run_id"}
    assert (table["phase1_pool_scaling"]["status"], table["phase1_pool_scaling"]["outcome"]) == ("COMPLETE",
                                                                                                  "success")
    assert table["phase1_pool_scaling"]["duration"].endswith(" min")
    assert table["phase2_monitoring"]["status"] == "IN PROGRESS" and table["phase2_monitoring"]["end"] is None
    assert table["phase3_beta"]["status"] == "NOT STARTED"

    assert [(i["incident_id"], i["severity"]) for i in board["incidents"]["items"]] == [("INC-1", "P1")]
    (override,) = board["overrides"]["items"]
    assert (override["window"], override["phase_id"], override["requested_by"], override["approved_by"],
            override["expires_at"]) == ("month_end_close", "phase2_monitoring", "operator",
                                        ["eng_lead", "exec_approver"], "2026-12-01T17:00:00+00:00")
    assert board["approvals"] == {"items": [], "error": ""}

    files = {item["path"]: item for item in board["evidence"]["items"]}
    assert {"pre_launch/rollback_plan.md", "phase1_pool_scaling/post_change_config.json",
            "phase3_beta/daily_metrics_2026-11-03.json", "phase3_beta/charts/2026-11-03/nps_score.svg"} <= set(files)
    assert board["evidence"]["items"][0]["folder"] == "pre_launch"  # plan order
    config = files["phase1_pool_scaling/post_change_config.json"]
    assert json.loads(get(approvals, config["url"]).content) == {"pool": {"max": 200, "min": 20}}

    card = board["scorecard"]
    assert (card["date"], card["day"], card["days_recorded"], card["passed"], card["total"]) == ("2026-11-03", 3, 3,
                                                                                                 2, 2)
    assert card["chart_url"] == "/launch/evidence/accubooks/phase3_beta/charts/2026-11-03/nps_score.svg"
    chart = get(approvals, card["chart_url"])
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in chart.headers["content-security-policy"]

    assert board["ledger"]["state"] == "verified" and board["ledger"]["rows"] == 7
    assert board["ledger"]["verified_at"] and board["ledger"]["rows_since"] == 0
    Ledger(ledger_db).append(Event(launch_id="accubooks", event="phase_started", phase_id="phase3_beta"))
    assert get(approvals, BOARD).json()["ledger"]["rows_since"] == 1  # shown, not re-verified on a page view


def test_board_reports_a_tampered_evidence_file(approvals: ApprovalClient, shipped_plans: None, ledger_db: str,
                                                evidence_base: Path) -> None:
    seed_launch(ledger_db, evidence_base)
    (evidence_base / "phase1_pool_scaling" / "post_change_config.json").write_text('{"pool": {"max": 50}}')
    record_verification(ledger_db, evidence_base)
    ledger = get(approvals, BOARD).json()["ledger"]
    assert ledger["state"] == "broken"
    assert any("evidence file altered" in problem for problem in ledger["problems"])


def test_board_without_beta_and_unreachable_ledger(approvals: ApprovalClient, shipped_plans: None,
                                                   evidence_base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LAUNCH_DB", json.dumps({"conn_type": "postgres", "host": "127.0.0.1",
                                                             "port": 1, "schema": "x", "login": "x"}))
    board = get(approvals, BOARD).json()
    assert board["ledger"]["state"] == "unavailable" and board["ledger"]["error"]
    assert board["phases"]["error"].startswith("ledger unavailable")
    assert board["scorecard"] is None and board["scorecard_error"] == ""
    page = get(approvals, "/launch/board/accubooks")
    assert page.status_code == 200
    assert "No beta yet" in page.text and "UNAVAILABLE" in page.text
    assert board["overrides"]["error"].startswith("ledger unavailable")


def test_board_page_shows_every_section(approvals: ApprovalClient, shipped_plans: None, ledger_db: str,
                                        evidence_base: Path) -> None:
    seed_launch(ledger_db, evidence_base)
    page = get(approvals, "/launch/").text
    for expected in ['id="status"', "Database connection pool scaling", "COMPLETE", "IN PROGRESS", "INC-1",
                     "No approval is waiting", 'id="scorecard"', 'alt="beta trend chart"',
                     "/launch/evidence/accubooks/phase1_pool_scaling/post_change_config.json", "VERIFIED",
                     "/launch/board/reconciliation", 'id="overrides"', "Alert routes must exist before the close",
                     "approved by eng_lead, exec_approver, until 2026-12-01T17:00:00+00:00"]:
        assert expected in page, expected
    assert "INC-2" not in page  # resolved


# --- evidence files ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "%2e%2e/%2e%2e/secret.txt",
    "pre_launch/%2e%2e/%2e%2e/secret.txt",
    "pre_launch/..%2f..%2fsecret.txt",
    "%2fetc%2fpasswd",
    "not_a_launch_folder/file.txt",
    "pre_launch/escape/secret.txt",  # a symlink out of the base
], ids=["dotdot", "nested-dotdot", "encoded-slash", "absolute", "foreign-folder", "symlink"])
def test_evidence_path_traversal_refused(approvals: ApprovalClient, shipped_plans: None, evidence_base: Path,
                                         path: str) -> None:
    secret = evidence_base.parent / "secret.txt"
    secret.write_text("TOP SECRET")
    (evidence_base / "pre_launch").mkdir(parents=True)
    (evidence_base / "not_a_launch_folder").mkdir()
    (evidence_base / "not_a_launch_folder" / "file.txt").write_text("TOP SECRET")
    (evidence_base / "pre_launch" / "escape").symlink_to(evidence_base.parent)
    response = get(approvals, f"/launch/evidence/accubooks/{path}")
    assert response.status_code in (400, 404), response.text
    assert "TOP SECRET" not in response.text


def test_evidence_missing_is_404_and_html_is_served_as_text(approvals: ApprovalClient, shipped_plans: None,
                                                            evidence_base: Path) -> None:
    assert get(approvals, "/launch/evidence/accubooks/pre_launch/none.md").status_code == 404
    EvidenceStore(str(evidence_base), "phase1_pool_scaling").write_text("quality/report.html", "<script>x</script>")
    response = get(approvals, "/launch/evidence/accubooks/phase1_pool_scaling/quality/report.html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"


# --- pending approvals from a real phase run ---------------------------------------------------

def release_waiting_approvals(client: ApprovalClient, dag_id: str) -> None:
    """Reject whatever still waits, so a failed test ends instead of waiting for an answer forever."""
    for item in client.pending(dag_id):
        ti = item["task_instance"]
        client.answer(dag_id, ti["dag_run_id"], Answer(ti["task_id"], "exec_approver", "Reject",
                                                      {"comment": "test cleanup: the test has ended"}))

def test_pending_approval_links_to_its_required_action(approvals: ApprovalClient, approval_phase: tuple[Any, Path],
                                                       ledger_db: str, evidence_base: Path, slack: object) -> None:
    dag, _ = approval_phase
    seen: dict[str, Any] = {}

    def approver() -> None:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and "board" not in seen:
                board = get(approvals, BOARD).json()
                if board["approvals"]["items"]:
                    seen["board"] = board
                    seen["page"] = get(approvals, "/launch/").text
                    item = board["approvals"]["items"][0]
                    seen["answer"] = approvals.answer(item["dag_id"], item["run_id"],
                                                      Answer("approve", "exec_approver",
                                                             params={"comment": "the board showed what I need"}))
                time.sleep(0.5)
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            seen["error"] = repr(exc)
        finally:
            release_waiting_approvals(approvals, dag.dag_id)

    thread = threading.Thread(target=approver, daemon=True)
    thread.start()
    dag_run = dag.test()  # the main thread runs the DAG; the approver answers over REST
    thread.join(timeout=10)

    assert "board" in seen, f"the board never listed the pending approval: {seen.get('error')}"
    item = seen["board"]["approvals"]["items"][0]
    assert (item["dag_id"], item["task_id"], item["map_index"]) == (dag.dag_id, "approve", -1)
    assert item["url"] == (f"/dags/{dag.dag_id}/runs/{item['run_id'].replace(':', '%3A').replace('+', '%2B')}"
                           "/tasks/approve/required_actions")
    assert item["assigned_users"] == ["Executive Approver"]  # the plan's required role (seed 000)
    assert "approve Database connection pool scaling" in item["subject"]
    phase = seen["board"]["phases"]["items"][0]
    assert phase["status"] == "IN PROGRESS"
    assert 'class="approval"' in seen["page"] and item["url"] in seen["page"]
    assert seen["answer"].status_code == 200

    assert dag_run.state == "success"
    after = get(approvals, BOARD).json()
    assert after["approvals"]["items"] == []
    assert after["phases"]["items"][0]["status"] == "COMPLETE"


# --- incident steps from the board --------------------------------------------------------------

STEPS = f"{BOARD}/incidents/INC-1/steps"
FROM_BOARD = {"X-Launch-Board": "1"}


def post_step(client: ApprovalClient, user: str, body: dict[str, str], board_header: bool = True,
              path: str = STEPS) -> Any:
    headers = {**client.headers(user), **(FROM_BOARD if board_header else {})}
    return client.client.post(path, headers=headers, json=body)


def test_an_approver_acknowledges_and_resolves_from_the_board(approvals: ApprovalClient, shipped_plans: None,
                                                             ledger_db: str, evidence_base: Path) -> None:
    seed_launch(ledger_db, evidence_base)
    page = get(approvals, "/launch/board/accubooks", user="eng_lead").text
    assert 'data-url="/launch/api/launches/accubooks/incidents/INC-1/steps"' in page
    assert '<option value="acknowledged">' in page and "takeStep(event, this)" in page

    done = post_step(approvals, "eng_lead", {"step": "acknowledged", "note": "Looking at p95 now."})
    assert done.status_code == 200, done.text
    assert done.json() == {"incident_id": "INC-1", "status": "acknowledged", "by": "eng_lead"}
    (row,) = Ledger(ledger_db).rows(event="incident_acknowledged")
    assert row.actor == "eng_lead" and row.payload["note"] == "Looking at p95 now."
    page = get(approvals, "/launch/board/accubooks", user="eng_lead").text
    assert '<option value="acknowledged">' not in page and '<option value="resolved">' in page

    resolved = post_step(approvals, "exec_approver", {"step": "resolved", "note": "Pool back to 200, p95 fine.",
                                                      "root_cause": "A replica kept the old pool settings."})
    assert resolved.status_code == 200, resolved.text
    assert get(approvals, BOARD).json()["incidents"]["items"] == []


@pytest.mark.parametrize(("user", "body", "board_header", "status", "detail"), [
    ("operator", {"step": "acknowledged", "note": "Looking at it now."}, True, 403,
     "incident steps need can_create on 'Launch Incident Step'"),
    ("outsider", {"step": "acknowledged", "note": "Looking at it now."}, True, 403, "Forbidden"),
    ("eng_lead", {"step": "acknowledged", "note": "Looking at it now."}, False, 403,
     "an incident step is taken from the board (header X-Launch-Board)"),
    ("eng_lead", {"step": "acknowledged", "note": "ok"}, True, 409, "refused: "),
    ("eng_lead", {"step": "fixed", "note": "Looking at it now."}, True, 409, "refused: unknown step 'fixed'"),
], ids=["operator_may_not", "viewer_may_not", "not_from_the_board", "note_too_short", "unknown_step"])
def test_a_refused_step_from_the_board_names_why_and_writes_nothing(
        approvals: ApprovalClient, shipped_plans: None, ledger_db: str, evidence_base: Path, user: str,
        body: dict[str, str], board_header: bool, status: int, detail: str) -> None:
    seed_launch(ledger_db, evidence_base)
    before = len(Ledger(ledger_db).rows())
    response = post_step(approvals, user, body, board_header)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert len(Ledger(ledger_db).rows()) == before


def test_the_board_shows_no_step_form_to_who_may_not_take_steps(approvals: ApprovalClient, shipped_plans: None,
                                                                ledger_db: str, evidence_base: Path) -> None:
    seed_launch(ledger_db, evidence_base)
    page = get(approvals, "/launch/board/accubooks", user="operator").text
    assert "INC-1" in page and "incident-step" not in page
