"""What a daily scorecard measures, by where the number comes from. One list serves the scorecard
DAG (what to collect), the review (survey metrics are judged by their answers, not their days) and
``plan check`` (a review may only judge what the daily DAG collects)."""

from __future__ import annotations

from include.launch.core.vocabulary import Metric

# From Prometheus over the whole day, or from the replicas' /metrics since the previous day's scrape.
PLATFORM_METRICS = frozenset({"error_rate_percent", "latency_p95_ms", "latency_p99_ms", "uptime_percent",
                              "cfur_percent", "cache_hit_rate_percent", "queue_wait_p95_ms"})
ALWAYS_COLLECTED = frozenset({"error_rate_percent", "latency_p95_ms", "uptime_percent"})  # the daily platform view
# From the target database, for the cohort's tenants.
PRODUCT_METRICS = frozenset({"trust_forecasts_percent", "users_with_decision_percent",
                             "support_tickets_per_user_month", "support_tickets_week_count", "active_users_count"})
# From the day-7 and day-14 survey files.
SURVEY_METRICS = frozenset({"would_pay_again_percent", "satisfaction_score", "nps_score"})
QUALITY_METRIC = "data_integrity_issues_count"
DAILY_METRICS = PLATFORM_METRICS | PRODUCT_METRICS | SURVEY_METRICS | {QUALITY_METRIC}


def collectable(metric: Metric) -> bool:
    return metric.value in DAILY_METRICS
