"""The phase report: every success criterion with threshold, measured value and verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceRef


def _latest_measurements(run: PhaseRun) -> dict[str, float]:
    """The last measured value of every metric in this run's ledger rows (checks, soak)."""
    values: dict[str, float] = {}
    for row in run.ledger.rows(launch_id=run.spec.launch_id, phase_id=run.spec.phase.id):
        if row.run_id != run.run_id:
            continue
        for criterion in row.payload.get("criteria", []):
            if criterion.get("measured") is not None:
                values[criterion["metric"]] = float(criterion["measured"])
        for metric, value in (row.payload.get("metrics") or {}).items():
            if isinstance(value, (int, float)):
                values[metric] = float(value)
    return values


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _checks(run: PhaseRun) -> dict[str, Any]:
    """This run's latest result of every check (a retry's row replaces the earlier one); a check the
    plan lets be not applicable shows that outcome and why."""
    latest: dict[str, Any] = {}
    for row in run.own_rows("check_result"):
        latest[str(row.task_id or row.payload.get("check"))] = row
    return latest


def run_markings(run: PhaseRun) -> list[str]:
    """The lines that say a run is not production evidence: a demo plan, a weakened form."""
    lines = []
    if run.spec.plan.mode == "demo":
        lines.append(f"- **DEMO PLAN** (over `{run.spec.plan.extends or '-'}`): shortened windows and demo "
                     "allowances; not evidence for production")
    weakened = next((row.payload.get("weakened") or [] for row in run.own_rows("phase_started")), [])
    if weakened:
        lines.append(f"- **WEAKENED RUN**: {'; '.join(weakened)}; this completion does not open the next phase")
    return lines


def phase_report_markdown(run: PhaseRun, measured: dict[str, float], moment: datetime) -> str:
    phase = run.spec.phase
    lines = [
        f"# {run.spec.plan.launch.name}: {phase.title}",
        "",
        f"- Phase: `{phase.id}` (risk {phase.risk.value})",
        f"- Run: `{run.run_id}`",
        f"- Triggered by: {run.triggering_user or 'unknown'}",
        f"- Completed: {moment.isoformat(timespec='seconds')}",
        *run_markings(run),
        "",
        "| Criterion | Threshold | Measured | Result |",
        "|---|---|---|---|",
    ]
    from include.launch.spec.effective import effective_criteria

    for criterion in effective_criteria(run.spec, run.params):
        value = measured.get(criterion.metric.value)
        applies = criterion.applies(measured)
        verdict = ("no data" if value is None or applies is None else "PASS" if not applies or criterion.holds(value)
                   else "FAIL")
        shown = "-" if value is None else f"{value:g}"
        label = criterion.description or criterion.metric.value
        lines.append(f"| {label} | {criterion.op.value} {criterion.threshold:g} | {shown} | {verdict} |")
    lines += ["", "## Checks", "", "| Check | Outcome | Summary |", "|---|---|---|"]
    lines += [f"| {name} | {row.outcome} | {_cell(row.payload.get('summary', ''))} |"
              for name, row in _checks(run).items()]
    from include.launch.evidence.overrides import grant_lines, granted_overrides

    grants = grant_lines(granted_overrides(run.own_rows("freeze_override_granted")))
    lines += ["", "## Change freeze", ""] + ([f"- {line}" for line in grants] or
                                             ["- no freeze override: the change ran outside every freeze window"])
    lines += ["", f"Evidence: `{phase.id}/` under the evidence base; ledger verifies with "
                  "`python -m include.launch.ledger verify`.", ""]
    return "\n".join(lines)


def write_phase_report(run: PhaseRun, context: Any) -> EvidenceRef:
    moment = datetime.now(UTC)
    text = phase_report_markdown(run, _latest_measurements(run), moment)
    # The plan names the report file (e.g. pool_scaling_verification_[TIMESTAMP].md).
    pattern = next((name for name in (entry.name for entry in run.spec.phase.evidence_files)
                    if "[TIMESTAMP]" in name and name.endswith(".md")),
                   f"{run.spec.phase.id}_report_[TIMESTAMP].md")
    name = pattern.replace("[TIMESTAMP]", f"{moment:%Y%m%dT%H%M%S}")
    return run.evidence.write_text(name, text)
