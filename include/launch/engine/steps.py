"""The bodies of a phase DAG's tasks. Each takes the PhaseSpec and Airflow's context.

Failure kinds are deliberate: evidence says no -> AirflowFailException (no retry); a source could
not be reached -> AirflowException (retried by Airflow).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
)

from include.launch.core.errors import ConfigurationError
from include.launch.core.vocabulary import Outcome
from include.launch.engine import change_guard, freeze, locks
from include.launch.engine.restore import applier_for, restore_snapshot
from include.launch.evidence.events import OVERRIDE_GRANTED
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks import CHECKS
from include.launch.plugins.checks.base import CheckResult, SourceUnavailableError
from include.launch.spec.effective import change_params
from include.launch.spec.phase import VERIFY, CheckTask, PhaseSpec
from include.launch.spec.trigger_form import OVERRIDE_PARAM
from include.launch.spec.weakened import weakenings

log = logging.getLogger(__name__)

CHANGE_STARTED_KEY = "change_started"


# --- phase gate -------------------------------------------------------------------------------

def phase_gate(spec: PhaseSpec, context: Any) -> dict[str, Any]:
    """Refuse bad params and a second concurrent change before anything else runs."""
    run = PhaseRun.from_context(spec, context)
    try:
        unknown_params(spec, run.params)
        params = change_params(spec, run.params)
    except (ConfigurationError, ValueError) as exc:
        run.record("params_refused", Outcome.FAILED.value, {"error": str(exc), "params": run.params})
        raise AirflowFailException(f"trigger params refused: {exc}") from None
    refuse_second_change(run, CHANGE_EVENTS)
    from include.launch.engine.incidents import refuse_while_incidents_block

    refuse_while_incidents_block(run)
    holder = locks.acquire(run.ledger.dsn, spec.launch_id, spec.dag_id, run.run_id)
    if holder is not None:
        reason = (f"another change of launch {spec.launch_id!r} is in progress "
                  f"(dag {holder.dag_id}, run {holder.run_id}); one change at a time")
        run.record("phase_refused", Outcome.FAILED.value, {"reason": reason})
        raise AirflowFailException(reason)
    weakened = weakenings(spec, run.params)
    run.record("phase_started", "", {"params": run.params, "dry_run": run.dry_run, "plan_mode": spec.plan.mode,
                                     "change": params.model_dump() if params else None, "weakened": weakened})
    if weakened:
        reason = (f"WEAKENED RUN: {'; '.join(weakened)}. It runs, but its completion does not open the next "
                  "phase; short windows belong in a plan marked mode: demo")
        run.record("run_weakened", "", {"summary": reason, "weakened": weakened})
        run.notify("weakened run", reason, severity="P3")
    return {"dry_run": run.dry_run}


CHANGE_EVENTS = ("snapshot_taken", "change_applied", "rollback_started")


def refuse_second_change(run: PhaseRun, events: tuple[str, ...]) -> None:
    """A run cleared by hand must not change the target twice: its first pass, with its evidence
    and ledger rows, is the record. A new change is a new run."""
    earlier = [row for row in run.own_rows() if row.event in events]
    if not earlier:
        return
    first = earlier[0]
    reason = (f"run {run.run_id} already changed the target ({first.event} at {first.recorded_at:%Y-%m-%d %H:%M:%S} "
              "UTC); a cleared run is never applied twice: trigger a new run to change again")
    run.record("rerun_refused", Outcome.FAILED.value, {"reason": reason, "task": run.task_id})
    run.notify("failed", reason, severity="P2")
    raise AirflowFailException(reason)


def refused_rerun(run: PhaseRun) -> bool:
    """True when this run's latest pass was refused by ``refuse_second_change`` and changed nothing."""
    rows = run.own_rows()
    refusals = [row.seq for row in rows if row.event == "rerun_refused"]
    return bool(refusals) and not any(row.seq > refusals[-1] and row.event in CHANGE_EVENTS for row in rows)


