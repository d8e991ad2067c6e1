"""Product metrics of the beta from the target database, for one day of the beta window.

Cohort users are every user of the cohort's tenants (the beta flag is per tenant). Cumulative
metrics count from the beta's first day to the end of the scored day:

- active_users_count: cohort users with any activity on the scored day
- users_with_decision_percent: cohort users with >= 1 decision so far / cohort users x 100
- trust_forecasts_percent: users who marked a forecast as trusted so far / users who viewed one x 100
- support_tickets_per_user_month: tickets so far / cohort users / (days so far / 30)
- support_tickets_week_count: tickets in the 7 days ending with the scored day (P1 above 20)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

DAYS_PER_MONTH = 30.0


def cohort_users(conn: Any, tenants: list[int]) -> dict[int, int]:
    """user id -> tenant id for every user of the cohort tenants."""
    rows = conn.execute("SELECT id, tenant_id FROM users WHERE tenant_id = ANY(%s)", (tenants,)).fetchall()
    return {int(uid): int(tid) for uid, tid in rows}


def product_metrics(conn: Any, tenants: list[int], window_start: datetime, day_start: datetime,
                    day_number: int) -> dict[str, float | None]:
    """The product metrics of the day [day_start, day_start + 1 day) of a beta that began at window_start."""
    day_end = day_start + timedelta(days=1)
    week_start = day_end - timedelta(days=7)
    users = len(cohort_users(conn, tenants))

    def scalar(query: str, *args: Any) -> int:
        row = conn.execute(query, (tenants, *args)).fetchone()
        return int(row[0] or 0) if row else 0

    active = scalar("SELECT count(DISTINCT user_id) FROM activity_events WHERE tenant_id = ANY(%s) "
                    "AND occurred_at >= %s AND occurred_at < %s", day_start, day_end)
    deciders = scalar("SELECT count(DISTINCT user_id) FROM decisions WHERE tenant_id = ANY(%s) "
                      "AND decided_at >= %s AND decided_at < %s", window_start, day_end)
    viewers = scalar("SELECT count(DISTINCT user_id) FROM activity_events WHERE tenant_id = ANY(%s) "
                     "AND event_type = 'forecast_view' AND occurred_at >= %s AND occurred_at < %s",
                     window_start, day_end)
    trusting = scalar("SELECT count(DISTINCT user_id) FROM activity_events WHERE tenant_id = ANY(%s) "
                      "AND event_type = 'forecast_trust' AND occurred_at >= %s AND occurred_at < %s",
                      window_start, day_end)
    tickets = scalar("SELECT count(*) FROM support_tickets WHERE tenant_id = ANY(%s) "
                     "AND opened_at >= %s AND opened_at < %s", window_start, day_end)
    week = scalar("SELECT count(*) FROM support_tickets WHERE tenant_id = ANY(%s) "
                  "AND opened_at >= %s AND opened_at < %s", max(week_start, window_start), day_end)
    return {
        "cohort_users_count": float(users),
        "active_users_count": float(active),
        "users_with_decision_count": float(deciders),
        "users_with_decision_percent": 100.0 * deciders / users if users else None,
        "forecast_viewers_count": float(viewers),
        "trust_forecasts_percent": 100.0 * trusting / viewers if viewers else None,
        "support_tickets_total_count": float(tickets),
        "support_tickets_per_user_month": tickets / users / (day_number / DAYS_PER_MONTH) if users else None,
        "support_tickets_week_count": float(week),
    }
