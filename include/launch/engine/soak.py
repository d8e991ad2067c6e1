"""Sustained monitoring: sample every interval for the window, roll back the moment a trigger holds.

The operator takes one sample per execution and then reschedules itself (no worker slot is held
between samples). Samples and the window's start live in PostgreSQL, so a retried or rescheduled
task resumes the same window: it neither restarts nor skips it. Missing data is inconclusive,
never a pass; after ``inconclusive_limit`` inconclusive samples in a row the soak fails safe.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from include.launch.core.criteria import Criterion, RollbackTrigger
from include.launch.plan.models import Soak
from include.launch.plugins.metrics.sample import Sample
from include.launch.spec.phase import PhaseSpec

SCHEMA = """
CREATE TABLE IF NOT EXISTS soak_samples (
    launch_id text NOT NULL,
    phase_id  text NOT NULL,
    run_id    text NOT NULL,
    seq       integer NOT NULL,
    sample    jsonb NOT NULL,
    PRIMARY KEY (launch_id, phase_id, run_id, seq)
);
"""


@dataclass(frozen=True)
class SoakVerdict:
    """status: continue / passed / breach / inconclusive / error."""

    status: str
    reason: str = ""
    severity: str = ""
    criteria: list[dict[str, Any]] = field(default_factory=list)


def _breaches(trigger: RollbackTrigger, sample: Sample) -> bool | None:
    value = sample.values.get(trigger.metric.value)
    applies = trigger.applies(sample.values)
    if value is None or applies is None:
        return None
    return applies and trigger.holds(float(value))


def fired(trigger: RollbackTrigger, samples: list[Sample]) -> bool:
    """True when the latest samples breach continuously for at least ``sustained_minutes``."""
    streak: list[Sample] = []
    for sample in reversed(samples):
        if sample.error or _breaches(trigger, sample) is not True:
            break
        streak.append(sample)
    if not streak:
        return False
    if trigger.sustained_minutes == 0:
        return True
    return streak[0].taken_at - streak[-1].taken_at >= trigger.sustained_minutes * 60


def trailing(samples: list[Sample], predicate: Any) -> int:
    count = 0
    for sample in reversed(samples):
        if not predicate(sample):
            break
        count += 1
    return count


def worst(criterion: Criterion, values: list[float]) -> float:
    if criterion.op.is_upper_bound:
        return max(values)
    if criterion.op.is_lower_bound:
        return min(values)
    return next((v for v in values if not criterion.holds(v)), values[-1])


def _failing_now(sample: Sample, criteria: list[Criterion], policy: Soak) -> str:
    """The success criteria the latest sample fails, except those the plan judges at the window's end."""
    at_end = {metric.value for metric in policy.judged_at_end}
    failing = []
    for criterion in criteria:
        value = None if sample.error else sample.values.get(criterion.metric.value)
        if (criterion.metric.value not in at_end and value is not None and criterion.applies(sample.values)
                and not criterion.holds(float(value))):
            failing.append(f"{criterion} (measured {float(value):g})")
    return "; ".join(failing)


