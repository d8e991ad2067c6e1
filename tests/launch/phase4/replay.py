"""A 14-day beta replayed fast: each day's documents are written by the daily scorecard's own
scoring code (include.launch.scorecard.daily.score_day) from values chosen so the outcome is known,
without the target, Prometheus or the DAG runs (tests/launch/phase4/test_real_daily_dag.py uses
the real daily DAG)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from include.launch.evidence.store import EvidenceStore
from include.launch.plan.daily_metrics import QUALITY_METRIC
from include.launch.plan.loader import PLANS_DIR, load_plan
from include.launch.scorecard.daily import open_once, score_day
from include.launch.scorecard.window import Pause, ScorecardRun, Window
from include.launch.spec.scorecard import build_scorecard_spec
from tests.harness.scorecard import open_window

START = date(2025, 6, 2)
TENANTS = list(range(1, 13))


@dataclass(frozen=True)
class Beta:
    """What the replayed beta measures (defaults meet every criterion)."""

    days: int = 14
    trust: float = 80.0
    decisions: float = 90.0
    tickets: float = 0.3
    error_rate: float = 0.02
    uptime: float = 100.0
    would_pay: float = 50.0
    satisfaction: float = 4.3
    nps: float = 50.0
    latency_p95_ms: float = 450.0
    queue_wait_p95_ms: float = 450.0  # above the 400 ms rule: scale the forecast workers
    cache_hit_rate: float = 92.0  # above 80 %: keep the Redis cache
    integrity_day: int | None = None  # a data-integrity issue found on this day only
    respondents: int = 24  # answers in each survey
    missing_days: tuple[int, ...] = ()  # days on which neither the platform nor the quality suites measured
    paused: tuple[int, int] | None = None  # (paused on day, resumed on day): the days between are paused days


def survey(beta: Beta, day: int) -> dict[str, Any]:
    return {"respondents": beta.respondents, "trust_forecasts_percent": beta.trust,
            "would_pay_again_percent": beta.would_pay,
            "satisfaction_score": beta.satisfaction, "nps_score": beta.nps if day == 14 else max(beta.nps, 45.0)}


def replay(ledger_url: str, beta: Beta = Beta(), start: date = START, write_days: int | None = None) -> str:
    """Write the beta's evidence to ``phase3_beta/`` (days 1 to ``write_days``, all by default);
    returns that folder's name."""
    spec = build_scorecard_spec(load_plan("accubooks"), "beta_daily_metrics", PLANS_DIR / "accubooks.yaml")
    open_window(ledger_url, "accubooks", "phase3_beta", start, beta.days, TENANTS)
    folder = spec.scorecard.evidence_folder
    store = EvidenceStore(spec.plan.evidence.base, folder)
    pauses = [Pause(start + timedelta(days=beta.paused[0] - 1), "P0 replayed", "launch pipeline", [],
                    start + timedelta(days=beta.paused[1] - 1))] if beta.paused else []
    found = Window(datetime.combine(start, datetime.min.time(), tzinfo=UTC), beta.days, "replay_window", TENANTS,
                   pauses=pauses)
    history: list[dict[str, Any]] = []
    surveys: dict[str, Any] = {}
    documents: dict[str, str] = {}
    for day in range(1, (write_days or beta.days) + 1):
        day_iso = (start + timedelta(days=day - 1)).isoformat()
        run = ScorecardRun(spec.phase_spec, f"scheduled__{day_iso}T00:00:00+00:00", "score",
                           evidence_folder=folder)
        if day in (7, 14):
            summary = survey(beta, day)
            document = {"survey_day": day, "summary": summary, "imported_on": day_iso,
                        "quotes": [{"comment": "Forecasts match my books", "count": 3, "tenants": [1, 2],
                                    "satisfaction_mean": 4.5, "nps_mean": 9}]}
            store.write_json(f"survey_results_day{day}.json", document, replace=True)
            documents[str(day)] = json.dumps(document)
            surveys[str(day)] = {"status": "imported", "summary": summary, "respondents": beta.respondents}
        incidents = []
        issues: float | None = 0.0
        if day == beta.integrity_day:
            issues = 1.0
            incidents.append(open_once(run, "P0", "Data integrity check failed [beta_daily_metrics]",
                                       f"day {day} ({day_iso}): 1 unbalanced journal entry",
                                       data_integrity="VIOLATED (integrity)"))
        platform: dict[str, float | None] = {
            "error_rate_percent": beta.error_rate, "uptime_percent": beta.uptime,
            "latency_p95_ms": beta.latency_p95_ms + (day % 3) * 10,
            "queue_wait_p95_ms": beta.queue_wait_p95_ms + (day % 3) * 10, "cache_hit_rate_percent": beta.cache_hit_rate}
        if day in beta.missing_days:
            platform, issues = dict.fromkeys(platform), None
        collected = {
            "platform": {day_iso: {"source": "replay", "values": platform}},
            "product": {day_iso: {"trust_forecasts_percent": beta.trust, "users_with_decision_percent": beta.decisions,
                                  "support_tickets_per_user_month": beta.tickets, "support_tickets_week_count": 2.0}},
            "surveys": dict(surveys),
            "quality": {"values": {QUALITY_METRIC: issues}, "suites": {}, "incidents": incidents},
            "survey_documents": dict(documents),
        }
        entry = {"day": day, "date": day_iso, "today": True}
        history.append(score_day(run, spec, entry, found, collected, history))
    return folder
