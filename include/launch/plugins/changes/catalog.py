"""Every change kind a plan may name, with its params.

A change applier can apply, read back and revert; revert restores the values captured before the
change (never values written in the plan), so the plan gives only the target values.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from include.launch.core.criteria import Criterion
from include.launch.core.registry import Params, Registry
from include.launch.review.model import ReviewCriterion

CHANGES = Registry("change")

class SettingsChangeParams(Params):
    """settings: target values by key (env var names); documented_before: what the documents say
    the current values are (shown to approvers, compared with what snapshot_before reads);
    form_fields: trigger-form field name -> setting key (``workers: WORKER_COUNT``)."""

    settings: dict[str, int | str] = Field(min_length=1)
    documented_before: dict[str, int | str] = Field(default_factory=dict)
    form_fields: dict[str, str] = Field(default_factory=dict)
    health_timeout_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _keys_changed(self) -> SettingsChangeParams:
        """Bounds on the values are the target profile's (``setting_rules``), not this kind's."""
        unknown = set(self.documented_before) - set(self.settings)
        if unknown:
            raise ValueError(f"documented_before names keys that are not changed: {sorted(unknown)}")
        unmapped = set(self.form_fields.values()) - set(self.settings)
        if unmapped:
            raise ValueError(f"form_fields map to keys that are not changed: {sorted(unmapped)}")
        return self

    def trigger_form(self) -> dict[str, dict[str, Any]]:
        return {name: {"default": self.settings[key], "type": "integer", "minimum": 1, "title": name,
                       "description": f"New value of {key} (plan: {self.settings[key]})."}
                for name, key in self.form_fields.items()}

    def with_overrides(self, values: dict[str, Any]) -> SettingsChangeParams:
        """The same change with trigger-form values (by form field name) applied and re-validated."""
        settings = dict(self.settings)
        for field_name, key in self.form_fields.items():
            if field_name in values and values[field_name] is not None:
                settings[key] = values[field_name]
        return SettingsChangeParams.model_validate({**self.model_dump(), "settings": settings})


class MonitoringInstallParams(Params):
    """dashboards: dashboard names to provision; test_alert: send one and check delivery."""

    dashboards: list[str] = Field(min_length=1)
    test_alert: bool = True


class BetaEnrollmentParams(Params):
    """cohort_min/max: invitees (10-20 in the documents); detailed_logging_hours (72); beta_days (14).

    cohort: the invitees, ``"tenant_id:user_id"`` each (or ``{"tenant_id": .., "user_id": ..}``),
    one per tenant, given in the trigger form; flag / logging_flag: the feature flags set per cohort
    tenant; email_sender: ``outbox`` (messages written to the evidence folder) or ``smtp`` (through
    the Airflow connection ``smtp_conn_id``); inactive_roles: user roles that cannot be invited;
    pause_roles: who may pause the running beta by hand on any day (the beta control DAG);
    resume_roles: who may resume a paused beta once the incidents that paused it are resolved.
    """

    cohort_min: int = Field(default=10, ge=1)
    cohort_max: int = Field(default=20, ge=1)
    detailed_logging_hours: float = Field(default=72.0, gt=0)
    beta_days: int = Field(default=14, ge=1)
    flag: str = "beta"
    logging_flag: str = "detailed_logging"
    cohort: list[str | dict[str, Any]] = Field(default_factory=list)
    email_sender: Literal["outbox", "smtp"] = "outbox"
    smtp_conn_id: str = "smtp_beta"
    inactive_roles: list[str] = Field(default_factory=lambda: ["disabled", "inactive", "deactivated", "suspended"])
    beta_start_date: str | None = None
    pause_roles: list[str] = Field(default_factory=list)
    resume_roles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cohort_bounds(self) -> BetaEnrollmentParams:
        if self.cohort_min > self.cohort_max:
            raise ValueError(f"cohort_min ({self.cohort_min}) must be <= cohort_max ({self.cohort_max})")
        if self.flag == self.logging_flag:
            raise ValueError(f"flag and logging_flag must differ (both {self.flag!r})")
        self.start_day()
        return self

    def start_day(self) -> date | None:
        """The beta's first day when the form backdates it: never in the future, never so early that
        the beta would already be over (an earlier day records a beta already under way)."""
        if not self.beta_start_date:
            return None
        try:
            day = date.fromisoformat(self.beta_start_date)
        except ValueError:
            raise ValueError(f"beta_start_date: {self.beta_start_date!r} is not a date (YYYY-MM-DD)") from None
        today = datetime.now(UTC).date()
        if day > today:
            raise ValueError(f"beta_start_date: {day} is in the future (today is {today}); leave it empty to start "
                             "today")
        if (today - day).days >= self.beta_days:
            raise ValueError(f"beta_start_date: {day} is {(today - day).days} days ago, so a {self.beta_days}-day "
                             "beta would already be over")
        return day

    def trigger_form(self) -> dict[str, dict[str, Any]]:
        return {
            "cohort": {"default": [str(entry) for entry in self.cohort], "type": "array",
                       "items": {"type": "string"}, "title": "Beta cohort",
                       "description": f"{self.cohort_min}-{self.cohort_max} invitees, one per line as "
                                      "tenant_id:user_id; one invitee per tenant."},
            "detailed_logging_hours": {"default": self.detailed_logging_hours, "type": "number",
                                       "exclusiveMinimum": 0, "title": "Detailed logging (hours)",
                                       "description": "Detailed logging for the cohort expires after this."},
            "beta_days": {"default": self.beta_days, "type": "integer", "minimum": 1, "title": "Beta days",
                          "description": "Length of the beta; the daily metrics DAG scores each day."},
            "beta_start_date": {"default": self.beta_start_date, "type": ["null", "string"], "format": "date",
                                "title": "Beta start date (UTC)",
                                "description": "Empty: the beta starts today. An earlier day records a beta "
                                               "already under way (invited outside the pipeline, or a replay); "
                                               "the daily metrics DAG then scores its days from that date."},
        }

    def with_overrides(self, values: dict[str, Any]) -> BetaEnrollmentParams:
        """The plan's params with the form's cohort, logging hours and beta days; the cohort is checked
        (size, shape, duplicates, one invitee per tenant) and every bad entry named."""
        from include.launch.beta.cohort import cohort_problems

        updates = {key: values[key] for key in ("cohort", "detailed_logging_hours", "beta_days", "beta_start_date")
                   if values.get(key) is not None}
        params = BetaEnrollmentParams.model_validate({**self.model_dump(), **updates})
        problems = cohort_problems(params.cohort, params.cohort_min, params.cohort_max)
        if problems:
            raise ValueError("cohort: " + "; ".join(problems))
        return params


class ScalingDecision(Params):
    """name: what is scaled; current -> proposed in unit; scale_when: all must hold, on the beta's
    mean of the daily values, to say yes (a rule without data says keep: no data, no scaling)."""

    name: str
    current: float = Field(gt=0)
    proposed: float = Field(gt=0)
    unit: str
    scale_when: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_conditions(self) -> ScalingDecision:
        if any(rule.when is not None for rule in self.scale_when):
            raise ValueError("scale_when: a rule here is judged on the beta's mean as it is; 'when' is not applied")
        return self


class RolloutDecisionParams(Params):
    """rollout_users: size of the next rollout; decisions: scaling questions answered from data;
    scorecard: the daily scorecard whose evidence is reviewed; criteria: the launch document's
    success criteria over that scorecard's metrics (empty: one per scorecard criterion, the latest
    value, data integrity critical); options: the answers the decision offers; min_days_measured: a
    daily criterion measured on fewer days of the beta is "not enough data" (default: every day);
    min_survey_answers: a survey criterion read from a survey with fewer answers is too."""

    rollout_users: int = Field(ge=1)
    min_days_measured: int | None = Field(default=None, ge=1)
    min_survey_answers: int = Field(default=1, ge=1)
    options: list[Literal["YES", "CONDITIONAL", "NO"]] = Field(default=["YES", "CONDITIONAL", "NO"], min_length=1)
    decisions: list[ScalingDecision] = Field(default_factory=list)
    scorecard: str = "beta_daily_metrics"
    criteria: list[ReviewCriterion] = Field(default_factory=list)


class CanaryParams(Params):
    """version: the version deployed to the canary group (trigger form ``canary_version``);
    steps_percent: traffic on the new version per step, ascending to 100; total_minutes: the whole
    canary, split evenly over the steps (trigger form ``canary_total_minutes``);
    analysis_interval_seconds: between analysis samples within a step (default 30);
    min_requests: a sample with fewer canary requests is inconclusive (default 10);
    stable_versions_kept: known-good versions that must be kept for rollback (>= 3 in the documents);
    health_timeout_seconds: a redeployed canary replica must be healthy within it (60)."""

    version: str = Field(min_length=1)
    steps_percent: list[int] = Field(min_length=1)
    total_minutes: float = Field(gt=0)
    analysis_interval_seconds: float = Field(default=30.0, gt=0)
    min_requests: int = Field(default=10, ge=1)
    stable_versions_kept: int = Field(default=3, ge=1)
    health_timeout_seconds: float = Field(default=60.0, gt=0)

    def trigger_form(self) -> dict[str, dict[str, Any]]:
        return {
            "canary_version": {"default": self.version, "type": "string", "minLength": 1, "title": "canary_version",
                               "description": f"Version deployed to the canary (plan: {self.version})."},
            "canary_total_minutes": {"default": self.total_minutes, "type": "number", "exclusiveMinimum": 0,
                                     "title": "canary_total_minutes",
                                     "description": f"Whole canary, minutes (plan: {self.total_minutes:g})."},
        }

    def with_overrides(self, values: dict[str, Any]) -> CanaryParams:
        updates: dict[str, Any] = {}
        if values.get("canary_version"):
            updates["version"] = values["canary_version"]
        if values.get("canary_total_minutes") is not None:
            updates["total_minutes"] = values["canary_total_minutes"]
        return CanaryParams.model_validate({**self.model_dump(), **updates}) if updates else self

    @model_validator(mode="after")
    def _steps_ascend_to_100(self) -> CanaryParams:
        steps = self.steps_percent
        if any(not 0 < step <= 100 for step in steps):
            raise ValueError(f"steps_percent: every step must be in 1-100 (got {steps})")
        if steps != sorted(set(steps)) or steps[-1] != 100:
            raise ValueError(f"steps_percent: must strictly ascend and end at 100 (got {steps})")
        return self


CHANGES.register_all("include.launch.plugins.changes", [
    ("env_file_rolling_restart", SettingsChangeParams, "env_file", "write the env file, restart replicas one by one"),
    ("http_hot_reload", SettingsChangeParams, "env_file", "write the env file, reload each replica over HTTP"),
    ("monitoring_install", MonitoringInstallParams, "monitoring", "install rules and dashboards, reload"),
    ("beta_enrollment", BetaEnrollmentParams, "beta", "enroll the cohort, enable logging, invite"),
    ("rollout_decision", RolloutDecisionParams, "review", "record the executive rollout decision"),
    ("canary_traffic_shift", CanaryParams, "canary", "shift traffic to the new version step by step"),
])



def settings_change_kinds() -> frozenset[str]:
    """The change kinds that write the service's settings (``SettingsChangeParams``): the target
    profile's list bounds them, and their phase records the service's version before and after."""
    return frozenset(kind for kind in CHANGES.names() if CHANGES.get(kind).params_model is SettingsChangeParams)


# Change kinds that give new users the change: an open incident whose rule says "pause new users"
# refuses them at the phase gate (include.launch.engine.incidents).
ENROLS_USERS = frozenset({"beta_enrollment"})
# Change kinds that change nothing in the target (the 'change' is a recorded decision): "stop all
# changes" does not refuse them, so the review of an incident-hit beta can still say NO; the applier
# itself refuses any other answer while such an incident is open.
DECISION_ONLY = frozenset({"rollout_decision"})

# What each applier's revert does, in the words a plan's ``rollback.kind`` uses: plan check refuses a
# rollback kind the change cannot perform (the plan would promise a rollback nobody runs).
ROLLBACK_KINDS: dict[str, str] = {
    "env_file_rolling_restart": "revert", "http_hot_reload": "revert", "monitoring_install": "revert",
    "beta_enrollment": "pause_beta", "rollout_decision": "revert", "canary_traffic_shift": "stable_traffic",
}
