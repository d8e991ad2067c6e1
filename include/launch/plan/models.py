"""The launch plan: small frozen models, one per concern, each field documented with unit and default.

A plan is data, never code: loaded with ``yaml.safe_load``, no environment expansion (secrets live
in Airflow connections, which the plan names by id).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from include.launch.core.criteria import Criterion, RollbackTrigger
from include.launch.core.registry import Params, Registry
from include.launch.core.vocabulary import Metric, Risk, Severity
from include.launch.plan.base import Model
from include.launch.plan.profile import TargetProfile
from include.launch.plugins.changes import CHANGES  # noqa: F401 - registers every change kind before plans validate
from include.launch.plugins.checks import CHECKS  # noqa: F401 - registers every check kind before plans validate
from include.launch.plugins.metrics import SOURCES  # noqa: F401 - registers every metric source kind
from include.launch.plugins.quality.model import DataModel

SLUG = r"^[a-z][a-z0-9_]*$"


class LaunchInfo(Model):
    """id: slug used in ledger rows and DAG ids; name/versions/customers: from the documents."""

    id: str = Field(pattern=SLUG)
    name: str = Field(min_length=1)
    version_from: str = ""
    version_to: str = ""
    customers: int = Field(default=0, ge=0)
    philosophy: str = ""
    owner: str = Field(default="launch-team", min_length=1)


class Connections(Model):
    """Airflow connection ids (never secrets themselves).

    ledger: PostgreSQL holding the audit ledger and locks (default ``launch_db``).
    target_api: HTTP connection of the target; extra ``replicas`` lists replica URLs, password is
    the admin token. target_db: the target's PostgreSQL. slack: slackwebhook connection.
    prometheus / alertmanager / grafana: optional; checks that need them say not-applicable if absent.
    pager: HTTP connection whose host is the pager's events URL (password: the routing key); the
    engine pages through it when the watch after a rollback breaches. ``plan check`` refuses a plan
    with a rollback policy and no pager. signing_key: the connection whose password is the Ed25519
    seed that signs a checkpoint of the ledger after every row (kept out of the ledger database).
    """

    ledger: str = "launch_db"
    target_api: str
    target_db: str
    slack: str = "slack_launch"
    prometheus: str | None = None
    alertmanager: str | None = None
    pager: str | None = None
    grafana: str | None = None
    signing_key: str = "launch_signing_key"


class Evidence(Model):
    """base: fsspec URL or local folder of the evidence tree (default ``launch/evidence``), overridden
    by env ``LAUNCH_EVIDENCE_BASE``. pre_launch_folder / dashboards: folders of REQUIREMENTS.md."""

    base: str = "launch/evidence"
    pre_launch_folder: str = "pre_launch"
    dashboards: str = "launch/dashboards"


class Approver(Model):
    """id: the Airflow user name; name: shown in the UI; role: e.g. ``CTO`` (used by sign-offs)."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    role: str = ""