def unknown_params(spec: PhaseSpec, params: dict[str, Any]) -> None:
    """Refuse trigger keys the form does not offer: a misspelt ``pool_maxx`` must not be ignored silently."""
    from include.launch.spec.trigger_form import trigger_form

    known = set(trigger_form(spec))
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigurationError(f"unknown trigger param(s) {', '.join(map(repr, unknown))}; this DAG accepts "
                                 f"{', '.join(sorted(known))}")


def release_lock(spec: PhaseSpec, context: Any) -> None:
    run = PhaseRun.from_context(spec, context)
    locks.release(run.ledger.dsn, spec.launch_id, spec.dag_id, run.run_id)


# --- checks -----------------------------------------------------------------------------------

# Rows that undo a completed phase: the latest outcome counts, not the first completion.
UNDOING_EVENTS = ("rollback_completed", "beta_paused", "rollback_failed")


def _resumed_after(row: Any, rows: list[Any]) -> bool:
    """A beta paused on some day of its window and resumed later is running again, not undone."""
    return row.event == "beta_paused" and any(r.event == "beta_resumed" and r.seq > row.seq for r in rows)


def phase_order(spec: PhaseSpec, context: Any) -> CheckResult:
    run = PhaseRun.from_context(spec, context)
    required = spec.phase.requires
    if required is None:
        return CheckResult(Outcome.NOT_APPLICABLE, "first phase of the launch: no predecessor required")
    done = [row for row in run.ledger.rows(launch_id=spec.launch_id, phase_id=required, event="phase_completed")
            if row.outcome == Outcome.SUCCESSFUL.value]
    if not done:
        return CheckResult(Outcome.FAILED, f"phase {required!r} has not completed; {spec.phase.id!r} cannot start")
    from include.launch.engine.manual_rollback import rolled_back_by_hand

    undone = rolled_back_by_hand(run.ledger.rows(launch_id=spec.launch_id, phase_id=required), required)
    if undone is not None:
        return CheckResult(Outcome.FAILED, f"phase {required!r} was rolled back by hand by {undone.actor} at "
                                           f"{undone.recorded_at:%Y-%m-%d %H:%M} UTC ({undone.payload.get('reason')}); "
                                           f"it must complete again before {spec.phase.id!r} can start")
    after = [row for row in run.ledger.rows(launch_id=spec.launch_id, phase_id=required) if row.seq > done[-1].seq]
    later = [row for row in after if row.event in UNDOING_EVENTS and not _resumed_after(row, after)]
    if later:
        return CheckResult(Outcome.FAILED, f"phase {required!r} completed (seq {done[-1].seq}) but was undone after: "
                                           f"{later[-1].event} at seq {later[-1].seq} "
                                           f"({later[-1].payload.get('reason') or 'no reason recorded'}); it must "
                                           f"complete again before {spec.phase.id!r} can start")
    if done[-1].payload.get("weakened"):  # the latest completion is what the target now runs
        return CheckResult(Outcome.FAILED, f"phase {required!r} last completed in a weakened run (run "
                                           f"{done[-1].run_id}: {'; '.join(done[-1].payload['weakened'])}); "
                                           f"{spec.phase.id!r} needs a completion with the plan's own windows and load")
    late = _late_evidence_missing(run, required)
    if late:
        return CheckResult(Outcome.FAILED, f"phase {required!r} completed, but the evidence its plan says is written "
                                           f"after it and before {spec.phase.id!r} is missing: {', '.join(late)}")
    return CheckResult(Outcome.SUCCESSFUL, f"phase {required!r} completed (ledger seq {done[-1].seq}, run "
                                           f"{done[-1].run_id})", {"completed_run": done[-1].run_id})


