"""Alert rules rendered from the plan: its incident rules, rollback triggers and success criteria.

Why three sources: the incident rules are the documents' own words (``error rate > 1%``, ``p95 > 1 s``,
``DB pool in use >= 90% for 5 min``) and decide the severity; rollback triggers add how long a
breach must last; a broken success criterion is worth a P2 warning before it becomes an incident.
Conditions no metric can show (a data-integrity issue) are listed, not silently dropped: the
quality suites cover them. Every rule carries its severity label and a runbook annotation made of
the plan's actions for that severity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from include.launch.core.vocabulary import Comparison, Metric, Severity
from include.launch.plan.models import Plan
from include.monitoring import promql

DEFAULT_FOR_MINUTES = 1.0
WARNING_FOR_MINUTES = 5.0
GROUP_NAME = "launch-alerts"

# Words of the documents -> plan metric. Longest phrases first so "error rate" wins over "error".
PHRASES: list[tuple[str, Metric]] = [
    ("db pool in use", Metric.POOL_UTILIZATION_PERCENT),
    ("pool saturation", Metric.POOL_UTILIZATION_PERCENT),
    ("pool utilization", Metric.POOL_UTILIZATION_PERCENT),
    ("redis memory", Metric.REDIS_MEMORY_PERCENT),
    ("cache hit", Metric.CACHE_HIT_RATE_PERCENT),
    ("error rate", Metric.ERROR_RATE_PERCENT),
    ("db cpu", Metric.DB_CPU_PERCENT),
    ("error", Metric.ERROR_RATE_PERCENT),
    ("cfur", Metric.CFUR_PERCENT),
    ("p95", Metric.LATENCY_P95_MS),
    ("p99", Metric.LATENCY_P99_MS),
]
CONDITION = re.compile(r"^(?P<name>[a-z0-9 ]+?)\s*(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>%|ms|s)?"
                       r"(?:\s+for\s+(?P<minutes>\d+(?:\.\d+)?)\s*min)?$")
DOWNTIME_WORDS = ("downtime", "down")


@dataclass(frozen=True)
class AlertRule:
    """One Prometheus alerting rule before rendering: what, how bad, how long, from which plan text."""

    name: str
    severity: Severity
    expr: str
    for_minutes: float
    summary: str
    source: str

    def as_rule(self, runbook: str) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": duration(self.for_minutes),
            "labels": {"severity": self.severity.value},
            "annotations": {"summary": self.summary, "runbook": runbook, "source": self.source},
        }


def duration(minutes: float) -> str:
    """Prometheus duration text; sub-minute values (test plans) become seconds."""
    seconds = round(minutes * 60)
    return f"{seconds // 60}m" if seconds % 60 == 0 and seconds else f"{seconds}s"


def parse_condition(text: str) -> tuple[Metric, Comparison, float, float | None] | None:
    """``p95 > 1 s for 10 min`` -> (latency_p95_ms, >, 1000, 10); None when not a metric condition."""
    match = CONDITION.match(text.strip().lower())
    if not match:
        return None
    name = match["name"].strip()
    metric = next((m for phrase, m in PHRASES if name == phrase or name.startswith(phrase + " ")), None)
    if metric is None:
        return None
    value = float(match["value"])
    if match["unit"] == "s" and metric.value.endswith("_ms"):
        value *= 1000
    minutes = float(match["minutes"]) if match["minutes"] else None
    return metric, Comparison(match["op"]), value, minutes


def negate(op: Comparison) -> Comparison:
    """The comparison that says a criterion is broken (``< 0.1`` is broken when ``>= 0.1``)."""
    return {Comparison.LT: Comparison.GE, Comparison.LE: Comparison.GT, Comparison.GT: Comparison.LE,
            Comparison.GE: Comparison.LT, Comparison.EQ: Comparison.EQ}[op]


def _camel(metric: Metric) -> str:
    words = [w for w in metric.value.split("_") if w not in ("percent", "ms", "count")]
    return "".join(w.upper() if w in ("db", "p95", "p99", "cfur") else w.capitalize() for w in words)


def _rule(plan: Plan, metric: Metric, op: Comparison, threshold: float, severity: Severity, minutes: float,
          source: str, job: str, window: str) -> AlertRule | None:
    template = promql.expression(plan.promql(), metric, job, window)
    if template is None or op is Comparison.EQ:
        return None
    unit = metric.unit.value
    return AlertRule(
        name=f"{_camel(metric)}{severity.value}", severity=severity,
        expr=f"({template}) {op.value} {threshold:g}", for_minutes=minutes,
        summary=f"{metric.value} {op.value} {threshold:g} {unit} for {duration(minutes)} ({severity.value})",
        source=source)


@dataclass
class RuleSet:
    """The rendered rules plus what could not be expressed as an alert, for the evidence."""

    rules: list[AlertRule]
    not_alertable: list[str]

    def names(self) -> list[str]:
        return [rule.name for rule in self.rules]


def build_rules(plan: Plan, job: str, window: str) -> RuleSet:
    """Rules from triggers (they carry durations), then incident rules, then criteria as P2 warnings.

    One rule per (metric, severity): the first source wins, so the durations of the rollback
    triggers are kept over the bare incident wording.
    """
    rules: dict[tuple[Metric | str, Severity], AlertRule] = {}
    skipped: list[str] = []

    def add(key: tuple[Metric | str, Severity], rule: AlertRule | None, text: str) -> None:
        if rule is None:
            skipped.append(text)
        elif key not in rules:
            rules[key] = rule

    for phase in plan.phases:
        for trigger in phase.rollback_triggers:
            add((trigger.metric, trigger.severity),
                _rule(plan, trigger.metric, trigger.op, trigger.threshold, trigger.severity,
                      trigger.sustained_minutes or DEFAULT_FOR_MINUTES, f"rollback trigger of {phase.id}: {trigger}",
                      job, window), f"{phase.id} trigger {trigger}")
    for incident in plan.incidents:
        for text in incident.when:
            if text.strip().lower() in DOWNTIME_WORDS:
                add(("downtime", incident.severity), AlertRule(
                    name=f"TargetDown{incident.severity.value}", severity=incident.severity,
                    expr=promql.render(promql.DOWNTIME_EXPRESSION, job, window), for_minutes=DEFAULT_FOR_MINUTES,
                    summary=f"a replica of {job} does not answer ({incident.severity.value})",
                    source=f"incident rule {incident.severity.value}: {text}"), text)
                continue
            parsed = parse_condition(text)
            if parsed is None:
                skipped.append(f"{incident.severity.value}: {text}")
                continue
            metric, op, threshold, minutes = parsed
            add((metric, incident.severity),
                _rule(plan, metric, op, threshold, incident.severity, minutes or DEFAULT_FOR_MINUTES,
                      f"incident rule {incident.severity.value}: {text}", job, window),
                f"{incident.severity.value}: {text}")
    for phase in plan.phases:
        for criterion in phase.success_criteria:
            add((criterion.metric, Severity.P2),
                _rule(plan, criterion.metric, negate(criterion.op), criterion.threshold, Severity.P2,
                      WARNING_FOR_MINUTES, f"success criterion of {phase.id}: {criterion}", job, window),
                f"{phase.id} criterion {criterion}")
    return RuleSet(list(rules.values()), sorted(set(skipped)))


def runbooks(plan: Plan) -> dict[Severity, str]:
    """What the plan says to do per severity, used as each rule's runbook annotation."""
    found = {}
    for incident in plan.incidents:
        within = f" Respond within {incident.respond_within_minutes:g} min." if incident.respond_within_minutes else ""
        found[incident.severity] = (f"{incident.severity.value}: " + "; ".join(incident.actions) + "." + within
                                    + " Incident report template: seed 000 (include/launch/evidence/incidents.py).")
    return found


def rules_document(plan: Plan, rule_set: RuleSet) -> dict[str, Any]:
    """The rule file Prometheus loads (one group, labels and annotations on every rule)."""
    books = runbooks(plan)
    return {"groups": [{
        "name": f"{plan.launch.id}-{GROUP_NAME}",
        "rules": [rule.as_rule(books.get(rule.severity, f"{rule.severity.value}: see the launch plan"))
                  for rule in rule_set.rules],
    }]}
