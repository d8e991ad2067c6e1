"""The 72-hour detailed logging is real: the demo target logs each request of a cohort tenant in
detail while its ``detailed_logging`` flag is on, and the beta's flag-expiry DAG turns the flag off at
72 hours and records it (the beta flag itself runs on to the planned end)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests
from prometheus_client.parser import text_string_to_metric_families

from include.launch.evidence.ledger import Ledger
from tests.harness.phase import dag_from_plan_file, plan_file_of
from tests.harness.scorecard import build_scorecard_variant, open_window
from tests.launch.phase3.test_phase3_beta import flags

COHORT = [1, 2, 3]
OUTSIDER = 40  # a tenant outside the cohort


def detailed_lines(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "detailed_request_logs_total")


def logged(url: str, tenant: int) -> bool:
    """Whether one request of ``tenant`` was logged in detail."""
    before = detailed_lines(url)
    requests.get(f"{url}/tenants/{tenant}/invoices", timeout=10)
    return detailed_lines(url) > before


def eventually(url: str, tenant: int, want: bool) -> bool:
    """The replica re-reads the flags every few seconds: poll until a request of ``tenant`` is (or is
    no longer) logged in detail, however busy the machine; False if that never happens."""
    for _ in range(240):
        if logged(url, tenant) == want:
            return True
        time.sleep(0.5)
    return False


def enrol(db_url: str, started: datetime) -> None:
    """Phase 3's flags: the beta for 14 days, detailed logging for 72 hours."""
    with psycopg.connect(db_url) as conn:
        for tenant in COHORT:
            conn.execute("INSERT INTO feature_flags (tenant_id, flag, enabled, expires_at) VALUES "
                         "(%s, 'beta', true, %s), (%s, 'detailed_logging', true, %s) ON CONFLICT (tenant_id, flag) "
                         "DO UPDATE SET enabled = true, expires_at = EXCLUDED.expires_at",
                         (tenant, started + timedelta(days=14), tenant, started + timedelta(hours=72)))


def test_detailed_logging_runs_for_72_hours_then_the_flag_expires_by_itself(beta_env: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    target, ledger_url = beta_env["target"], beta_env["ledger"]
    url = target.urls[0]
    started = datetime.now(UTC) - timedelta(hours=71, minutes=50)  # the beta began 71 h 50 min ago
    enrol(target.db_url, started)
    open_window(ledger_url, "accubooks", "phase3_beta", started.date(), 14, COHORT)
    expiry = dag_from_plan_file(plan_file_of(build_scorecard_variant("accubooks", "beta_daily_metrics")),
                                "flag_expiry_dag(PLAN, 'beta_daily_metrics')", "expiry")

    # While the flag is on, the cohort's requests are logged in detail; nobody else's are.
    assert eventually(url, COHORT[0], want=True)
    assert not logged(url, OUTSIDER)
    log_file = Path(target.state.state_dir) / "replica-0.log"
    assert f"detailed tenant={COHORT[0]} " in log_file.read_text()

    # At 71 h the scheduled run finds nothing to turn off ...
    early = expiry.test(logical_date=started + timedelta(hours=71))
    assert early.state == "success"
    assert Ledger(ledger_url).rows(event="beta_flags_expired") == []
    assert flags(target.db_url) == {"beta": set(COHORT), "detailed_logging": set(COHORT)}

    # ... the first run past 72 h turns detailed logging off for every cohort tenant and records it.
    due = expiry.test(logical_date=started + timedelta(hours=72))
    assert due.state == "success"
    (row,) = Ledger(ledger_url).rows(event="beta_flags_expired")
    assert row.payload["flags"] == {"detailed_logging": {
        "tenants": COHORT, "expired_at": (started + timedelta(hours=72)).isoformat()}}
    assert flags(target.db_url) == {"beta": set(COHORT)}
    assert any("detailed_logging turned off for 3 tenant(s)" in text for text in beta_env["slack"].texts())
    assert eventually(url, COHORT[0], want=False)

    # A second run changes nothing and records nothing more.
    assert expiry.test(logical_date=started + timedelta(hours=73)).state == "success"
    assert len(Ledger(ledger_url).rows(event="beta_flags_expired")) == 1


def dag_test_is_the_lead(plan: dict[str, Any]) -> None:
    """dag.test triggers as ``dag_test``: here it holds Phase 1's Engineering Lead role (pause_roles)."""
    phase = next(p for p in plan["phases"] if p["id"] == "phase1_pool_scaling")
    phase["approval"]["approvers"].append({"id": "dag_test", "name": "Lead (test)", "role": "Engineering Lead"})


def test_the_engineering_lead_pauses_the_beta_by_hand_on_any_day(beta_env: dict[str, Any]) -> None:
    target, ledger_url, folder = beta_env["target"], beta_env["ledger"], beta_env["evidence"] / "phase3_beta"
    started = datetime(2025, 6, 2, tzinfo=UTC)
    enrol(target.db_url, started)
    open_window(ledger_url, "accubooks", "phase3_beta", started.date(), 14, COHORT,
                invitees=[{"tenant_id": t, "user_id": u} for t, u in invitees(target.db_url)])
    plan_file = plan_file_of(build_scorecard_variant("accubooks", "beta_daily_metrics", dag_test_is_the_lead))
    control = dag_from_plan_file(plan_file, "beta_control_dag(PLAN, 'beta_daily_metrics')", "control")
    reason = "Two customers report forecasts that ignore their latest payments."
    run = control.test(logical_date=started + timedelta(days=8), run_conf={"action": "pause", "reason": reason})
    assert run.state == "success"
    (paused,) = Ledger(ledger_url).rows(event="beta_paused")
    assert paused.actor == "dag_test" and paused.payload["paused_on"] == "2025-06-10"
    assert paused.payload["reason"] == reason and paused.payload["incidents"] == []
    assert paused.payload["data_kept"] is True and paused.payload["export_files"] > 0
    assert flags(target.db_url) == {}
    assert len(list((folder / "exports").glob("tenant_*"))) == len(COHORT)
    assert len(list(folder.rglob("outbox/beta_paused_*.eml"))) == len(COHORT)
    assert any(f"Beta paused: {reason}" in text for text in beta_env["slack"].texts())


def invitees(db_url: str) -> list[tuple[int, int]]:
    with psycopg.connect(db_url) as conn:
        return [(int(t), int(u)) for t, u in conn.execute(
            "SELECT DISTINCT ON (tenant_id) tenant_id, id FROM users WHERE tenant_id = ANY(%s) ORDER BY tenant_id, id",
            (COHORT,)).fetchall()]