def _late_evidence_missing(run: PhaseRun, phase_id: str) -> list[str]:
    """The predecessor's ``due: before_next_phase`` files that none of its folders holds."""
    from include.launch.evidence.required import missing
    from include.launch.evidence.store import EvidenceStore

    entries = run.spec.plan.phase(phase_id).evidence_files
    if not any(entry.due == "before_next_phase" for entry in entries):
        return []
    names = EvidenceStore(run.spec.plan.evidence.base, phase_id).names()
    opened = bool(run.ledger.rows(launch_id=run.spec.launch_id, phase_id=phase_id, event="incident_opened"))
    return missing(entries, names, due="before_next_phase", incidents_opened=opened)


def freeze_window(spec: PhaseSpec, context: Any) -> CheckResult:
    """Outside every freeze, exempt, or an override requested that a person must still grant."""
    run = PhaseRun.from_context(spec, context)
    verdict = freeze.pre_check(spec.plan.freeze_windows, spec.phase, datetime.now(UTC),
                               str(run.params.get(OVERRIDE_PARAM) or ""))
    data = {"window": verdict.freeze.window.name, "ends_at": verdict.freeze.ends_at.isoformat(),
            "override_requested": verdict.needs_override} if verdict.freeze else {}
    return CheckResult(Outcome.SUCCESSFUL if verdict.allowed else Outcome.FAILED, verdict.reason, data)


def freeze_guard(run: PhaseRun, moment: datetime) -> None:
    """Right before the change: refuse inside a freeze unless this run holds an unexpired override."""
    from include.launch.evidence.overrides import granted_overrides

    verdict = freeze.change_guard(run.spec.plan.freeze_windows, run.spec.phase, moment,
                                  granted_overrides(run.own_rows(OVERRIDE_GRANTED)))
    if not verdict.allowed:
        run.record("freeze_refused", Outcome.FAILED.value, {"reason": verdict.reason, "task": run.task_id})
        run.notify("failed", verdict.reason, severity="P2")
        raise AirflowFailException(verdict.reason)
    if verdict.freeze is not None:
        run.record("freeze_rechecked", Outcome.SUCCESSFUL.value, {"reason": verdict.reason})


BUILTIN_CHECKS = {"phase_order": phase_order, "freeze_window": freeze_window}


def run_builtin_check(spec: PhaseSpec, name: str, context: Any) -> dict[str, Any]:
    run = PhaseRun.from_context(spec, context)
    return _conclude(run, context, name, "builtin", lambda: BUILTIN_CHECKS[name](spec, context))


def run_check(spec: PhaseSpec, check: CheckTask, context: Any) -> dict[str, Any]:
    run = PhaseRun.from_context(spec, context)
    if check.group == VERIFY and run.dry_run:
        return _conclude(run, context, check.name, check.kind,
                         lambda: CheckResult(Outcome.NOT_APPLICABLE, "dry run: nothing changed to verify"))
    implementation = CHECKS.get(check.kind).load()
    return _conclude(run, context, check.name, check.kind, lambda: implementation(run, check.params),
                     check.when_unavailable)


def _conclude(run: PhaseRun, context: Any, name: str, kind: str, measure: Callable[[], CheckResult],
              when_unavailable: str = "fail") -> dict[str, Any]:
    """Record the result; fail on evidence, retry on an unreachable source, then fail. A source the
    deployment does not have fails too, unless the plan marks the check not applicable then."""
    try:
        result = measure()
    except SourceUnavailableError as exc:
        result = (CheckResult(Outcome.NOT_APPLICABLE, f"not applicable by the plan (when_unavailable): {exc}",
                              {"when_unavailable": when_unavailable})
                  if when_unavailable == "not_applicable" else
                  CheckResult(Outcome.FAILED, f"cannot measure: {exc} (the plan does not allow this check to be "
                                              "not applicable)", {"when_unavailable": when_unavailable}))
    except AirflowNotFoundException as exc:  # a connection id that does not exist: name it, record it
        result = CheckResult(Outcome.ERROR, f"misconfigured: {exc}")
    except AirflowException:
        raise
    except ConfigurationError as exc:
        result = CheckResult(Outcome.ERROR, f"misconfigured: {exc}")
    except Exception as exc:  # noqa: BLE001 - an unreachable source is an error, not a failure
        result = CheckResult(Outcome.ERROR, f"could not measure: {type(exc).__name__}: {exc}")
    run.record("check_result", result.outcome.value, {"check": name, "kind": kind, **result.as_dict()},
               result.evidence)
    message = f"{name}: {result.summary}"
    if result.outcome in (Outcome.FAILED, Outcome.INCONCLUSIVE):
        run.notify("failed", message, severity="P2")
        raise AirflowFailException(message)
    if result.outcome is Outcome.ERROR:
        ti = context["ti"]
        if int(getattr(ti, "try_number", 1) or 1) > int(getattr(ti, "max_tries", 0) or 0):
            run.notify("failed", message, severity="P2")
            raise AirflowFailException(message)
        raise AirflowException(message)
    return {"check": name, **result.as_dict()}


