"""An approver's day in the Airflow UI, in headless Chromium: sign in, open the Launch board, follow the
pending approval to its Required Actions page, approve it, and see the phase move on.

The phase is the real engine's Phase 1 DAG cut down to its approval (tests/plugins/conftest.py),
run by ``dag.test()`` in the main thread on the metadata DB the api-server serves; the browser
works in a second thread. Screenshots go to ``artifacts/browser/<test>/`` (gitignored) only; the
board's is copied to ``LAUNCH_SCREENSHOT_OUT`` when that is set (``make screenshots`` sets it to
``docs/launch_board.png``), so a test run never rewrites a tracked file.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from include.devservices.airflow_local import PROJECT_ROOT
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.store import EvidenceStore
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, AirflowUI, chromium_available
from tests.harness.airflow import ApprovalClient
from tests.plugins.test_launch_board import release_waiting_approvals, seed_launch

# Where to save the board's screenshot on purpose (relative to the project root); unset in test runs.
SCREENSHOT_OUT = os.environ.get("LAUNCH_SCREENSHOT_OUT", "")
# Asked for a screenshot, the test runs (and fails) without chromium rather than skip and save nothing.
pytestmark = pytest.mark.skipif(not chromium_available() and not SCREENSHOT_OUT,
                                reason=f"Debian chromium not installed at {CHROMIUM}")

APPROVER = "exec_approver"
STEP_SECONDS = 90  # the longest one browser step may wait for the UI


def board_frame(page: Any) -> Any:
    """The Launch board inside the UI's iframe."""
    page.wait_for_selector("iframe[title='Launch']", timeout=STEP_SECONDS * 1000)
    frame = page.frame_locator("iframe[title='Launch']")
    frame.locator("#status").wait_for(timeout=STEP_SECONDS * 1000)
    return frame


def open_board_until(page: Any, ui: AirflowUI, selector: str) -> Any:
    """Open the Launch board (from the nav entry's route) until ``selector`` shows in it."""
    deadline = time.monotonic() + STEP_SECONDS
    while True:
        page.goto(f"{ui.base_url}/plugin/launch")
        frame = board_frame(page)
        if frame.locator(selector).count():
            return frame
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector!r} never appeared on the Launch board")
        time.sleep(1)


