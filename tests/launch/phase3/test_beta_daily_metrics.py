"""A replayed 14-day beta through the daily metrics DAG: 14 logical dates, every number checked by hand.

Activity, decisions, tickets and surveys are generated (include.demo_target.beta); platform
metrics come from the running replicas (no Prometheus connection), with requests the test sends
itself, so the error rate and uptime are known exactly. A data-integrity defect planted on day 5
opens a P0 that pauses the beta by itself (flags off, CSV exports, invitees told); day 6 is a paused
day; the beta control DAG refuses to resume while the P0 is open, and resumes it once it is resolved.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests

from include.demo_target.beta import simulate_beta, write_survey_csv
from include.demo_target.generator import plant_defects
from include.launch.engine.incidents import take_incident_step
from include.launch.evidence.ledger import Ledger
from include.launch.plan import load_plan
from include.launch.scorecard.outcomes import daily_outcomes
from tests.harness.phase import dag_from_plan_file, plan_file_of
from tests.harness.scorecard import build_scorecard_variant, open_window, run_day, states
from tests.launch.phase3.conftest import COHORT_TENANTS
from tests.launch.phase3.test_phase3_beta import flags

START = date(2025, 6, 2)
DAYS = 14
REQUESTS_PER_DAY = 40
ERROR_DAY, ERRORS = 4, 2


FORECAST_TENANTS = 5
FORECAST_REQUESTS = 3 * FORECAST_TENANTS  # per day: two reads and one refresh per tenant
PAUSE_DAY, PAUSED_DAY = 5, 6
RESUME_REASON = "Unbalanced entry removed and the integrity suite is green again."


def send(urls: list[str], n: int) -> None:
    for k in range(n):
        requests.get(f"{urls[k % len(urls)]}/tenants/{1 + k % 5}/invoices", timeout=10)


def forecast_traffic(urls: list[str], db_url: str) -> None:
    """Two forecast reads per tenant (the second from the cache) and a refresh the worker runs, so the
    day has a cache hit rate and a queue wait; returns once the worker has drained the queue."""
    for tenant in range(1, FORECAST_TENANTS + 1):
        requests.get(f"{urls[0]}/tenants/{tenant}/forecast", timeout=10)
        requests.get(f"{urls[0]}/tenants/{tenant}/forecast", timeout=10)
        requests.post(f"{urls[tenant % len(urls)]}/tenants/{tenant}/forecast/refresh", timeout=10)
    for _ in range(600):  # the worker polls every 0.5 s; wait for it, however busy the machine is
        with psycopg.connect(db_url) as conn:
            queued = conn.execute("SELECT count(*) FROM forecast_jobs WHERE status = 'queued'").fetchone()
        if queued and queued[0] == 0:
            return
        time.sleep(0.2)
    raise AssertionError("the forecast worker did not drain its queue")


def enrolled(db_url: str, tenants: list[int]) -> list[dict[str, int]]:
    """What Phase 3's apply leaves: the cohort rows, both flags on, and one invitee per tenant."""
    with psycopg.connect(db_url) as conn:
        for tenant in tenants:
            conn.execute("INSERT INTO beta_cohort (tenant_id, invited_at, status) VALUES (%s, now(), 'active') "
                         "ON CONFLICT (tenant_id) DO UPDATE SET status = 'active'", (tenant,))
            for flag in ("beta", "detailed_logging"):
                conn.execute("INSERT INTO feature_flags (tenant_id, flag, enabled, expires_at) VALUES "
                             "(%s, %s, true, now() + interval '14 days') ON CONFLICT (tenant_id, flag) DO UPDATE "
                             "SET enabled = true", (tenant, flag))
        people = conn.execute("SELECT DISTINCT ON (tenant_id) tenant_id, id FROM users WHERE tenant_id = ANY(%s) "
                              "ORDER BY tenant_id, id", (tenants,)).fetchall()
    return [{"tenant_id": int(t), "user_id": int(u)} for t, u in people]


def remove_planted_defect(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM journal_lines WHERE entry_id IN "
                     "(SELECT id FROM journal_entries WHERE memo = 'planted: unbalanced')")
        conn.execute("DELETE FROM journal_entries WHERE memo = 'planted: unbalanced'")


def dag_test_resumes(plan: dict[str, Any]) -> None:
    """dag.test triggers as ``dag_test``: here it is an Executive of Phase 3 (the plan's resume_roles)."""
    phase = next(p for p in plan["phases"] if p["id"] == "phase3_beta")
    phase["approval"]["approvers"].append({"id": "dag_test", "name": "Executive (test)", "role": "Executive"})


