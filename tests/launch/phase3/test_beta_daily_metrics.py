"""A replayed 14-day beta through the daily metrics DAG: 14 logical dates, every number checked by hand.

Activity, decisions, tickets and surveys are generated (include.demo_target.beta); platform
metrics come from the running replicas (no Prometheus connection), with requests the test sends
itself, so the error rate and uptime are known exactly.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests

from include.demo_target.beta import simulate_beta, write_survey_csv
from include.demo_target.generator import plant_defects
from include.launch.evidence.ledger import Ledger
from include.launch.scorecard.outcomes import daily_outcomes
from tests.harness.scorecard import build_scorecard_variant, open_window, run_day, states
from tests.launch.phase3.conftest import COHORT_TENANTS

START = date(2025, 6, 2)
DAYS = 14
REQUESTS_PER_DAY = 40
ERROR_DAY, ERRORS = 4, 2


def send(urls: list[str], n: int) -> None:
    for k in range(n):
        requests.get(f"{urls[k % len(urls)]}/tenants/{1 + k % 5}/invoices", timeout=10)


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

    dag = build_scorecard_variant("accubooks", "beta_daily_metrics")
    # Before the window opens: a clear skip.
    before = run_day(dag, START)
    assert states(before)["beta_window"] == "skipped" and states(before)["score"] == "skipped"
    open_window(ledger_url, "accubooks", "phase3_beta", START, DAYS, COHORT_TENANTS)
    assert states(run_day(dag, START - timedelta(days=1)))["beta_window"] == "skipped"

    sent: dict[int, tuple[int, int]] = {}
    for day in range(1, DAYS + 1):
        send(target.urls, REQUESTS_PER_DAY)
        errors = 0
        if day == ERROR_DAY:
            target.set_faults(error_rate=1.0)
            send(target.urls, ERRORS)
            target.clear_faults()
            errors = ERRORS
        sent[day] = (REQUESTS_PER_DAY + errors, errors)
        if day == 5:
            with psycopg.connect(target.db_url) as conn:
                plant_defects(conn, ["unbalanced_entry"], seed=1)
                conn.commit()
        dag_run = run_day(dag, START + timedelta(days=day - 1))
        assert dag_run.state == "success", (day, states(dag_run))
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
        for metric in ("trust_forecasts_percent", "users_with_decision_percent", "support_tickets_per_user_month"):
            assert got[metric] == want[metric], (day, metric)
        for metric in ("support_tickets_week_count", "active_users_count"):
            assert document["metrics"][metric] == want[metric], (day, metric)
        total, errors = sent[day]
        assert got["error_rate_percent"] == errors / total * 100, day
        assert got["uptime_percent"] == 100.0
        assert got["data_integrity_issues_count"] == (0 if day < 5 else 1), day
        assert document["metrics"]["latency_p95_ms"] is None or document["metrics"]["latency_p95_ms"] >= 0
        if day < 7:
            assert {got[m] for m in ("would_pay_again_percent", "satisfaction_score", "nps_score")} == {None}
            assert {r["status"] for r in document["criteria"] if r["metric"] == "nps_score"} == {"not_due"}
        else:
            survey = survey14 if day == 14 else survey7
            for metric, value in survey.items():
                assert got[metric] == value, (day, metric)
    # Day 4's errors fail the error-rate criterion; every other day passes it.
    assert [doc(folder, d)["criteria"][3]["status"] for d in range(1, 8)] == ["pass"] * 3 + ["fail"] + ["pass"] * 3

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