def evaluate(samples: list[Sample], triggers: list[RollbackTrigger], criteria: list[Criterion], policy: Soak,
             window_seconds: float, started_at: float, now: float,
             interval_seconds: float | None = None) -> SoakVerdict:
    """Decide after the latest sample. Pure: every branch is tested without Airflow.

    Callers pass only the triggers and criteria the source covers (see ``covered``). With
    ``interval_seconds`` the window is *watched* time: a gap between two samples counts for at most
    ``watched_gap_cap`` seconds, so a gap in watching (the scheduler down, no worker free) extends
    the watch instead of passing unseen."""
    errors = trailing(samples, lambda s: bool(s.error))
    if errors >= policy.consecutive_error_limit:
        return SoakVerdict("error", f"{errors} samples in a row could not be taken: {samples[-1].error}", "P1")
    for trigger in triggers:
        if fired(trigger, samples):
            value = samples[-1].values.get(trigger.metric.value)
            held = f" for {trigger.sustained_minutes:g} min" if trigger.sustained_minutes else ""
            return SoakVerdict("breach", f"rollback trigger {trigger}{held} (measured {value:g})",
                               trigger.severity.value)
    failing = _failing_now(samples[-1], criteria, policy)
    if failing:
        return SoakVerdict("breach", f"success criterion failed at sample {len(samples)}: {failing}; immediate "
                                     "rollback", "P1")
    watched = {t.metric.value for t in triggers} | {c.metric.value for c in criteria}
    inconclusive = trailing(samples, lambda s: not s.error and any(s.values.get(m) is None for m in watched))
    if inconclusive >= policy.inconclusive_limit:
        missing = sorted(m for m in watched if samples[-1].values.get(m) is None)
        return SoakVerdict("inconclusive", f"{inconclusive} samples in a row without data for {', '.join(missing)}; "
                                           "failing safe", "P1")
    watched_time = watched_seconds(samples, interval_seconds) if interval_seconds else now - started_at
    if watched_time < window_seconds:
        return SoakVerdict("continue")
    table = []
    failed = []
    for criterion in criteria:
        values = [float(v) for s in samples if (v := s.values.get(criterion.metric.value)) is not None
                  and criterion.applies(s.values) is not False]
        measured = worst(criterion, values) if values else None
        ok = measured is not None and all(criterion.holds(v) for v in values)
        table.append({"criterion": str(criterion), "description": criterion.description,
                      "metric": criterion.metric.value, "threshold": criterion.threshold,
                      "measured": measured, "outcome": "successful" if ok else "failed"})
        if not ok:
            failed.append(f"{criterion} (worst {'no data' if measured is None else f'{measured:g}'})")
    if failed:
        return SoakVerdict("breach", "success criteria not held over the window: " + "; ".join(failed), "P1", table)
    extended = (f" (watch extended to {(now - started_at) / 60:.1f} min: sampling had a gap)"
                if interval_seconds and now - started_at > watched_time + interval_seconds else "")
    return SoakVerdict("passed", f"{len(samples)} samples over {window_seconds / 60:g} min, every criterion held"
                       + extended, criteria=table)


def watched_gap_cap(interval_seconds: float) -> float:
    """The longest gap between two samples that still counts as watched: two intervals plus the
    scheduling overhead of a rescheduled task."""
    return 2 * interval_seconds + 10


def watched_seconds(samples: list[Sample], interval_seconds: float) -> float:
    cap = watched_gap_cap(interval_seconds)
    return sum(min(later.taken_at - earlier.taken_at, cap) for earlier, later in itertools.pairwise(samples))


def covered(items: list[Any], provided: frozenset[str]) -> tuple[list[Any], list[str]]:
    """Split triggers/criteria into those the source measures and the names of those it cannot."""
    inside = [item for item in items if item.metric.value in provided]
    outside = sorted({str(item) for item in items if item.metric.value not in provided})
    return inside, outside


