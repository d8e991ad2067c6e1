"""The review's judgement: each success criterion over the whole beta, each scaling rule over the
beta's daily values, and the rollout recommendation.

Rules (issue 9, seed 000): YES when every criterion holds and no P0/P1 occurred; CONDITIONAL when
only non-critical criteria missed (each miss, and each P0/P1 that occurred and was resolved, is a
named condition); NO on a missed critical criterion (data integrity, tenant isolation), any
integrity or isolation incident, or any open P0.

Coverage (issue 20): a criterion is judged only on enough evidence. A daily metric measured on fewer
days than the plan's ``min_days_measured`` (paused days and days without data count as not measured)
and a survey metric whose survey has fewer answers than ``min_survey_answers`` are "not enough data",
never met; for a critical criterion that is a NO. A day that failed still fails the criterion.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any

from include.launch.beta.scoring import fmt
from include.launch.core.criteria import Criterion
from include.launch.core.vocabulary import Metric
from include.launch.plan.daily_metrics import PLATFORM_METRICS, SURVEY_METRICS
from include.launch.plugins.changes.catalog import RolloutDecisionParams, ScalingDecision
from include.launch.review.evidence import BetaEvidence
from include.launch.review.model import OverBeta, ReviewCriterion

YES, CONDITIONAL, NO = "YES", "CONDITIONAL", "NO"
PASS, FAIL, NO_DATA, NOT_ENOUGH_DATA = "pass", "fail", "no_data", "not_enough_data"
CRITICAL_METRICS = frozenset({Metric.DATA_INTEGRITY_ISSUES_COUNT})


@dataclass(frozen=True)
class Coverage:
    """How much evidence a verdict needs: ``min_days`` measured days of the beta's ``of_days``, and
    ``min_answers`` answers in the survey a survey metric is read from."""

    min_days: int
    of_days: int
    min_answers: int

    @classmethod
    def of(cls, params: RolloutDecisionParams, beta_days: int) -> Coverage:
        days = params.min_days_measured if params.min_days_measured is not None else beta_days
        return cls(days, beta_days, params.min_survey_answers)


def default_criteria(scorecard: list[Criterion]) -> list[ReviewCriterion]:
    """One review criterion per scorecard criterion: data integrity critical (worst day); platform
    metrics (error rate, uptime, latency) over every day (mean), never the last day alone; the
    cumulative and survey metrics at their latest value."""
    def how(metric: Metric) -> OverBeta:
        if metric in CRITICAL_METRICS:
            return "worst"
        return "mean" if metric.value in PLATFORM_METRICS else "last"

    return [ReviewCriterion(name=c.description or str(c), metrics=[c.metric], over_beta=how(c.metric),
                            critical=c.metric in CRITICAL_METRICS) for c in scorecard]


def _daily(evidence: BetaEvidence, metric: str) -> list[tuple[dict[str, Any], float | None, str]]:
    """(day document, value, daily status) of one metric, every day of the beta."""
    out = []
    for day in evidence.days:
        row = next((r for r in day.get("criteria", []) if r["metric"] == metric), None)
        value = row.get("value") if row else day.get("metrics", {}).get(metric)
        out.append((day, None if value is None else float(value), str(row["status"]) if row else "-"))
    return out


def _worst(criterion: Criterion, values: list[float]) -> float:
    if criterion.op.is_upper_bound:
        return max(values)
    if criterion.op.is_lower_bound:
        return min(values)
    return max(values, key=lambda v: abs(v - criterion.threshold))


def _survey_used(evidence: BetaEvidence, day_number: int) -> int | None:
    """The latest survey day due by ``day_number`` (the one a daily document carries)."""
    due = [d for d in evidence.survey_files if d <= day_number]
    return max(due) if due else None


def _coverage(metric: str, measured: list[tuple[dict[str, Any], float]], evidence: BetaEvidence,
              coverage: Coverage) -> tuple[bool, str]:
    """(enough evidence, how much there was, in words)."""
    if metric in SURVEY_METRICS:
        survey = _survey_used(evidence, int(measured[-1][0]["day"])) if measured else None
        answers = int((evidence.surveys.get(survey, {}).get("summary") or {}).get("respondents") or 0) \
            if survey is not None else 0
        return answers >= coverage.min_answers, (f"{answers} survey answers (plan minimum {coverage.min_answers})"
                                                 if survey is not None else "no survey")
    paused = sum(1 for day in evidence.days if day.get("paused"))
    text = f"measured on {len(measured)} of {coverage.of_days} days (plan minimum {coverage.min_days}" + (
        f"; {paused} paused)" if paused else ")")
    return len(measured) >= coverage.min_days, text


def measure(criterion: Criterion, how: str, evidence: BetaEvidence, coverage: Coverage) -> dict[str, Any]:
    """One metric of a criterion over the beta: value, verdict, coverage, the failing days, the files used."""
    metric = criterion.metric.value
    daily = _daily(evidence, metric)
    measured = [(day, value) for day, value, _ in daily if value is not None and not day.get("paused")]
    failing = [str(day["date"]) for day, _, status in daily if status == "fail"]
    files: list[str] = []
    value: float | None = None
    basis = "no data on any day"
    if measured:
        if how == "last":
            day, value = measured[-1]
            basis = f"day {day['day']} ({day['date']})"
            files.append(evidence.file_of(day))
            if metric in SURVEY_METRICS and evidence.surveys:
                latest = max(d for d in evidence.survey_files if d <= int(day["day"])) \
                    if any(d <= int(day["day"]) for d in evidence.survey_files) else None
                if latest is not None:
                    basis += f", day-{latest} survey"
                    files.append(evidence.survey_files[latest])
        elif how == "mean":
            value = fmean(v for _, v in measured)
            basis = f"mean of {len(measured)} daily values"
            files += [evidence.file_of(day) for day, _ in measured]
        else:
            value = _worst(criterion, [v for _, v in measured])
            worst_day = next(day for day, v in measured if v == value)
            basis = f"worst of {len(measured)} days ({worst_day['date']})"
            files += [evidence.file_of(day) for day, _ in measured]
    enough, covered = _coverage(metric, measured, evidence, coverage)
    verdict = NO_DATA if value is None else PASS if criterion.holds(value) else FAIL
    if verdict == PASS and not enough:  # a miss on thin evidence is still a miss; a pass needs the evidence
        verdict = NOT_ENOUGH_DATA
    return {"metric": metric, "description": criterion.description or str(criterion), "op": criterion.op.value,
            "threshold": criterion.threshold, "value": value, "basis": basis, "verdict": verdict,
            "coverage": covered, "enough_data": enough,
            "days_measured": len(measured), "days_failed": failing, "files": files,
            "failing_files": [evidence.day_files[d] for d in failing if d in evidence.day_files]}


def judge_criteria(params: RolloutDecisionParams, scorecard: list[Criterion], evidence: BetaEvidence,
                   beta_days: int) -> list[dict[str, Any]]:
    by_metric = {c.metric: c for c in scorecard}
    coverage = Coverage.of(params, beta_days)
    results = []
    for review in params.criteria or default_criteria(scorecard):
        rows = []
        for metric in review.metrics:
            if metric not in by_metric:
                raise ValueError(f"criterion {review.name!r}: the scorecard has no criterion on {metric.value}")
            rows.append(measure(by_metric[metric], review.over_beta, evidence, coverage))
        verdicts = {row["verdict"] for row in rows}
        verdict = next((v for v in (FAIL, NO_DATA, NOT_ENOUGH_DATA) if v in verdicts), PASS)
        results.append({"name": review.name, "critical": review.critical, "over_beta": review.over_beta,
                        "verdict": verdict, "metrics": rows,
                        "files": sorted({f for row in rows for f in row["files"]})})
    return results


def judge_scaling(decision: ScalingDecision, evidence: BetaEvidence) -> dict[str, Any]:
    """Scale when every rule holds on the beta's mean; a rule without data keeps the current size."""
    rules: list[dict[str, Any]] = []
    for rule in decision.scale_when:
        daily = [(day, value) for day, value, _ in _daily(evidence, rule.metric.value) if value is not None]
        values = [v for _, v in daily]
        mean = fmean(values) if values else None
        rules.append({"rule": str(rule), "description": rule.description, "metric": rule.metric.value,
                      "mean": mean, "peak": _peak(rule, values), "days": len(values),
                      "days_over": [str(day["date"]) for day, v in daily if rule.holds(v)],
                      "holds": mean is not None and rule.holds(mean),
                      "daily": [{"date": str(day["date"]), "value": v} for day, v in daily],
                      "files": [evidence.file_of(day) for day, _ in daily]})
    missing = [r["metric"] for r in rules if r["mean"] is None]
    scale = not missing and all(r["holds"] for r in rules)
    if missing:
        verdict, why = "KEEP", f"no data for {', '.join(missing)} in the beta evidence: no data, no scaling"
    elif scale:
        verdict, why = "SCALE", "every rule holds on the beta's mean: " + "; ".join(
            f"{r['metric']} {fmt(r['mean'])} ({r['rule']})" for r in rules)
    else:
        verdict, why = "KEEP", "not every rule holds on the beta's mean: " + "; ".join(
            f"{r['metric']} {fmt(r['mean'])} (scale when {r['rule']})" for r in rules if not r["holds"])
    return {"name": decision.name, "current": decision.current, "proposed": decision.proposed, "unit": decision.unit,
            "decision": verdict, "target": decision.proposed if scale else decision.current, "why": why,
            "rules": rules, "files": sorted({f for r in rules for f in r["files"]})}