# --- the ledger decides -----------------------------------------------------------------------

def require_gates(run: PhaseRun, completing: bool = False, reread_evidence: bool = False) -> None:
    """Refuse to act (or to complete) unless this run's ledger holds every gate's own record: a task
    marked success by hand, or an answer by the wrong person, leaves none. A P1: row, Slack, fail.
    ``reread_evidence``: also re-read the files the approval reviewed (once, right before the change)."""
    from include.launch.engine import ledger_gate
    from include.launch.evidence.store import read_url

    rows = run.own_rows()
    missing = (ledger_gate.missing_before_completion(run.spec, rows, run.triggering_user, run.dry_run, run.params)
               if completing else
               ledger_gate.missing_before_change(run.spec, rows, run.triggering_user, run.params,
                                                 read_url if reread_evidence else None))
    if not missing:
        return
    what = "marked completed" if completing else "changed"
    reason = (f"{run.task_id} refused: the phase cannot be {what} because the ledger lacks what its gates must "
              f"record (a gate marked success by hand, or answered by the wrong person): " + "; ".join(missing))
    run.record(ledger_gate.REFUSED, Outcome.FAILED.value, {"summary": reason, "missing": missing,
                                                          "severity": "P1", "task": run.task_id})
    run.notify("failed", reason, severity="P1")
    raise AirflowFailException(reason)


# --- change -----------------------------------------------------------------------------------

def snapshot_before(spec: PhaseSpec, context: Any) -> dict[str, Any]:
    run = PhaseRun.from_context(spec, context)
    require_gates(run)
    if run.dry_run:
        run.record("snapshot_skipped", Outcome.NOT_APPLICABLE.value, {"reason": "dry run"})
        return {"dry_run": True}
    refuse_second_change(run, CHANGE_EVENTS)
    snapshot = applier_for(spec, run.params).snapshot(run)
    run.record("snapshot_taken", Outcome.SUCCESSFUL.value, {"snapshot": snapshot})
    return snapshot


def apply_change(spec: PhaseSpec, context: Any) -> dict[str, Any]:
    run = PhaseRun.from_context(spec, context)
    if run.dry_run:
        run.record("change_skipped", Outcome.NOT_APPLICABLE.value, {"reason": "dry run: no change"})
        return {"dry_run": True}
    snapshot = context["ti"].xcom_pull(task_ids="snapshot_before")
    if not snapshot:
        raise AirflowFailException("no snapshot from snapshot_before; refusing to change what cannot be restored")
    refuse_second_change(run, ("change_applied", "rollback_started"))
    require_gates(run, reread_evidence=True)
    freeze_guard(run, datetime.now(UTC))  # the approval may have come hours after the pre-check
    versions_before: dict[str, str] | None = None
    if change_guard.guarded(run):  # before anything is touched: a forbidden setting, an unreadable version
        change_guard.refuse_untouchable_settings(run)
        versions_before = change_guard.read_versions(run)
    context["ti"].xcom_push(key=CHANGE_STARTED_KEY, value=True)
    after = applier_for(spec, run.params).apply(run, snapshot)
    run.record("change_applied", Outcome.SUCCESSFUL.value, {"before": snapshot, "after": after})
    if versions_before is not None:  # a moved version fails the step: the rollback restores the settings
        change_guard.judge_versions(run, versions_before, change_guard.read_versions(run))
    return after


