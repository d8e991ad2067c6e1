"""Replays a controlled beta: N days of activity, decisions, tickets and day-7/day-14 surveys.

Outcome shares are assigned exactly (not sampled), so a caller can build a beta that meets or
misses each launch criterion by a known margin; the seed only decides who gets which outcome.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg

SURVEY_HEADER = (
    "respondent_id",
    "tenant_id",
    "user_id",
    "survey_day",
    "trust_forecasts",
    "would_pay_again",
    "satisfaction",
    "nps",
    "comment",
)


@dataclass(frozen=True)
class BetaProfile:
    """Target outcome rates of a simulated beta (defaults meet every Phase 3 criterion)."""

    trust_share: float = 0.8  # users who trust forecasts (criterion >= 0.70)
    decision_share: float = 0.9  # users with >= 1 decision (criterion >= 0.80)
    tickets_per_user_month: float = 0.3  # criterion < 0.5
    would_pay_share: float = 0.5  # criterion >= 0.40
    satisfaction_mean: float = 4.3  # criterion >= 4.0
    promoter_share: float = 0.6  # NPS = promoters - detractors (criterion >= 40)
    detractor_share: float = 0.1
    daily_login_share: float = 0.85
    views_per_login: int = 2

    @classmethod
    def failing(cls) -> BetaProfile:
        """A beta that misses every survey and usage criterion."""
        return cls(
            trust_share=0.5,
            decision_share=0.6,
            tickets_per_user_month=1.2,
            would_pay_share=0.2,
            satisfaction_mean=3.2,
            promoter_share=0.3,
            detractor_share=0.4,
        )


@dataclass
class BetaSummary:
    """Counts written by simulate_beta, for logs and assertions."""

    users: int
    days: int
    activity_events: int
    decisions: int
    support_tickets: int
    survey_responses: int


def _pick(rng: random.Random, items: list[int], share: float) -> set[int]:
    """Exactly ceil(share * n) items: meeting a ">= share" criterion never fails on rounding."""
    n = min(len(items), max(0, math.ceil(share * len(items) - 1e-9)))
    return set(rng.sample(items, n))


def _satisfaction_scores(rng: random.Random, n: int, mean: float) -> list[int]:
    """n scores in 1..5 whose mean is as close to ``mean`` as integers allow (never below it)."""
    total = min(5 * n, max(n, math.ceil(mean * n - 1e-9)))
    base, extra = divmod(total, n) if n else (0, 0)
    scores = [base + (1 if i < extra else 0) for i in range(n)]
    rng.shuffle(scores)
    return scores


def _nps_scores(rng: random.Random, n: int, promoters: float, detractors: float) -> list[int]:
    n_prom = min(n, math.ceil(promoters * n - 1e-9))
    n_det = min(n - n_prom, math.floor(detractors * n + 1e-9))
    scores = (
        [rng.choice((9, 10)) for _ in range(n_prom)]
        + [rng.randrange(0, 7) for _ in range(n_det)]
        + [rng.choice((7, 8)) for _ in range(n - n_prom - n_det)]
    )
    rng.shuffle(scores)
    return scores


def cohort_entries(db_url: str, tenants: list[int]) -> list[str]:
    """``tenant_id:user_id`` of each tenant's first user: the Phase 3 trigger form's cohort format."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT tenant_id, min(id) FROM users WHERE tenant_id = ANY(%s) GROUP BY tenant_id "
                            "ORDER BY tenant_id", (tenants,)).fetchall()
    return [f"{tenant}:{user}" for tenant, user in rows]


