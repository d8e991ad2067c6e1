"""The per-task view of a phase run: ledger, evidence, Slack and params, built from Airflow's context.

Every task of a phase DAG starts by building a PhaseRun, so recording an event, writing evidence
and telling Slack work the same way everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from include.launch.evidence.ledger import Event, Ledger, Row
from include.launch.evidence.notify import Message, SlackNotifier, airflow_link
from include.launch.evidence.store import EvidenceRef, EvidenceStore
from include.launch.spec.phase import PhaseSpec

if TYPE_CHECKING:
    from include.launch.evidence.checkpoint import CheckpointWriter


def run_folder(run_id: str) -> str:
    """A folder name for a run id (``manual__2026-11-23T03:28:34.247363+00:00`` -> safe characters)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", run_id).strip("-") or "run"


@dataclass
class PhaseRun:
    spec: PhaseSpec
    run_id: str
    task_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    triggering_user: str = ""

    @classmethod
    def from_context(cls, spec: PhaseSpec, context: Any) -> PhaseRun:
        dag_run = context.get("dag_run")
        ti = context.get("ti") or context.get("task_instance")
        return cls(
            spec=spec,
            run_id=str(context.get("run_id") or getattr(dag_run, "run_id", "")),
            task_id=str(getattr(ti, "task_id", "") or ""),
            params=dict(context.get("params") or {}),
            triggering_user=str(getattr(dag_run, "triggering_user_name", "") or ""),
        )

    @property
    def dry_run(self) -> bool:
        return bool(self.params.get("dry_run", False))

    @cached_property
    def ledger(self) -> Ledger:
        ledger = Ledger.from_connection(self.spec.plan.connections.ledger)
        ledger.ensure_schema()
        return ledger

    def own_rows(self, event: str | None = None) -> list[Row]:
        """This run's ledger rows (of one ``event`` when given), oldest first: what it already did."""
        return self.ledger.rows(launch_id=self.spec.launch_id, phase_id=self.spec.phase.id, event=event,
                                run_id=self.run_id)

    @cached_property
    def evidence(self) -> EvidenceStore:
        """This run's evidence folder, ``<phase>/<run>/``: a phase may run again after a rollback or
        a rejection, and each run's files stay as they were written (the ledger holds their hashes)."""
        return EvidenceStore(self.spec.plan.evidence.base, f"{self.spec.phase.id}/{run_folder(self.run_id)}")

    @cached_property
    def notifier(self) -> SlackNotifier:
        return self._notifier(self.ledger)

    def _notifier(self, ledger: Ledger | None) -> SlackNotifier:
        settings = self.spec.plan.notifications
        return SlackNotifier(
            conn_id=self.spec.plan.connections.slack,
            retries=settings.retries,
            backoff_seconds=settings.backoff_seconds,
            timeout_seconds=settings.timeout_seconds,
            ledger=ledger,
            run_id=self.run_id,
        )

    @cached_property
    def checkpoints(self) -> CheckpointWriter:
        from include.launch.evidence.checkpoint import CheckpointWriter

        return CheckpointWriter(self.spec.plan.connections.signing_key, self.spec.plan.evidence.base)

    def ledger_head(self) -> dict[str, str]:
        """The signed head as a Slack detail: an auditor can hold the ledger to it from outside."""
        last = self.checkpoints.last
        if last is None:
            return {"Ledger head": "not signed (no signing key)"}
        return {"Ledger head": f"seq {last.seq}, {last.row_hash[:16]}, signed with key {last.key_id}"}

    def record(self, event: str, outcome: str = "", payload: dict[str, Any] | None = None,
               evidence: list[EvidenceRef] | None = None, actor: str = "") -> Row:
        """Append a ledger row, then sign a checkpoint of it outside the database (evidence.checkpoint)."""
        row = self.ledger.append(Event(
            launch_id=self.spec.launch_id, phase_id=self.spec.phase.id, run_id=self.run_id,
            task_id=self.task_id, event=event, outcome=outcome, actor=actor or self.triggering_user,
            payload=payload or {}, evidence=evidence or [],
        ))
        self.checkpoints.after(row.seq, row.row_hash)
        return row

    def notify(self, outcome: str, reason: str = "", severity: str = "", details: dict[str, str] | None = None,
               record: bool = True) -> bool:
        """Tell Slack; ``record=False`` for an alarm about the ledger itself, which must not need it
        (a message Slack refused is then only logged)."""
        notifier = self.notifier if record else self._notifier(None)
        return notifier.send(Message(
            launch=self.spec.launch_id + (" [DEMO PLAN]" if self.spec.plan.mode == "demo" else ""),
            phase=self.spec.phase.id, outcome=outcome, reason=reason,
            task=self.task_id, severity=severity,
            link=airflow_link(self.spec.dag_id, self.run_id, self.task_id), details=details or {},
        ))
