"""A phase DAG's trigger form: the fields an operator may set when starting a run (the change's own
fields, the soak window, the load, a dry run, a freeze override's justification). The DAG builder
renders it and the phase gate refuses any key it does not offer."""

from __future__ import annotations

from airflow.sdk import Param

from include.launch.plan.models import FreezeWindow
from include.launch.spec.phase import PhaseSpec

OVERRIDE_PARAM = "freeze_override_justification"


def overridable_windows(spec: PhaseSpec) -> list[FreezeWindow]:
    """The plan's windows a person may lift for this phase (none for an exempt phase)."""
    if spec.phase.freeze_exempt:
        return []
    return [window for window in spec.plan.freeze_windows if window.override is not None]


def trigger_form(spec: PhaseSpec) -> dict[str, Param]:
    """Validated trigger-form params: the change's form fields, soak window, load, dry run."""
    form: dict[str, Param] = {
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Run every check and the approval; change nothing."),
    }
    if overridable_windows(spec):
        form[OVERRIDE_PARAM] = Param("", type="string", maxLength=2000, title="Freeze override justification",
                                     description="Only inside a change freeze: why this change cannot wait for the "
                                                 "window's end. Leave empty otherwise; a person the plan names must "
                                                 "approve the override.")
    if spec.change_params is not None:
        for name, options in spec.change_params.trigger_form().items():
            form[name] = Param(**options)
    if spec.has_soak and spec.phase.soak is not None:
        form["monitor_minutes"] = Param(spec.phase.soak.window_minutes, type="number", exclusiveMinimum=0,
                                        description="Sustained-monitoring window, minutes.")
        form["sample_interval_seconds"] = Param(spec.phase.soak.interval_seconds, type="number", minimum=1,
                                                description="Seconds between soak samples.")
    if spec.phase.rollback is not None:
        form["rollback_watch_minutes"] = Param(spec.phase.rollback.watch_minutes, type="number", minimum=0,
                                               description="Monitoring after a rollback, minutes.")
    for check in spec.verify:
        if check.kind == "synthetic_load":
            defaults = check.params.model_dump()
            form["synthetic_requests"] = Param(defaults["requests"], type="integer", minimum=1)
            form["concurrency"] = Param(defaults["concurrency"], type="integer", minimum=1)
    return form