def _peak(rule: Criterion, values: list[float]) -> float | None:
    """The day furthest into a scale-up rule's trigger (max for ``>``, min for ``<``)."""
    if not values:
        return None
    return max(values) if rule.op.is_lower_bound or not rule.op.is_upper_bound else min(values)


def recommend(criteria: list[dict[str, Any]], evidence: BetaEvidence) -> dict[str, Any]:
    """YES / CONDITIONAL / NO with the reasons and the named conditions."""
    blockers: list[str] = []
    conditions: list[str] = []
    for result in criteria:
        if result["verdict"] == PASS:
            continue
        detail = "; ".join(_miss(row) for row in result["metrics"] if row["verdict"] != PASS)
        if result["critical"]:
            blockers.append(f"critical criterion missed: {result['name']} ({detail})")
        else:
            conditions.append(f"{result['name']}: {detail}")
    for incident in evidence.incidents:
        label = f"{incident.severity} {incident.incident_id} ({incident.title}, {incident.state})"
        if incident.integrity:
            blockers.append(f"integrity/isolation incident {label}")
        elif incident.severity == "P0" and incident.state == "open":
            blockers.append(f"open P0 {label}")
        elif incident.severity in ("P0", "P1"):
            conditions.append(f"{'close' if incident.state == 'open' else 'post-incident review accepted for'} "
                              f"{label}")
    if not evidence.days:
        blockers.append("no daily beta evidence")
    if blockers:
        decision = NO
    elif conditions:
        decision = CONDITIONAL
    else:
        decision = YES
    return {"decision": decision, "blockers": blockers, "conditions": conditions if decision == CONDITIONAL else [],
            "misses": conditions}