class Approval(Model):
    """approvers: who may answer (at least one). timeout_minutes: unanswered -> no change (default
    1440). four_eyes: the triggering user may not approve (default true). signoff_roles: when set,
    one approval per role, each by a different person (Launch B's go/no-go).

    options: when set, the approval is a decision among these answers (Airflow's HITLBranchOperator,
    include.launch.engine.decision) instead of Approve / Reject: a ``propose`` task asks the change for its
    recommendation first, which the form preselects; a comment is required, and an answer against
    the recommendation needs a comment that says why. recommendation_from: the task whose return
    value's ``recommendation`` is preselected (default ``propose``).

    required_roles: the answer must come from a holder of this role (seed 000: the executive
    approves every phase); approvers of other roles are listed only for the manual rollback
    (``rollback.manual_by_role``) and are never asked (``plan check`` refuses one with neither
    duty). One role without sign-offs; with ``signoff_roles``, a subset of them.
    comment_min_chars: the answer, Approve or Reject, needs a written comment of at least this many
    characters (default 0: optional); a shorter one is refused and the question asked again.
    """

    approvers: list[Approver] = Field(min_length=1)
    timeout_minutes: float = Field(default=1440.0, gt=0)
    four_eyes: bool = True
    signoff_roles: list[str] = Field(default_factory=list)
    options: list[str] = Field(default_factory=list)
    recommendation_from: str = ""
    required_roles: list[str] = Field(default_factory=list)
    comment_min_chars: int = Field(default=0, ge=0)

    def answerers(self, role: str = "") -> list[Approver]:
        """Who may answer: the holders of ``role`` (one sign-off), else of a required role, else all."""
        if role:
            return [a for a in self.approvers if a.role == role]
        if self.required_roles:
            return [a for a in self.approvers if a.role in self.required_roles]
        return list(self.approvers)

    @model_validator(mode="after")
    def _roles_covered(self) -> Approval:
        ids = [approver.id for approver in self.approvers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"approvers: duplicate ids {duplicates}")
        roles = {approver.role for approver in self.approvers}
        missing = [role for role in self.signoff_roles if role not in roles]
        if missing:
            raise ValueError(f"signoff_roles: no approver holds role(s) {missing}")
        missing = [role for role in self.required_roles if role not in roles]
        if missing:
            raise ValueError(f"required_roles: no approver holds role(s) {missing}")
        if self.signoff_roles:
            unsigned = [role for role in self.required_roles if role not in self.signoff_roles]
            if unsigned:
                raise ValueError(f"required_roles: {unsigned} not in signoff_roles, so nobody would be asked to sign "
                                 "as them")
        elif len(self.required_roles) > 1:
            raise ValueError(f"required_roles: one answer comes from one person, so {self.required_roles} cannot "
                             "all be met; ask each role separately with signoff_roles")
        if self.options:
            if len(set(self.options)) != len(self.options) or len(self.options) < 2:
                raise ValueError(f"options: at least two distinct answers (got {self.options})")
            if self.signoff_roles:
                raise ValueError("options and signoff_roles cannot be combined: a decision has one answer")
        elif self.recommendation_from:
            raise ValueError("recommendation_from needs options: only a decision preselects a recommendation")
        return self


class PluginSpec(Model):
    """kind: a registered plug-in kind; name: task id (defaults to kind); params: the kind's params.
    when_unavailable (checks only): what a check does when the deployment has no source for it (no
    connection defined yet, e.g. no Alertmanager before Phase 2 installs monitoring): ``fail``
    (default: a gate that cannot measure never passes) or ``not_applicable`` (recorded and reported
    as not applicable by the plan). A source that is configured but does not answer always fails."""

    kind: str
    name: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    when_unavailable: Literal["fail", "not_applicable"] = "fail"

    @field_validator("name")
    @classmethod
    def _slug_name(cls, value: str) -> str:
        if value and not re.match(SLUG, value):
            raise ValueError(f"must be a lowercase slug (letters, digits, _), got {value!r}")
        return value

    @property
    def task_name(self) -> str:
        return self.name or self.kind

    def typed_params(self, registry: Registry) -> Params:
        return registry.get(self.kind).params_model.model_validate(self.params)  # type: ignore[no-any-return]


class Soak(Model):
    """window_minutes: how long the change is watched (60 for Phase 1). interval_seconds: between
    samples (60). inconclusive_limit: consecutive samples without data before failing safe (3).
    consecutive_error_limit: consecutive samples that could not be taken before failing (3).
    judged_at_end: metrics of success criteria judged only over the whole window; every other
    success criterion is judged at every sample, and one that fails rolls back at once (the
    documents: any failed success criterion means immediate rollback). Default: none."""

    window_minutes: float = Field(gt=0)
    interval_seconds: float = Field(default=60.0, gt=0)
    inconclusive_limit: int = Field(default=3, ge=1)
    consecutive_error_limit: int = Field(default=3, ge=1)
    judged_at_end: list[Metric] = Field(default_factory=list)

    @model_validator(mode="after")
    def _interval_fits_window(self) -> Soak:
        if self.interval_seconds > self.window_minutes * 60:
            raise ValueError(
                f"interval_seconds ({self.interval_seconds:g}) must be <= window_minutes x 60 "
                f"({self.window_minutes * 60:g})"
            )
        return self