def expected_product(db_url: str, day: int) -> dict[str, float]:
    """Product metrics computed in Python from raw rows (not the DAG's SQL)."""
    window_start = datetime.combine(START, datetime.min.time(), tzinfo=UTC)
    day_start = window_start + timedelta(days=day - 1)
    day_end = day_start + timedelta(days=1)
    with psycopg.connect(db_url) as conn:
        users = {u for (u,) in conn.execute("SELECT id FROM users WHERE tenant_id = ANY(%s)", (COHORT_TENANTS,))}
        events = conn.execute("SELECT user_id, event_type, occurred_at FROM activity_events WHERE tenant_id = ANY(%s)",
                              (COHORT_TENANTS,)).fetchall()
        decisions = conn.execute("SELECT user_id, decided_at FROM decisions WHERE tenant_id = ANY(%s)",
                                 (COHORT_TENANTS,)).fetchall()
        tickets = [t for (t,) in conn.execute("SELECT opened_at FROM support_tickets WHERE tenant_id = ANY(%s)",
                                              (COHORT_TENANTS,))]
    so_far = [e for e in events if window_start <= e[2] < day_end]
    viewers = {u for u, kind, _ in so_far if kind == "forecast_view"}
    trusting = {u for u, kind, _ in so_far if kind == "forecast_trust"}
    deciders = {u for u, at in decisions if window_start <= at < day_end}
    n_tickets = sum(1 for t in tickets if window_start <= t < day_end)
    week = sum(1 for t in tickets if max(window_start, day_end - timedelta(days=7)) <= t < day_end)
    return {
        "trust_forecasts_percent": 100 * len(trusting) / len(viewers),
        "users_with_decision_percent": 100 * len(deciders) / len(users),
        "support_tickets_per_user_month": n_tickets / len(users) / (day / 30),
        "support_tickets_week_count": float(week),
        "active_users_count": float(len({u for u, _, at in events if day_start <= at < day_end})),
    }


def expected_survey(path: Path) -> dict[str, float]:
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    n = len(rows)
    nps_scores = [int(r["nps"]) for r in rows]
    return {
        "would_pay_again_percent": 100 * sum(r["would_pay_again"] == "true" for r in rows) / n,
        "satisfaction_score": sum(int(r["satisfaction"]) for r in rows) / n,
        "nps_score": 100 * (sum(s >= 9 for s in nps_scores) - sum(s <= 6 for s in nps_scores)) / n,
    }


def doc(folder: Path, day: int) -> dict[str, Any]:
    return json.loads((folder / f"daily_metrics_{START + timedelta(days=day - 1)}.json").read_text())


def values(document: dict[str, Any]) -> dict[str, Any]:
    return {row["metric"]: row["value"] for row in document["criteria"]}


