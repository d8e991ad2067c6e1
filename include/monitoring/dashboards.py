"""Grafana dashboards as JSON, drawn from the target profile's ``monitoring.dashboards``.

A metric panel uses the same PromQL as the alert rules (``Plan.promql()``), so a number on a
dashboard and the alert it explains never disagree. ``$__rate_interval`` is Grafana's own window;
the verify check substitutes the Prometheus rate window to see that every panel has data.
"""

from __future__ import annotations

from typing import Any

from include.launch.plan.models import Plan
from include.launch.plan.profile import Panel
from include.monitoring import promql

RATE = "$__rate_interval"


def panel_template(plan: Plan, panel: Panel) -> str:
    """A panel's PromQL with Grafana's own rate window; a metric panel uses its alert's template."""
    template = plan.promql()[panel.metric] if panel.metric is not None else panel.expr
    return template.replace(promql.WINDOW, RATE)


def dashboard(plan: Plan, name: str) -> dict[str, Any]:
    """One dashboard of the plan's target profile in Grafana's JSON model (schemaVersion 39), ready
    for the HTTP API or provisioning; a name the profile does not define is a KeyError naming it."""
    job = plan.launch.id
    boards = plan.target_profile.monitoring.dashboards if plan.target_profile is not None else {}
    if name not in boards:
        raise KeyError(f"target_profile.monitoring.dashboards has no {name!r} (it has {sorted(boards) or 'none'})")
    board = boards[name]
    panels = []
    for index, panel in enumerate(board.panels):
        panels.append({
            "id": index + 1, "type": "timeseries", "title": panel.title,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": panel_template(plan, panel).replace(promql.SELECTOR,
                                                                                  promql.selector(job))}],
        })
    return {
        "uid": f"{job}-{name}".replace("_", "-")[:40], "title": f"{job}: {board.title}",
        "tags": ["launch", job], "timezone": "utc", "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus"}]},
        "panels": panels,
    }


def expressions(document: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in document.get("panels", []) for target in panel.get("targets", [])]


def required_metric_names(plan: Plan) -> list[str]:
    """The series the target profile says must have data, every area."""
    required = plan.target_profile.monitoring.required_metrics if plan.target_profile is not None else {}
    return [name for names in required.values() for name in names]


def missing_metrics(plan: Plan, documents: list[dict[str, Any]]) -> list[str]:
    """Required metrics no panel of these dashboards shows (the dashboards must cover them all)."""
    text = "\n".join(expr for document in documents for expr in expressions(document))
    names = [n.removesuffix("_bucket") for n in required_metric_names(plan)]
    return [name for name in names if name not in text]