class SoakStore:
    """Samples of one run's soak, in the ledger database."""

    def __init__(self, dsn: str, launch_id: str, phase_id: str, run_id: str) -> None:
        self.dsn, self.key = dsn, (launch_id, phase_id, run_id)

    def samples(self) -> list[Sample]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
            rows = conn.execute("SELECT sample FROM soak_samples WHERE launch_id = %s AND phase_id = %s AND "
                                "run_id = %s ORDER BY seq", self.key).fetchall()
        return [Sample.from_dict(row[0]) for row in rows]

    def append(self, sample: Sample, seq: int) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(SCHEMA)
            conn.execute("INSERT INTO soak_samples VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                         (*self.key, seq, json.dumps(sample.as_dict())))


class SustainedMonitorOperator(BaseOperator):
    """One sample per execution, then reschedule; fails (-> rollback) on a breach."""

    def __init__(self, *, spec: PhaseSpec, **kwargs: Any) -> None:
        assert spec.phase.soak is not None
        super().__init__(retries=2, retry_delay=timedelta(seconds=5), **kwargs)
        self.spec = spec

    def execute(self, context: Any) -> Any:
        from include.launch.evidence.runtime import PhaseRun
        from include.launch.plugins.metrics.source import provided_metrics, take_sample

        run = PhaseRun.from_context(self.spec, context)
        if run.dry_run:
            return {"dry_run": True}
        policy = self.spec.phase.soak
        assert policy is not None
        window = float(run.params.get("monitor_minutes", policy.window_minutes)) * 60
        interval = float(run.params.get("sample_interval_seconds", policy.interval_seconds))
        sources = [source.kind for source in self.spec.phase.metric_sources]
        store = SoakStore(run.ledger.dsn, self.spec.launch_id, self.spec.phase.id, run.run_id)
        samples = store.samples()
        try:
            sample = take_sample(run, samples[-1] if samples else None)
        except Exception as exc:  # noqa: BLE001 - a measurement that cannot be taken is an error sample
            sample = Sample(time.time(), "+".join(sources), error=f"{type(exc).__name__}: {exc}")
        sample = enrich(run, sample)
        store.append(sample, len(samples) + 1)
        samples.append(sample)
        provided = provided_metrics(run)
        triggers, triggers_not_covered = covered(self.spec.phase.rollback_triggers, provided)
        from include.launch.spec.effective import effective_criteria

        criteria, criteria_not_covered = covered(effective_criteria(self.spec, run.params), provided)
        if triggers_not_covered or criteria_not_covered:  # plan check refuses this; never drop a rule quietly
            unmeasured = triggers_not_covered + criteria_not_covered
            raise AirflowFailException(f"sustained monitoring cannot measure {unmeasured} with this phase's "
                                       "metric_sources")
        if len(samples) == 1:
            run.record("soak_started", "", {"window_seconds": window, "interval_seconds": interval,
                                            "metric_sources": sources})
        verdict = evaluate(samples, triggers, criteria, policy, window, samples[0].taken_at, time.time(),
                           interval_seconds=interval)
        if verdict.status == "continue":
            raise AirflowRescheduleException(datetime.now(UTC) + timedelta(seconds=interval))
        ref = run.evidence.write_json("sustained_monitoring.json", {
            "verdict": verdict.status, "reason": verdict.reason, "criteria": verdict.criteria,
            "window_seconds": window, "interval_seconds": interval, "metric_sources": sources,
            "samples": [{"taken_at": s.taken_at, "values": s.values, "error": s.error} for s in samples],
        }, replace=True)
        if verdict.status == "passed":
            run.record("soak_completed", "successful", {"summary": verdict.reason, "criteria": verdict.criteria,
                                                        "samples": len(samples),
                                                        "watched_seconds": watched_seconds(samples, interval)}, [ref])
            return {"samples": len(samples), "criteria": verdict.criteria}
        run.record("rollback_triggered", "failed", {"summary": verdict.reason, "status": verdict.status,
                                                    "severity": verdict.severity, "criteria": verdict.criteria}, [ref])
        if verdict.severity == "P0":
            from include.launch.evidence.incidents import open_incident

            open_incident(run, severity="P0", title=f"P0 during the soak of {self.spec.phase.id}",
                          summary=verdict.reason)
        raise AirflowFailException(f"sustained monitoring: {verdict.reason}")


def enrich(run: Any, sample: Sample) -> Sample:
    """Add what the engine derives: open P0 incidents and the p95 regression against the baseline."""
    if sample.error:
        return sample
    from include.launch.evidence.incident_log import open_incidents
    from include.launch.plugins.checks.synthetic_load import baseline_p95, regression_ms, regression_percent

    values = dict(sample.values)
    values["active_incidents_count"] = float(len(open_incidents(run.ledger.rows(launch_id=run.spec.launch_id), {"P0"})))
    baseline = baseline_p95(run, "metric_gate")
    values["latency_regression_percent"] = regression_percent(baseline, values.get("latency_p95_ms"))
    values["latency_regression_ms"] = regression_ms(baseline, values.get("latency_p95_ms"))
    return Sample(sample.taken_at, sample.source, values, sample.raw, sample.error)