class RollbackPolicy(Model):
    """watch_minutes: monitoring after a rollback (15). needs_approval: must stay false (plan check
    refuses true: an automatic rollback never waits for a person). target_minutes: how long a
    rollback should take (10, from the documents); a slower one opens a P1 incident. kind: what the
    rollback does; it must match what the phase's change kind does when reverted (plan check).
    manual_by_role: the approver role whose holders may roll a completed phase back by hand, with
    no approval, from the launch's manual-rollback DAG (default: nobody)."""

    watch_minutes: float = Field(default=15.0, gt=0)
    needs_approval: bool = False
    target_minutes: float = Field(default=10.0, gt=0)
    kind: str = "revert"
    manual_by_role: str = ""


class EvidenceFile(Model):
    """One file a phase must leave. name: a file, a pattern with [TIMESTAMP], [DATE] or [N] (any
    text), or a folder ending in ``/``. due: ``complete`` (default: the phase's complete task fails
    naming it when this run left no such file) or ``before_next_phase`` (written after the phase DAG
    ends, e.g. by the beta's daily DAG: the next phase's order gate refuses to start without it).
    A plain string is a file due at ``complete``."""

    name: str = Field(min_length=1)
    due: Literal["complete", "before_next_phase"] = "complete"

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class Phase(Model):
    """One phase: pre_checks -> approve -> snapshot_before -> apply_change -> verify -> soak -> complete.

    id: slug, also the evidence folder. dag_id: the Airflow DAG. requires: the phase that must have
    completed first (default: none). change: null for phases that decide rather than change.
    freeze_exempt: may run inside a change-freeze window (default false). release: the change
    deploys a new version of the service, so its version may move (default false: a settings
    change that moves the version is rolled back).
    """

    id: str = Field(pattern=SLUG)
    dag_id: str = Field(pattern=SLUG)
    title: str = Field(min_length=1)
    risk: Risk
    estimated_minutes: float = Field(gt=0)
    requires: str | None = None
    freeze_exempt: bool = False
    release: bool = False
    approval: Approval
    pre_checks: list[PluginSpec] = Field(default_factory=list)
    change: PluginSpec | None = None
    verify: list[PluginSpec] = Field(default_factory=list)
    success_criteria: list[Criterion] = Field(default_factory=list)
    rollback_triggers: list[RollbackTrigger] = Field(default_factory=list)
    soak: Soak | None = None
    rollback: RollbackPolicy | None = None
    evidence_files: list[EvidenceFile] = Field(default_factory=list)
    metric_sources: list[PluginSpec] = Field(default_factory=lambda: [PluginSpec(kind="target_scrape")],
                                             min_length=1)


class FreezeOverride(Model):
    """Who may lift a freeze window for one run, and how.

    approvers: who may grant it (never the user who triggered the run). justification_min_chars:
    the written justification the requester gives in the trigger form (default 20; 0: optional).
    second_approval: a second, different approver must grant it too (default false). max_hours:
    the override expires this long after it is granted, or when the window ends, whichever is
    first (default 8). timeout_minutes: an unanswered override request changes nothing (default 240).
    """

    approvers: list[Approver] = Field(min_length=1)
    justification_min_chars: int = Field(default=20, ge=0, le=2000)
    second_approval: bool = False
    max_hours: float = Field(default=8.0, gt=0, le=24 * 31)
    timeout_minutes: float = Field(default=240.0, gt=0)

    @model_validator(mode="after")
    def _enough_people(self) -> FreezeOverride:
        ids = [approver.id for approver in self.approvers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"approvers: duplicate ids {duplicates}")
        if self.second_approval and len(ids) < 2:
            raise ValueError("second_approval needs at least two approvers: the second must be a different person")
        return self