def test_replayed_14_day_beta(beta_env: dict[str, Any]) -> None:
    target, ledger_url, base = beta_env["target"], beta_env["ledger"], beta_env["evidence"]
    folder = base / "phase3_beta"
    with psycopg.connect(target.db_url) as conn:
        simulate_beta(conn, COHORT_TENANTS, DAYS, START, seed=5)
        inbox = folder / "inbox"
        write_survey_csv(conn, base / "good_day7.csv", 7, COHORT_TENANTS)
        write_survey_csv(conn, inbox / "survey_day14.csv", 14, COHORT_TENANTS)
    # The day-7 drop is malformed first (two bad rows); the corrected file arrives and day 7 is re-run.
    good7 = (base / "good_day7.csv").read_text().splitlines()
    wrong_day = next(csv.reader([good7[3]]))
    wrong_day[3] = "8"
    bad7 = [*good7[:3], ",".join(wrong_day), *good7[4:6], "oops,not,a,row", *good7[6:]]
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "survey_day7.csv").write_text("\n".join(bad7) + "\n")

    dag = build_scorecard_variant("accubooks", "beta_daily_metrics", dag_test_resumes)
    plan_file = plan_file_of(dag)
    control = dag_from_plan_file(plan_file, "beta_control_dag(PLAN, 'beta_daily_metrics')", "control")
    # Before the window opens: a clear skip.
    before = run_day(dag, START)
    assert states(before)["beta_window"] == "skipped" and states(before)["score"] == "skipped"
    invitees = enrolled(target.db_url, COHORT_TENANTS)
    open_window(ledger_url, "accubooks", "phase3_beta", START, DAYS, COHORT_TENANTS, invitees=invitees)
    assert states(run_day(dag, START - timedelta(days=1)))["beta_window"] == "skipped"

    sent: dict[int, tuple[int, int]] = {}
    for day in range(1, DAYS + 1):
        send(target.urls, REQUESTS_PER_DAY)
        forecast_traffic(target.urls, target.db_url)
        errors = 0
        if day == ERROR_DAY:
            target.set_faults(error_rate=1.0)
            send(target.urls, ERRORS)
            target.clear_faults()
            errors = ERRORS
        sent[day] = (REQUESTS_PER_DAY + FORECAST_REQUESTS + errors, errors)
        if day == PAUSE_DAY:
            with psycopg.connect(target.db_url) as conn:
                plant_defects(conn, ["unbalanced_entry"], seed=1)
                conn.commit()
        dag_run = run_day(dag, START + timedelta(days=day - 1))
        assert dag_run.state == "success", (day, states(dag_run))
        if day == PAUSE_DAY:
            # The P0 paused the beta by itself: both flags off, data kept and exported, invitees told.
            (paused,) = Ledger(ledger_url).rows(event="beta_paused")
            assert paused.payload["paused_on"] == "2025-06-06" and paused.payload["by"] == "launch pipeline"
            assert paused.payload["incidents"] and paused.payload["incidents"][0].startswith("INC-")
            assert "Data integrity check failed" in paused.payload["reason"]
            assert flags(target.db_url) == {}
            assert len(list((folder / "exports").glob("tenant_*/journal_entries.csv"))) == len(COHORT_TENANTS)
            assert len(list(folder.rglob("outbox/beta_paused_*.eml"))) == len(COHORT_TENANTS)
            assert any("Beta paused: P0 INC-" in text for text in beta_env["slack"].texts())
        if day == PAUSED_DAY:
            assert doc(folder, day)["outcome"] == "paused"
            assert {r["status"] for r in doc(folder, day)["criteria"]} == {"paused"}
            assert doc(folder, day)["paused"]["paused_on"] == "2025-06-06"
            # The P0 is still open: the executive may not resume yet, and is told which incident.
            refused = control.test(logical_date=datetime.combine(START + timedelta(days=day - 1),
                                                                 datetime.min.time(), tzinfo=UTC),
                                   run_conf={"action": "resume", "reason": RESUME_REASON})
            assert refused.state == "failed"
            (why,) = Ledger(ledger_url).rows(event="beta_control_refused")
            assert why.payload["reason"].startswith("resume refused: incident(s) P0 INC-")
            assert "still open; resolve them first" in why.payload["reason"]
            assert flags(target.db_url) == {}
            # The data is fixed, the incident resolved by the engineering lead, the beta resumed.
            remove_planted_defect(target.db_url)
            incident = paused.payload["incidents"][0]
            plan = load_plan(plan_file)
            take_incident_step(plan, plan_file, incident, "acknowledged", "eng_lead", "Looking at the ledger now.")
            take_incident_step(plan, plan_file, incident, "resolved", "eng_lead", "Planted entry removed; suite green.",
                               root_cause="An unbalanced journal entry written by a test fixture.")
            resumed = control.test(logical_date=datetime.combine(START + timedelta(days=day - 1),
                                                                 datetime.min.time(), tzinfo=UTC),
                                   run_conf={"action": "resume", "reason": RESUME_REASON})
            assert resumed.state == "success"
            (row,) = Ledger(ledger_url).rows(event="beta_resumed")
            assert row.actor == "dag_test" and row.payload["resumed_on"] == "2025-06-07"
            assert flags(target.db_url) == {"beta": set(COHORT_TENANTS)}  # detailed logging stays off
            assert len(list(folder.rglob("outbox/beta_resumed_*.eml"))) == len(COHORT_TENANTS)
        if day == 3:
            first_day3 = (folder / "daily_metrics_2025-06-04.json").read_text()
        if day == 7:
            # The malformed day-7 CSV: rejected whole with line numbers, nothing imported ...
            rejected = json.loads((folder / "survey_rejected_day7.json").read_text())
            assert rejected["errors"] == ["line 4: survey_day 8 in the day-7 file", "line 7: 4 columns, expected 9"]
            assert not (folder / "survey_results_day7.json").exists()
            assert not [r for r in Ledger(ledger_url).rows(event="survey_imported")]
            assert values(doc(folder, 7))["nps_score"] is None
            assert {r["status"] for r in doc(folder, 7)["criteria"] if r["metric"] == "nps_score"} == {"no_data"}
            # ... then the corrected file arrives and day 7 is run again.
            (inbox / "survey_day7.csv").write_text((base / "good_day7.csv").read_text())
            assert run_day(dag, START + timedelta(days=6)).state == "success"
    assert states(run_day(dag, START + timedelta(days=DAYS)))["beta_window"] == "skipped"  # day 15: over

    ledger = Ledger(ledger_url)
    rows = ledger.rows(launch_id="accubooks")
    # Every scorecard number equals the hand-computed value.
    survey7 = expected_survey(base / "good_day7.csv")
    survey14 = expected_survey(inbox / "survey_day14.csv")
    for day in range(1, DAYS + 1):
        document = doc(folder, day)
        got = values(document)
        want = expected_product(target.db_url, day)
        for metric in ("support_tickets_week_count", "active_users_count"):
            assert document["metrics"][metric] == want[metric], (day, metric)
        if day == PAUSED_DAY:  # measured or not, a paused day judges nothing
            assert set(got.values()) == {None}, got
            continue
        for metric in ("trust_forecasts_percent", "users_with_decision_percent", "support_tickets_per_user_month"):
            assert got[metric] == want[metric], (day, metric)
        total, errors = sent[day]
        assert got["error_rate_percent"] == errors / total * 100, day
        assert got["uptime_percent"] == 100.0
        assert got["data_integrity_issues_count"] == (1 if day == PAUSE_DAY else 0), day
        assert document["metrics"]["latency_p95_ms"] is None or document["metrics"]["latency_p95_ms"] >= 0
        # What the review's scaling decisions read (seed 000: forecast workers, Redis cache).
        assert 50.0 <= document["metrics"]["cache_hit_rate_percent"] <= 100.0, day
        assert document["metrics"]["queue_wait_p95_ms"] >= 0, day
        if day < 7:
            assert {got[m] for m in ("would_pay_again_percent", "satisfaction_score", "nps_score")} == {None}
            assert {r["status"] for r in document["criteria"] if r["metric"] == "nps_score"} == {"not_due"}
        else:
            survey = survey14 if day == 14 else survey7
            for metric, value in survey.items():
                assert got[metric] == value, (day, metric)
    # Day 4's errors fail the error-rate criterion; every other day passes it.
    assert [doc(folder, d)["criteria"][3]["status"] for d in range(1, 8)] == \
        ["pass"] * 3 + ["fail", "pass", "paused", "pass"]

    # The defect planted on day 5 opened a P0 on day 5, not before (and the next days reference it).
    outcomes = daily_outcomes(ledger, "accubooks", "beta_daily_metrics")
    assert len(outcomes) == DAYS
    run_of_day = {row.payload["day"]: row.run_id for row in outcomes.values()}
    p0 = [row for row in rows if row.event == "incident_opened" and row.outcome == "P0"]
    assert len(p0) == 1 and p0[0].run_id == run_of_day[5]
    assert "Data integrity check failed" in p0[0].payload["title"]
    assert doc(folder, 6)["incidents"][0]["state"] == "still open"
    assert any("P0" in text for text in beta_env["slack"].texts())
    assert list((folder / "incidents").glob("INC-*.md"))

    assert json.loads((folder / "survey_results_day7.json").read_text())["summary"]["respondents"] == 24

    # A re-run of day 3 replaces its evidence and its ledger outcome; nothing is duplicated.
    assert run_day(dag, START + timedelta(days=2)).state == "success"
    assert (folder / "daily_metrics_2025-06-04.json").read_text() != first_day3
    after = daily_outcomes(Ledger(ledger_url), "accubooks", "beta_daily_metrics")
    assert len(after) == DAYS
    assert after["2025-06-04"].seq != outcomes["2025-06-04"].seq
    assert after["2025-06-04"].payload["replaces"] == outcomes["2025-06-04"].seq
    assert len(list(folder.glob("daily_metrics_*.json"))) == DAYS
    assert Ledger(ledger_url).verify() == []

    # Weekly rollups, survey results, quotes, reports with charts.
    names = {p.name for p in folder.iterdir()}
    assert {"weekly_metrics_week_1.md", "weekly_metrics_week_2.md", "survey_results_day7.json",
            "survey_results_day14.json", "user_quotes_2025-06-08.md", "user_quotes_2025-06-15.md"} <= names
    assert len([n for n in names if n.startswith("daily_report_")]) == DAYS
    chart = folder / "charts" / "2025-06-15" / "nps_score.svg"
    assert chart.read_text().startswith("<svg")
    assert "Forecasts match my books" in (folder / "user_quotes_2025-06-15.md").read_text()
    assert "| >= 70% of users trust forecasts |" in (folder / "weekly_metrics_week_2.md").read_text()