def approver_session(ui: AirflowUI, artifacts: Path, dag_id: str, seen: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.set_default_timeout(STEP_SECONDS * 1000)

            # 1. sign in as the approver (the FAB auth manager's sign-in form)
            page.goto(f"{ui.base_url}/")
            page.fill("input[name='username']", APPROVER)
            page.fill("input[name='password']", ui.password(APPROVER))
            page.click("input[type='submit']")
            page.wait_for_url(lambda url: "/auth/" not in url)

            # 2. the Launch entry in the navigation opens the board
            page.get_by_role("link", name="Launch").or_(page.get_by_role("button", name="Launch")).first.click()
            page.wait_for_url("**/plugin/launch**")
            frame = open_board_until(page, ui, "#approvals a.approval")
            phase_row = frame.locator("tr[data-phase='phase1_pool_scaling'] td.status")
            seen["status_before"] = phase_row.inner_text()
            page.screenshot(path=str(artifacts / "1_board_pending_approval.png"), full_page=True)

            # 3. follow the pending approval to its Required Actions page
            link = frame.locator("#approvals a.approval").first
            seen["link"] = link.get_attribute("href")
            link.click()
            page.wait_for_url("**/required_actions**")
            seen["required_actions_url"] = page.url
            approve = page.get_by_test_id("hitl-option-Approve")
            approve.wait_for()
            page.screenshot(path=str(artifacts / "2_required_action.png"), full_page=True)

            # 4. approve it, saying what was reviewed (the form's required Comment)
            comment = page.get_by_label("Comment")
            if not comment.count():
                comment = page.get_by_role("textbox").last
            comment.fill("Reviewed the pre-checks on the Launch board.")
            approve.click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(artifacts / "3_approved.png"), full_page=True)

            # 5. the phase moves on
            frame = open_board_until(page, ui, "tr[data-phase='phase1_pool_scaling'] .s-complete")
            frame.locator("#no-approvals").wait_for()
            seen["status_after"] = frame.locator("tr[data-phase='phase1_pool_scaling'] td.status").inner_text()
            page.screenshot(path=str(artifacts / "4_board_phase_complete.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
            (artifacts / "failure.html").write_text(page.content())
            raise
        finally:
            browser.close()


def test_approver_approves_from_the_launch_board(
    approval_phase: tuple[Any, Path], ledger_db: str, evidence_base: Path, slack: object, approvals: ApprovalClient,
    airflow_ui: AirflowUI, artifacts: Path,
) -> None:
    dag, _ = approval_phase
    EvidenceStore(str(evidence_base)).write_text("pre_launch/rollback_plan.md", "# Rollback plan: Phase 1\n")
    seen: dict[str, Any] = {}

    def browse() -> None:
        try:
            approver_session(airflow_ui, artifacts, dag.dag_id, seen)
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            seen["error"] = exc
        finally:
            release_waiting_approvals(approvals, dag.dag_id)

    browser = threading.Thread(target=browse, daemon=True)
    browser.start()
    dag_run = dag.test()
    browser.join(timeout=STEP_SECONDS * 2)

    assert "error" not in seen, f"browser: {seen['error']!r} (api-server log: {airflow_ui.log})"
    assert seen["status_before"] == "IN PROGRESS"
    assert seen["link"].endswith("/tasks/approve/required_actions")
    assert f"/dags/{dag.dag_id}/runs/" in seen["required_actions_url"]
    assert seen["status_after"] == "COMPLETE"
    assert dag_run.state == "success"
    given = Ledger(ledger_db).rows(event="approval_given")
    # who signed in (the FAB user name the plan assigns) and the plan's name for them
    assert [(row.outcome, row.actor, row.payload["responder_name"]) for row in given] == [
        ("successful", APPROVER, "Executive Approver")]

    if SCREENSHOT_OUT:
        out = PROJECT_ROOT / SCREENSHOT_OUT  # an absolute path stays as it is
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "1_board_pending_approval.png", out)


def sign_in(page: Any, ui: AirflowUI, user: str) -> None:
    page.goto(f"{ui.base_url}/")
    page.fill("input[name='username']", user)
    page.fill("input[name='password']", ui.password(user))
    page.click("input[type='submit']")
    page.wait_for_url(lambda url: "/auth/" not in url)


@pytest.fixture()
def board_shows_shipped_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAUNCH_BOARD_PLANS", raising=False)


def test_the_engineering_lead_acknowledges_an_incident_on_the_board(
    board_shows_shipped_plans: None, ledger_db: str, evidence_base: Path, slack: object, airflow_ui: AirflowUI,
    artifacts: Path,
) -> None:
    """The board's step form, clicked in a real browser inside the Airflow UI: the step is recorded as
    the signed-in user, and the board shows the incident acknowledged."""
    from playwright.sync_api import sync_playwright

    seed_launch(ledger_db, evidence_base)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.set_default_timeout(STEP_SECONDS * 1000)
            sign_in(page, airflow_ui, "eng_lead")
            frame = open_board_until(page, airflow_ui, "#incidents form.incident-step")
            form = frame.locator("#incidents form.incident-step").first
            form.locator("select[name='step']").select_option("acknowledged")
            form.locator("input[name='note']").fill("Looking at the p95 on the operations dashboard.")
            form.locator("button[type='submit']").click()
            frame.locator("#incidents .step-result", has_text="INC-1 acknowledged by eng_lead").wait_for()
            page.screenshot(path=str(artifacts / "incident_acknowledged.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    (row,) = Ledger(ledger_db).rows(event="incident_acknowledged")
    assert row.actor == "eng_lead" and row.payload["note"] == "Looking at the p95 on the operations dashboard."