def simulate_beta(
    conn: psycopg.Connection,
    cohort_tenant_ids: list[int],
    days: int,
    start_date: date,
    seed: int = 0,
    profile: BetaProfile | None = None,
) -> BetaSummary:
    """Write ``days`` days of beta activity for the cohort's users, and day-7/day-14 surveys.

    Enrols the tenants in beta_cohort. Users are every user of the cohort tenants.
    """
    profile = profile or BetaProfile()
    rng = random.Random(seed)
    start = datetime.combine(start_date, time(9, 0), tzinfo=UTC)
    rows = conn.execute(
        "SELECT id, tenant_id FROM users WHERE tenant_id = ANY(%s) ORDER BY id", (list(cohort_tenant_ids),)
    ).fetchall()
    tenant_of = {int(uid): int(tid) for uid, tid in rows}
    users = list(tenant_of)
    forecasts: dict[int, list[int]] = {}
    for fid, tid in conn.execute(
        "SELECT id, tenant_id FROM forecasts WHERE tenant_id = ANY(%s) ORDER BY id",
        (list(cohort_tenant_ids),),
    ):
        forecasts.setdefault(int(tid), []).append(int(fid))
    trusting = _pick(rng, users, profile.trust_share)
    deciding = _pick(rng, users, profile.decision_share)
    paying = _pick(rng, users, profile.would_pay_share)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO beta_cohort (tenant_id, invited_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(t, start) for t in cohort_tenant_ids],
        )
    events: list[tuple[int, int, str, int | None, datetime]] = []
    for day in range(days):
        for uid in users:
            if rng.random() >= profile.daily_login_share and day % 3:
                continue  # everyone logs in at least every third day
            at = start + timedelta(days=day, minutes=rng.randrange(0, 600))
            tid = tenant_of[uid]
            events.append((tid, uid, "login", None, at))
            for v in range(profile.views_per_login):
                fid = rng.choice(forecasts[tid]) if forecasts.get(tid) else None
                events.append((tid, uid, "forecast_view", fid, at + timedelta(minutes=v + 1)))
                if uid in trusting and v == 0:
                    events.append((tid, uid, "forecast_trust", fid, at + timedelta(minutes=v + 2)))
    decisions = []
    for uid in sorted(deciding):
        tid = tenant_of[uid]
        for _ in range(1 + rng.randrange(0, 3)):
            at = start + timedelta(days=rng.randrange(0, max(days, 1)), hours=rng.randrange(1, 8))
            fid = rng.choice(forecasts[tid]) if forecasts.get(tid) else None
            decisions.append((tid, uid, fid, rng.choice(("delay_payment", "chase_invoice", "hold_cash")), at))
    n_tickets = round(profile.tickets_per_user_month * len(users) * days / 30)
    tickets = []
    for i in range(n_tickets):
        uid = rng.choice(users)
        tickets.append(
            (
                tenant_of[uid],
                uid,
                "P3",
                f"beta question {i + 1}",
                start + timedelta(days=rng.randrange(0, max(days, 1)), hours=rng.randrange(1, 8)),
            )
        )
    surveys = []
    for survey_day in (d for d in (7, 14) if d <= days):
        sat = _satisfaction_scores(rng, len(users), profile.satisfaction_mean)
        nps = _nps_scores(rng, len(users), profile.promoter_share, profile.detractor_share)
        for k, uid in enumerate(users):
            comment = "Forecasts match my books" if uid in trusting else "Not sure the forecast is right"
            surveys.append(
                (
                    tenant_of[uid],
                    uid,
                    survey_day,
                    uid in trusting,
                    uid in paying,
                    sat[k],
                    nps[k],
                    comment,
                    start + timedelta(days=survey_day - 1, hours=17),
                )
            )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO activity_events (tenant_id, user_id, event_type, forecast_id, occurred_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            events,
        )
        cur.executemany(
            "INSERT INTO decisions (tenant_id, user_id, forecast_id, action, decided_at) VALUES (%s, %s, %s, %s, %s)",
            decisions,
        )
        cur.executemany(
            "INSERT INTO support_tickets (tenant_id, user_id, severity, subject, opened_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            tickets,
        )
        cur.executemany(
            "INSERT INTO survey_responses (tenant_id, user_id, survey_day, trust_forecasts, "
            "would_pay_again, satisfaction, nps, comment, submitted_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            surveys,
        )
    conn.commit()
    return BetaSummary(
        users=len(users),
        days=days,
        activity_events=len(events),
        decisions=len(decisions),
        support_tickets=len(tickets),
        survey_responses=len(surveys),
    )


def write_survey_csv(
    conn: psycopg.Connection, path: Path | str, survey_day: int, tenant_ids: list[int] | None = None
) -> int:
    """Write the day-N survey answers as CSV (SURVEY_HEADER columns); return the number of rows."""
    sql = (
        "SELECT id, tenant_id, user_id, survey_day, trust_forecasts, would_pay_again, satisfaction, nps, "
        "comment FROM survey_responses WHERE survey_day = %s"
    )
    params: list[object] = [survey_day]
    if tenant_ids is not None:
        sql += " AND tenant_id = ANY(%s)"
        params.append(list(tenant_ids))
    rows = conn.execute(sql + " ORDER BY id", params).fetchall()  # type: ignore[arg-type]
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(SURVEY_HEADER)
        for row in rows:
            writer.writerow(["true" if v is True else "false" if v is False else v for v in row])
    return len(rows)
