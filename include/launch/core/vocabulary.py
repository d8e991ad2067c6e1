"""The shared words of a launch: metrics with units, comparisons, severities, risks.

Plans, checks, the soak monitor and reports all speak these, so a metric name typed in a plan is
checked against one list and its unit is known everywhere.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from enum import Enum


class Unit(str, Enum):
    PERCENT = "percent"
    MILLISECONDS = "ms"
    COUNT = "count"
    SCORE = "score"
    RATE = "per_user_per_month"


class Metric(str, Enum):
    """Every metric a plan may name. The suffix tells the unit."""

    ERROR_RATE_PERCENT = "error_rate_percent"
    LATENCY_P95_MS = "latency_p95_ms"
    LATENCY_P99_MS = "latency_p99_ms"
    LATENCY_REGRESSION_PERCENT = "latency_regression_percent"
    LATENCY_REGRESSION_MS = "latency_regression_ms"  # how many ms the p95 rose against its baseline
    POOL_MAX = "pool_max"
    POOL_MIN = "pool_min"
    POOL_UTILIZATION_PERCENT = "pool_utilization_percent"
    POOL_WAIT_P95_MS = "pool_wait_p95_ms"
    CONNECTION_CHURN_PER_MINUTE = "connection_churn_count"
    DB_CPU_PERCENT = "db_cpu_percent"
    DB_QUERY_P95_MS = "db_query_p95_ms"
    CACHE_HIT_RATE_PERCENT = "cache_hit_rate_percent"
    QUEUE_WAIT_P95_MS = "queue_wait_p95_ms"  # how long a background job waits in its queue (p95)
    REDIS_MEMORY_PERCENT = "redis_memory_percent"
    CFUR_PERCENT = "cfur_percent"
    UPTIME_PERCENT = "uptime_percent"
    ACTIVE_INCIDENTS_COUNT = "active_incidents_count"
    TRUST_FORECASTS_PERCENT = "trust_forecasts_percent"
    USERS_WITH_DECISION_PERCENT = "users_with_decision_percent"
    SUPPORT_TICKETS_PER_USER_MONTH = "support_tickets_per_user_month"
    SUPPORT_TICKETS_WEEK_COUNT = "support_tickets_week_count"
    WOULD_PAY_AGAIN_PERCENT = "would_pay_again_percent"
    SATISFACTION_SCORE = "satisfaction_score"
    NPS_SCORE = "nps_score"
    DATA_INTEGRITY_ISSUES_COUNT = "data_integrity_issues_count"

    @property
    def unit(self) -> Unit:
        suffix_units = {
            "_percent": Unit.PERCENT,
            "_ms": Unit.MILLISECONDS,
            "_count": Unit.COUNT,
            "_score": Unit.SCORE,
            "_month": Unit.RATE,
        }
        for suffix, unit in suffix_units.items():
            if self.value.endswith(suffix):
                return unit
        return Unit.COUNT

    @property
    def bounds(self) -> tuple[float, float] | None:
        """Inclusive range a threshold must lie in, when the unit has one."""
        if self is Metric.NPS_SCORE:
            return (-100.0, 100.0)
        if self is Metric.SATISFACTION_SCORE:
            return (1.0, 5.0)
        if self is Metric.LATENCY_REGRESSION_PERCENT:
            return (0.0, 1000.0)  # a regression may exceed 100 %
        if self.unit is Unit.PERCENT:
            return (0.0, 100.0)
        return (0.0, float("inf"))


class Comparison(str, Enum):
    """How a measured value is compared with a threshold."""

    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="

    def holds(self, measured: float, threshold: float) -> bool:
        return _OPERATORS[self](measured, threshold)

    @property
    def is_upper_bound(self) -> bool:
        """True when the comparison caps the value from above (``<``, ``<=``)."""
        return self in (Comparison.LT, Comparison.LE)

    @property
    def is_lower_bound(self) -> bool:
        return self in (Comparison.GT, Comparison.GE)


_OPERATORS: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.EQ: operator.eq,
}


class Severity(str, Enum):
    """Incident severities of seed 000: P0 stops everything, P1 pauses, P2 is documented."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


class Risk(str, Enum):
    ZERO = "ZERO"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class Outcome(str, Enum):
    """Argo's words: an *error* means the measurement could not be taken, not that it failed."""

    SUCCESSFUL = "successful"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