def _miss(row: dict[str, Any]) -> str:
    target = f"{row['op']} {fmt(row['threshold'])}"
    if row["verdict"] == NO_DATA:
        return f"{row['metric']}: no data (needs {target})"
    if row["verdict"] == NOT_ENOUGH_DATA:
        return (f"{row['metric']}: not enough data, {row['coverage']}; {fmt(row['value'])} on what was measured "
                f"(needs {target})")
    days = f"; failed on {len(row['days_failed'])} day(s): {', '.join(row['days_failed'][:5])}" \
        if row["days_failed"] else ""
    return f"{row['metric']} measured {fmt(row['value'])} ({row['basis']}), must reach {target}{days}"


def review(params: RolloutDecisionParams, scorecard: list[Criterion], evidence: BetaEvidence,
           beta_days: int) -> dict[str, Any]:
    """``beta_days``: the scorecard's window, the denominator of every criterion's coverage."""
    criteria = judge_criteria(params, scorecard, evidence, beta_days)
    coverage = Coverage.of(params, beta_days)
    return {
        "beta": {"folder": evidence.folder, "first_day": evidence.first, "last_day": evidence.last,
                 "days": len(evidence.days), "planned_days": beta_days,
                 "paused_days": [str(d["date"]) for d in evidence.days if d.get("paused")],
                 "coverage": {"min_days_measured": coverage.min_days, "min_survey_answers": coverage.min_answers},
                 "outcomes": {str(d["date"]): d.get("outcome") for d in evidence.days},
                 "surveys": {str(k): v.get("summary", {}) for k, v in evidence.surveys.items()}},
        "criteria": criteria,
        "scaling": [judge_scaling(decision, evidence) for decision in params.decisions],
        "recommendation": recommend(criteria, evidence),
        "incidents": [i.as_dict() for i in evidence.incidents],
        "rollout_users": params.rollout_users,
        "evidence_used": evidence.all_files(),
        "charts": evidence.charts,
    }
