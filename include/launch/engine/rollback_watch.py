"""The watch after a rollback: the documents say "monitor 15 min" once the old settings are back.

A rollback that read back the old values may still leave the service broken (the fault was not the
change, or the revert did not take). For the plan's ``rollback.watch_minutes`` (the trigger form's
``rollback_watch_minutes``) the phase's own metric sources are sampled at the soak's interval and
the phase's rollback triggers are judged on those samples, with their sustained durations. A
trigger that fires is a P0: an incident, Slack, and a page. A watch that cannot measure (samples
that cannot be taken, or no data for a trigger's metric, as many in a row as the soak tolerates) is
a P0 too: nobody may believe a rollback held that nobody watched. Every sample goes into
``rollback_watch.json``; the ledger says how it ended.

The watch runs inside the task that rolled back (a rollback is rare, and its outcome is not known
until the watch ends); a weakened run that asks for 0 minutes is recorded as not watched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from include.launch.core.criteria import RollbackTrigger
from include.launch.core.vocabulary import Outcome
from include.launch.engine.soak import enrich, fired, trailing
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceRef
from include.launch.plan.loader import watched_triggers
from include.launch.plan.models import Soak
from include.launch.plugins.metrics.sample import Sample

WATCH_EVIDENCE = "rollback_watch.json"
DEFAULT_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class WatchVerdict:
    """status: breach (a trigger fired) or unmeasured (the watch could not see)."""

    status: str
    reason: str


def judge_watch(samples: list[Sample], triggers: list[RollbackTrigger], limits: Soak) -> WatchVerdict | None:
    """After the latest sample: a verdict that ends the watch, or None to keep watching. Pure."""
    errors = trailing(samples, lambda s: bool(s.error))
    if errors >= limits.consecutive_error_limit:
        return WatchVerdict("unmeasured", f"{errors} samples in a row could not be taken: {samples[-1].error}")
    for trigger in triggers:
        if fired(trigger, samples):
            held = f" for {trigger.sustained_minutes:g} min" if trigger.sustained_minutes else ""
            value = samples[-1].values.get(trigger.metric.value)
            return WatchVerdict("breach", f"after the rollback, trigger {trigger}{held} fired (measured {value:g})")
    metrics = {trigger.metric.value for trigger in triggers}
    blind = trailing(samples, lambda s: not s.error and any(s.values.get(m) is None for m in metrics))
    if blind >= limits.inconclusive_limit:
        missing = sorted(m for m in metrics if samples[-1].values.get(m) is None)
        return WatchVerdict("unmeasured", f"{blind} samples in a row without data for {', '.join(missing)}")
    return None


def watch_after_rollback(run: PhaseRun, reason: str, *, sleep: Callable[[float], None] = time.sleep,
                         clock: Callable[[], float] = time.time) -> bool:
    """Watch the rolled-back service; True when it held. A breach or a blind watch is a P0 (incident,
    Slack, page) and returns False: the caller's run has already failed on the rollback itself."""
    policy = run.spec.phase.rollback
    assert policy is not None
    minutes = float(run.params.get("rollback_watch_minutes", policy.watch_minutes))
    if minutes <= 0:
        run.record("rollback_watch_skipped", Outcome.NOT_APPLICABLE.value,
                   {"reason": f"the trigger form asked for {minutes:g} min instead of the plan's "
                              f"{policy.watch_minutes:g}: the rolled-back service was not watched (weakened run)"})
        return True
    limits = run.spec.phase.soak or Soak(window_minutes=max(minutes, 1))
    interval = min(float(run.params.get("sample_interval_seconds", limits.interval_seconds
                                        if run.spec.phase.soak else DEFAULT_INTERVAL_SECONDS)), minutes * 60)
    triggers = watched_triggers(run.spec.phase.rollback_triggers)
    run.record("rollback_watch_started", "", {"minutes": minutes, "interval_seconds": interval,
                                              "triggers": [str(t) for t in triggers], "rollback_reason": reason})
    samples: list[Sample] = []
    started = clock()
    verdict: WatchVerdict | None = None
    while True:
        samples.append(_sample(run, samples[-1] if samples else None))
        verdict = judge_watch(samples, triggers, limits)
        if verdict is not None or clock() - started >= minutes * 60:
            break
        sleep(interval)
    ref = run.evidence.write_json(WATCH_EVIDENCE, {
        "verdict": verdict.status if verdict else "held", "reason": verdict.reason if verdict else "",
        "minutes": minutes, "interval_seconds": interval, "rollback_reason": reason,
        "triggers": [str(t) for t in triggers],
        "samples": [{"taken_at": s.taken_at, "values": s.values, "error": s.error} for s in samples],
    }, replace=True)
    if verdict is None:
        run.record("rollback_watch_completed", Outcome.SUCCESSFUL.value,
                   {"summary": f"{len(samples)} samples over {minutes:g} min after the rollback, no trigger fired",
                    "samples": len(samples)}, [ref])
        return True
    _breached(run, verdict, len(samples), ref)
    return False


def _sample(run: PhaseRun, previous: Sample | None) -> Sample:
    from include.launch.plugins.metrics.source import take_sample

    try:
        return enrich(run, take_sample(run, previous))
    except Exception as exc:  # noqa: BLE001 - a sample that cannot be taken is an error sample
        return Sample(time.time(), "rollback_watch", error=f"{type(exc).__name__}: {exc}")


def _breached(run: PhaseRun, verdict: WatchVerdict, count: int, ref: EvidenceRef) -> None:
    from include.launch.evidence.incidents import open_incident
    from include.launch.evidence.pager import page

    summary = f"post-rollback watch of {run.spec.phase.id}: {verdict.reason}"
    run.record("rollback_watch_breached", Outcome.FAILED.value,
               {"summary": summary, "status": verdict.status, "severity": "P0", "samples": count}, [ref])
    report = open_incident(run, severity="P0", title=f"Breach after the rollback of {run.spec.phase.id}",
                           summary=summary, data_integrity="UNKNOWN")
    page(run, severity="P0", summary=summary, dedup_key=f"{run.spec.launch_id}:{run.run_id}:{report.path}")
