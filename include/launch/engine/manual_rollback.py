"""Roll a completed phase back by hand: the launch's ``<launch>_manual_rollback`` DAG.

Seed 000 lets the engineering lead roll back alone, without an approval. The plan names the role
(``rollback.manual_by_role``); only the phase's approvers holding it may trigger this DAG for that
phase. It restores the snapshot the phase's latest completed run took (never plan values), reads it
back from every replica like an automatic rollback (``engine.restore.restore_snapshot``: a failure is a P0),
writes ``manual_rollback.md`` into the evidence folder, and records ``manual_rollback_completed``.
From then on the phase no longer counts as completed: the next phase's order gate refuses, and the
status table says ROLLED BACK, until the phase completes again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from include.access.roles import MANUAL_ROLLBACK_SUFFIX
from include.launch.plan.models import Phase, Plan

DONE = "manual_rollback_completed"
REFUSED = "manual_rollback_refused"
REASON_MIN_CHARS = 10


def rollbackable(plan: Plan) -> list[Phase]:
    """Phases with a change whose plan names who may roll them back by hand."""
    return [p for p in plan.phases if p.change is not None and p.rollback is not None and p.rollback.manual_by_role]


def allowed_users(phase: Phase) -> list[str]:
    assert phase.rollback is not None
    return [a.id for a in phase.approval.approvers if a.role == phase.rollback.manual_by_role]


def rolled_back_by_hand(rows: list[Any], phase_id: str) -> Any:
    """The manual rollback that undid the phase's latest completion, or None while it stands."""
    mine = [r for r in rows if r.phase_id == phase_id]
    completed = [r for r in mine if r.event == "phase_completed" and r.outcome == "successful"]
    undone = [r for r in mine if r.event == DONE]
    if undone and (not completed or undone[-1].seq > completed[-1].seq):
        return undone[-1]
    return None


def build_manual_rollback_dag(plan: Plan, plan_path: str | Path) -> DAG:
    phases = rollbackable(plan)
    if not phases:
        raise KeyError(f"plan {plan.launch.id!r} names no rollback.manual_by_role on any phase")

    def on_failure(context: Any) -> None:
        _notify_failure(plan, plan_path, context)

    def on_dag_failure(context: Any) -> None:  # the task's callback has told Slack already
        import logging

        logging.getLogger(__name__).warning("manual rollback run %s failed", context.get("run_id"))

    with DAG(
        dag_id=f"{plan.launch.id}{MANUAL_ROLLBACK_SUFFIX}",  # approvers may trigger it (include.access)
        description=f"{plan.launch.name}: roll a completed phase back by hand (no approval; the plan's role only)",
        schedule=None, catchup=False, max_active_runs=1,
        tags=["launch", plan.launch.id, "rollback"],
        params={
            "phase": Param(phases[0].id, type="string", enum=[p.id for p in phases], title="Phase to roll back",
                           description="Its latest completed run's snapshot is restored on every replica."),
            "reason": Param("", type="string", minLength=REASON_MIN_CHARS, maxLength=2000, title="Reason",
                            description="Why, in words the incident review will read."),
        },
        default_args={"owner": plan.launch.owner, "retries": 0, "on_failure_callback": on_failure},
        on_failure_callback=on_dag_failure,
        doc_md=f"Roll back one of: {', '.join(p.id for p in phases)}. Only "
               + "; ".join(f"{p.id}: {p.rollback.manual_by_role}" for p in phases if p.rollback) + ".",
    ) as dag:
        def roll_back_step(**context: Any) -> dict[str, Any]:
            return roll_back(plan, plan_path, context)

        roll_back_step.__name__ = "roll_back"
        task(task_id="roll_back")(roll_back_step)()
    return dag


