"""Scoring a day: every criterion with value, threshold, pass/fail and the trend against earlier days."""

from __future__ import annotations

from typing import Any

from include.launch.core.criteria import Criterion

PASS, FAIL, NO_DATA, NOT_DUE, PAUSED = "pass", "fail", "no_data", "not_due", "paused"


def direction(criterion: Criterion, previous: float, value: float) -> str:
    """improving / worsening / unchanged, in the sense of the criterion (lower is better for ``<``)."""
    if value == previous:
        return "unchanged"
    if criterion.op.is_upper_bound:
        better = value < previous
    elif criterion.op.is_lower_bound:
        better = value > previous
    else:
        better = abs(value - criterion.threshold) < abs(previous - criterion.threshold)
    return "improving" if better else "worsening"


def score(criteria: list[Criterion], values: dict[str, float | None], history: list[dict[str, Any]],
          not_due: frozenset[str] = frozenset(), sources: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per criterion. history: earlier days' documents (oldest first) with their ``criteria`` rows.
    Metrics in ``not_due`` (a survey before its day) are ``not_due``, never a failure."""
    rows = []
    for criterion in criteria:
        metric = criterion.metric.value
        value = values.get(metric)
        earlier = [(doc["day"], row["value"]) for doc in history for row in doc.get("criteria", [])
                   if row["metric"] == metric and row.get("value") is not None]
        if value is None:
            status = NOT_DUE if metric in not_due else NO_DATA
        else:
            status = PASS if criterion.holds(float(value)) else FAIL
        row: dict[str, Any] = {
            "metric": metric, "description": criterion.description or str(criterion), "op": criterion.op.value,
            "threshold": criterion.threshold, "value": value, "status": status,
            "source": (sources or {}).get(metric, ""), "previous": None, "previous_day": None, "delta": None,
            "trend": "first" if value is not None else "-",
        }
        if earlier and value is not None:
            previous_day, previous = earlier[-1]
            row.update(previous=previous, previous_day=previous_day, delta=float(value) - float(previous),
                       trend=direction(criterion, float(previous), float(value)))
        rows.append(row)
    return rows


def paused_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A paused day's rows: nothing is judged, every criterion says paused (the review counts the day
    as not measured)."""
    return [{**row, "value": None, "status": PAUSED, "trend": "-"} for row in rows]


def day_outcome(rows: list[dict[str, Any]]) -> str:
    """paused if the beta was; failed if any criterion failed; inconclusive if any had no data; else successful."""
    statuses = {row["status"] for row in rows}
    if statuses == {PAUSED}:
        return "paused"
    if FAIL in statuses:
        return "failed"
    if NO_DATA in statuses:
        return "inconclusive"
    return "successful"


def series(history: list[dict[str, Any]], today: dict[str, Any], metric: str) -> list[tuple[int, float | None]]:
    """(day, value) of one metric over the window so far, today included."""
    points = {}
    for doc in [*history, today]:
        for row in doc.get("criteria", []) + doc.get("weekly_criteria", []):
            if row["metric"] == metric:
                points[int(doc["day"])] = row.get("value")
    return sorted(points.items())


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return str(value)