# --- rollback ---------------------------------------------------------------------------------

def rollback(spec: PhaseSpec, context: Any) -> None:
    """Restore the snapshot, verify it on every replica, record why, then fail the run."""
    run = PhaseRun.from_context(spec, context)
    ti = context["ti"]
    if run.dry_run or not ti.xcom_pull(task_ids="apply_change", key=CHANGE_STARTED_KEY):
        raise AirflowSkipException("no change was started in this run: nothing to roll back")
    if refused_rerun(run):  # a cleared run keeps its first pass's XComs: the ledger says what this pass did
        raise AirflowSkipException("this pass of a cleared run was refused before any change: nothing to roll back; "
                                   "the first pass's outcome stands")
    reason = _failure_reason(run)
    restore_snapshot(run, ti.xcom_pull(task_ids="snapshot_before"), reason)
    raise AirflowFailException(f"change rolled back: {reason}")


def _failure_reason(run: PhaseRun) -> str:
    """Why we are rolling back, from this run's failed ledger rows (checks, soak breaches, steps)."""
    failed = [row for row in run.own_rows() if row.outcome == Outcome.FAILED.value]
    if not failed:
        return "a step after the change failed"
    return "; ".join(str(row.payload.get("summary") or row.payload.get("error") or row.event) for row in failed[-3:])


# --- completion -------------------------------------------------------------------------------

def require_evidence_files(run: PhaseRun) -> None:
    """Refuse to mark the phase completed while a file its plan lists as due now is missing from
    this run's evidence. The change stays applied (every gate held); the phase is not completed, so
    the next phase cannot start until a run leaves the whole record."""
    from include.launch.evidence.required import missing

    absent = missing(run.spec.phase.evidence_files, run.evidence.names(), due="complete",
                     incidents_opened=bool(run.own_rows("incident_opened")))
    if not absent:
        return
    reason = (f"complete refused: the evidence the plan lists is missing from this run: {', '.join(absent)}; the "
              "change stays applied and every gate held, but the phase is not completed without its record")
    run.record("evidence_missing", Outcome.FAILED.value, {"summary": reason, "missing": absent, "severity": "P1"})
    run.notify("failed", reason, severity="P1")
    raise AirflowFailException(reason)


def complete(spec: PhaseSpec, context: Any) -> dict[str, Any]:
    from include.launch.evidence.report import write_phase_report

    run = PhaseRun.from_context(spec, context)
    try:
        require_gates(run, completing=True)
    except AirflowFailException as refused:
        # A verification or soak marked success by hand let a change through: it is rolled back here,
        # since complete is the last task (the rollback task only sees failures before it).
        ti = context["ti"]
        if spec.has_change and not run.dry_run and ti.xcom_pull(task_ids="apply_change", key=CHANGE_STARTED_KEY):
            restore_snapshot(run, ti.xcom_pull(task_ids="snapshot_before"), str(refused))
        raise
    if run.dry_run:
        run.record("phase_dry_run", Outcome.SUCCESSFUL.value, {"note": "dry run: checks and approval only"})
        run.notify("completed", "Dry run finished: every check and the approval, no change.")
        return {"outcome": "dry_run"}
    report = write_phase_report(run, context)
    require_evidence_files(run)
    weakened = next((row.payload.get("weakened") or [] for row in run.own_rows("phase_started")), [])
    run.record("phase_completed", Outcome.SUCCESSFUL.value,
               {"report": report.path, "weakened": weakened}, [report])
    marked = " (WEAKENED RUN)" if weakened else ""
    run.notify("completed", f"{spec.phase.title} completed{marked}; report {report.path}", details=run.ledger_head())
    return {"outcome": "completed", "report": report.path}