def roll_back(plan: Plan, plan_path: str | Path, context: Any) -> dict[str, Any]:
    """Authorize, find the completed run, take the launch lock, restore, read back, record."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.launch.engine import locks
    from include.launch.engine.restore import restore_snapshot
    from include.launch.evidence.runtime import PhaseRun
    from include.launch.spec.phase import build_phase_spec

    params = dict(context.get("params") or {})
    phase = plan.phase(str(params["phase"]))
    spec = build_phase_spec(plan, phase.id, plan_path)
    asker = PhaseRun.from_context(spec, context)
    user, reason = asker.triggering_user, str(params.get("reason") or "").strip()

    def refuse(why: str) -> None:
        asker.record(REFUSED, "failed", {"reason": why, "requested_reason": reason}, actor=user)
        asker.notify("failed", f"Manual rollback of {phase.id} refused: {why}", severity="P2")
        raise AirflowFailException(f"manual rollback refused: {why}")

    if user not in allowed_users(phase):
        refuse(f"{user or 'unknown'!r} may not roll back {phase.id}: only {allowed_users(phase)} "
               f"({phase.rollback.manual_by_role if phase.rollback else ''})")
    if len(reason) < REASON_MIN_CHARS:
        refuse(f"a reason of at least {REASON_MIN_CHARS} characters is required")
    rows = asker.ledger.rows(launch_id=spec.launch_id, phase_id=phase.id)
    completed = [r for r in rows if r.event == "phase_completed" and r.outcome == "successful"]
    if not completed or rolled_back_by_hand(rows, phase.id) is not None:
        refuse(f"{phase.id} has no completed run standing (never completed, or already rolled back)")
    of_run = completed[-1].run_id
    snapshot = next((r.payload["snapshot"] for r in rows if r.run_id == of_run and r.event == "snapshot_taken"), None)
    started = next((r.payload for r in rows if r.run_id == of_run and r.event == "phase_started"), {})
    if not snapshot:
        refuse(f"run {of_run} recorded no snapshot: nothing to restore from")
    holder = locks.acquire(asker.ledger.dsn, spec.launch_id, str(context["dag"].dag_id), asker.run_id)
    if holder is not None:
        refuse(f"another change of launch {spec.launch_id!r} is in progress (dag {holder.dag_id}, run {holder.run_id})")
    # The completed run's own params build its applier: the rollback restores that run's target.
    run = PhaseRun(spec=spec, run_id=asker.run_id, task_id=asker.task_id, params=dict(started.get("params") or {}),
                   triggering_user=user)
    try:
        restore_snapshot(run, snapshot, f"manual rollback by {user}: {reason}")
        readback = [r for r in run.own_rows("rollback_completed")][-1].payload.get("read_back")
        document = run.evidence.write_text("manual_rollback.md", "\n".join([
            f"# Manual rollback: {plan.launch.name}, {phase.title}", "",
            f"- Rolled back by: {user} ({phase.rollback.manual_by_role if phase.rollback else ''}), no approval",
            f"- Reason: {reason}", f"- Completed run undone: `{of_run}`",
            f"- Restored: `{snapshot}`", f"- Read back from every replica: `{readback}`", ""]))
        run.record(DONE, "successful", {"of_run": of_run, "reason": reason, "restored": snapshot,
                                        "read_back": readback}, [document], actor=user)
    finally:
        locks.release(asker.ledger.dsn, spec.launch_id, str(context["dag"].dag_id), asker.run_id)
    return {"phase": phase.id, "of_run": of_run, "restored": snapshot}


def _notify_failure(plan: Plan, plan_path: str | Path, context: Any) -> None:
    """Slack hears of a manual rollback that failed (a refusal has already said why)."""
    import logging

    from include.launch.evidence.runtime import PhaseRun
    from include.launch.spec.phase import build_phase_spec

    try:
        phase_id = str((context.get("params") or {}).get("phase"))
        run = PhaseRun.from_context(build_phase_spec(plan, phase_id, plan_path), context)
        if not run.own_rows(REFUSED):
            run.notify("failed", f"Manual rollback of {phase_id} failed: {context.get('exception')}", severity="P1")
    except Exception:  # a callback must never hide the original failure
        logging.getLogger(__name__).exception("could not report the manual rollback's failure")