class FreezeWindow(Model):
    """A period with no changes. Either recurring month-end close (last_days_of_month and/or
    first_days_of_month, in timezone) or an explicit start/end. override: who may lift it for one
    run (default: nobody; the phase waits for the window's end)."""

    name: str = Field(min_length=1)
    last_days_of_month: int = Field(default=0, ge=0, le=15)
    first_days_of_month: int = Field(default=0, ge=0, le=15)
    start: datetime | None = None
    end: datetime | None = None
    timezone: str = "UTC"
    override: FreezeOverride | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (an IANA name such as 'UTC' or 'Europe/Berlin')") from None
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone (e.g. 2026-12-24T00:00:00Z): a bare time is ambiguous")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> FreezeWindow:
        recurring = self.last_days_of_month or self.first_days_of_month
        explicit = self.start is not None or self.end is not None
        if recurring and explicit:
            raise ValueError("give either recurring days or start/end, not both")
        if not recurring and not explicit:
            raise ValueError("give last_days_of_month/first_days_of_month or start/end")
        if explicit and (self.start is None or self.end is None or self.start >= self.end):
            raise ValueError("start and end are both required and start must be before end")
        return self


class IncidentRule(Model):
    """severity: P0/P1/P2; when: the documents' conditions; actions: what happens (each one the engine
    enforces or a duty for people: include.launch.plan.incident_rules); respond_within_minutes: an
    incident nobody acknowledged by then pages and is recorded as escalated; resolved_by_roles: the
    approver roles whose holders may resolve it (required for P0; empty: anyone the plan names)."""

    severity: Severity
    when: list[str] = Field(min_length=1)
    actions: list[str] = Field(min_length=1)
    respond_within_minutes: float | None = Field(default=None, gt=0)
    resolved_by_roles: list[str] = Field(default_factory=list)


class Scorecard(Model):
    """A daily scorecard DAG (AccuBooks beta metrics, Launch B first week).

    dag_id; schedule (cron); days: how many days it runs (14 beta, 7 first week); criteria scored
    each day; weekly_criteria scored on the last day of each week.
    """

    id: str = Field(pattern=SLUG)
    dag_id: str = Field(pattern=SLUG)
    phase: str
    schedule: str = "@daily"
    days: int = Field(ge=1)
    evidence_folder: str = Field(pattern=SLUG)
    criteria: list[Criterion] = Field(min_length=1)
    weekly_criteria: list[Criterion] = Field(default_factory=list)


class Notifications(Model):
    """channels: Slack channel names by purpose (informational; the webhook decides delivery).
    retries: attempts after the first (2); backoff_seconds: first wait, doubled each time (1)."""

    channels: dict[str, str] = Field(default_factory=lambda: {"default": "#launch"})
    retries: int = Field(default=2, ge=0, le=5)
    backoff_seconds: float = Field(default=1.0, ge=0, le=30)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)


class Plan(Model):
    """A whole launch: who, what, in which order, under which thresholds, with which evidence.

    mode: ``production`` (the default), or ``demo``: a rehearsal plan whose shorter windows and
    allowances (a replayed beta) are accepted; every report and message of it says DEMO PLAN.
    extends: the plan this one was written over (the loader merges it first; phases by id); a plan
    that extends another may weaken its windows or load only in demo mode."""

    mode: Literal["production", "demo"] = "production"
    extends: str | None = None
    launch: LaunchInfo
    connections: Connections
    target_profile: TargetProfile | None = None
    evidence: Evidence = Evidence()
    notifications: Notifications = Notifications()
    freeze_windows: list[FreezeWindow] = Field(default_factory=list)
    incidents: list[IncidentRule] = Field(default_factory=list)
    phases: list[Phase] = Field(min_length=1)
    scorecards: list[Scorecard] = Field(default_factory=list)
    data_model: DataModel | None = None

    def scraped_metrics(self) -> frozenset[str]:
        """What the target profile computes from the replicas' own metrics (a ``target_scrape``)."""
        metrics = self.target_profile.metrics if self.target_profile is not None else None
        return frozenset(name.value for name in metrics.scrape) if metrics is not None else frozenset()

    def promql(self) -> dict[Metric, str]:
        """Every PromQL template this launch's Prometheus answers: Prometheus' own (uptime from
        ``up``) and the target profile's."""
        from include.monitoring.promql import GENERIC

        own = self.target_profile.monitoring.promql if self.target_profile is not None else {}
        return {**GENERIC, **own}

    def promql_metrics(self) -> frozenset[str]:
        return frozenset(metric.value for metric in self.promql())

    def phase(self, phase_id: str) -> Phase:
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(f"plan {self.launch.id!r} has no phase {phase_id!r}")
