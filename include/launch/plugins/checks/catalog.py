"""Every check kind a plan may name, with the params it takes.

Implementations are referenced as ``module:function`` and imported only when a task runs.
Field comments state the unit and default, Argo-style.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from include.launch.core.criteria import Criterion
from include.launch.core.registry import Params, Registry
from include.launch.core.vocabulary import Severity

CHECKS = Registry("check")


class MetricGateParams(Params):
    """criteria: every one must hold over the window, measured by the phase's ``metric_sources``
    (the same the soak reads). window_seconds: the interval the rates are computed over (default 30)."""

    criteria: list[Criterion] = Field(min_length=1)
    window_seconds: float = Field(default=30.0, gt=0, le=3600)


class NoParams(Params):
    """The check needs nothing beyond the plan's connections."""


class DatabaseCapacityParams(Params):
    """reserved_connections: kept free for superusers and maintenance (default 10).
    pool_max_setting: the change's setting that sizes each replica's pool (its maximum connections).
    held_field: the dotted health field where a replica reports the connections it holds now
    (released when it restarts; default: none counted as the target's own)."""

    reserved_connections: int = Field(default=10, ge=0)
    pool_max_setting: str = Field(min_length=1)
    held_field: str = ""


class SeverityParams(Params):
    """severities: the incident or alert severities that block the phase (default P0, P1)."""

    severities: list[Severity] = Field(default_factory=lambda: [Severity.P0, Severity.P1], min_length=1)


class BackupFreshParams(Params):
    """max_age_hours: newest backup must be younger, by the dump's own creation time (default 24).
    restore_tested: require a successful restore test of that very artifact (same SHA-256).
    status_file: the backup system's status report, relative to the evidence base (default
    ``pre_launch/<launch>/backup_status.json``); the artifact it names is checked, not trusted."""

    status_file: str = ""
    max_age_hours: float = Field(default=24.0, gt=0)
    restore_tested: bool = True
    interval_hours: float | None = Field(default=None, gt=0)
    rto_hours: float | None = Field(default=None, gt=0)


class DocumentPresentParams(Params):
    """path: a document that must exist and be non-empty (relative to the evidence base)."""

    path: str = Field(min_length=1)


class QualitySuiteParams(Params):
    """suite: which Great Expectations suite runs; compare_counts: row counts equal the snapshot."""

    suite: Literal["integrity", "tenant_isolation"]
    compare_counts: bool = False


class SecretsPresentParams(Params):
    """names: secrets that must resolve from the secrets backend (Airflow's: env, Secrets Manager,
    Vault); forbidden_fallbacks: values that must appear neither there nor in the target's config;
    fingerprint_secret: the secret every replica must report running with (a SHA-256 prefix, in
    the dotted health field ``fingerprint_field``); none by default."""

    names: list[str] = Field(min_length=1)
    forbidden_fallbacks: list[str] = Field(default_factory=list)
    fingerprint_secret: str | None = None
    fingerprint_field: str = ""

    @model_validator(mode="after")
    def _fingerprint_of_a_named_secret(self) -> SecretsPresentParams:
        if bool(self.fingerprint_secret) != bool(self.fingerprint_field):
            raise ValueError("fingerprint_secret and fingerprint_field go together: the secret, and the health field "
                             "where every replica reports its fingerprint")
        if self.fingerprint_secret is not None and self.fingerprint_secret not in self.names:
            raise ValueError(f"fingerprint_secret {self.fingerprint_secret!r} is not one of names {self.names}: "
                             "the replicas' fingerprint would be compared with a secret the check never reads")
        return self


class HttpExpectationParams(Params):
    """route/method: what is called (``{tenant_id}``, ``{project_id}``, ``{job_id}`` are filled from
    the target DB); expect_status: the answer required; requests: how many calls (1: that call must
    answer it; more: one of them must, e.g. 429 past the rate limit); auth: none, the project's
    ``owner`` or a ``foreign_user`` of the same tenant (a bearer token signed with JWT_SECRET);
    body: JSON sent with the call (same placeholders)."""

    route: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    expect_status: int = Field(ge=100, le=599)
    requests: int = Field(default=1, ge=1)
    auth: Literal["none", "owner", "foreign_user"] = "none"
    body: dict[str, Any] = Field(default_factory=dict)


class IndexUsageParams(Params):
    """indexes: table.column pairs that must have an index; queries: EXPLAIN must show an index scan."""

    indexes: list[str] = Field(min_length=1)
    queries: list[str] = Field(default_factory=list)


class AlertRoutingParams(Params):
    """receivers: Alertmanager receivers that critical alerts must reach."""

    receivers: list[str] = Field(min_length=1)


class LoadTestParams(Params):
    """users: concurrent users (locust); duration_seconds: the measured part, after every user
    has started (default 60); spawn_rate: users started per second (default 100); wait_min_seconds /
    wait_max_seconds: think time of a user between requests (1-3); criteria the load must meet
    (latency_p95_ms, latency_p99_ms, error_rate_percent)."""

    users: int = Field(ge=1)
    duration_seconds: float = Field(default=60.0, gt=0)
    spawn_rate: float = Field(default=100.0, gt=0)
    wait_min_seconds: float = Field(default=1.0, ge=0)
    wait_max_seconds: float = Field(default=3.0, ge=0)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _wait_range(self) -> LoadTestParams:
        if self.wait_min_seconds > self.wait_max_seconds:
            raise ValueError(f"wait_min_seconds ({self.wait_min_seconds:g}) must be <= wait_max_seconds "
                             f"({self.wait_max_seconds:g})")
        return self


class ChaosParams(Params):
    """faults: what is taken away (the target connection's ``extra.chaos.<fault>`` gives the
    inject/restore commands); observe_seconds: how long the service is watched without it
    (default 5); recovery_seconds: how soon after the restore it must be healthy again (60)."""

    # Only faults the check can see in /health (include.launch.plugins.checks.chaos.DEPENDENCY): a
    # fault it could not observe would always fail, or worse, be taken as tested.
    faults: list[Literal["database_down", "redis_down"]] = Field(min_length=1)
    observe_seconds: float = Field(default=5.0, gt=0, le=600)
    recovery_seconds: float = Field(default=60.0, gt=0)


class SyntheticLoadParams(Params):
    """requests: how many synthetic requests (default 500); concurrency (10); criteria they must
    meet (a regression is measured against the same load before the change; give it a ``when`` on
    ``latency_regression_ms`` for an absolute floor)."""

    requests: int = Field(default=500, ge=1)
    concurrency: int = Field(default=10, ge=1)
    criteria: list[Criterion] = Field(min_length=1)
    tenants: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _concurrency_not_above_requests(self) -> SyntheticLoadParams:
        if self.concurrency > self.requests:
            raise ValueError(f"concurrency ({self.concurrency}) must be <= requests ({self.requests})")
        return self


class EvidencePresentParams(Params):
    """files: evidence files (glob patterns, relative to the evidence base) with a minimum count each."""

    files: dict[str, int] = Field(min_length=1)


class BetaElapsedParams(Params):
    """scorecard: the daily scorecard whose window must have run its whole course; replay_allowed:
    accept a window whose planned end has not passed (a beta replayed in one sitting). Only a plan
    marked ``mode: demo`` may set it, and the result then says REPLAY."""

    scorecard: str
    replay_allowed: bool = False


class ConfigMatchesParams(Params):
    """example_file: the example env (relative to the project root); every key of it must be set
    in the target's env file or the secrets backend; required_keys: keys that must be non-empty."""

    example_file: str = Field(min_length=1)
    required_keys: list[str] = Field(min_length=1)


class ServiceGateParams(Params):
    """criteria: every one must hold over the window (cfur_percent, latency_p95_ms/p99,
    error_rate_percent, cache_hit_rate_percent, from the replicas' /metrics over every API route);
    window_seconds: the interval (default 30)."""

    criteria: list[Criterion] = Field(min_length=1)
    window_seconds: float = Field(default=30.0, gt=0, le=3600)


class DecisionTableParams(Params):
    """A Go/No-Go table of measured values: criteria (CFUR, p95, error rate from the service over
    window_seconds; db_cpu_percent from the database server's processes over the same window);
    backup_interval_hours: the newest backup must be younger (hourly: 1); file: the table's name."""

    criteria: list[Criterion] = Field(min_length=1)
    window_seconds: float = Field(default=30.0, gt=0, le=3600)
    backup_interval_hours: float | None = Field(default=1.0, gt=0)
    status_file: str = ""  # default: pre_launch/<launch>/backup_status.json
    file: str = "go_no_go_table.md"


class RestoreDrillParams(Params):
    """interval_hours: backups run at least this often (the last one is younger); rto_hours: a
    restore into a scratch database, with row counts compared, must finish within it."""

    interval_hours: float = Field(default=1.0, gt=0)
    rto_hours: float = Field(default=4.0, gt=0)
    status_file: str = ""  # default: pre_launch/<launch>/backup_status.json


CHECKS.register_all("include.launch.plugins.checks", [
    ("metric_gate", MetricGateParams, "metric_gate", "fresh metrics meet every criterion"),
    ("database_health", NoParams, "database", "the target database answers and is not in recovery"),
    ("database_capacity", DatabaseCapacityParams, "database", "max_connections holds pool_max x replicas"),
    ("health_endpoints", NoParams, "health", "every replica's /health answers ok"),
    ("no_firing_alerts", SeverityParams, "alerts", "Alertmanager has no firing alert of these severities"),
    ("no_open_incidents", SeverityParams, "incidents", "no open incident of these severities in the ledger"),
    ("backup_fresh", BackupFreshParams, "backups", "a recent, restore-tested backup exists"),
    ("document_present", DocumentPresentParams, "documents", "a required document (e.g. rollback plan) exists"),
    ("quality_suite", QualitySuiteParams, "quality", "a Great Expectations suite passes on the target data"),
    ("secrets_present", SecretsPresentParams, "security", "secrets resolve and no fallback secret is used"),
    ("http_expectation", HttpExpectationParams, "security", "an HTTP call answers with the expected status"),
    ("index_usage", IndexUsageParams, "database", "indexes exist and EXPLAIN shows index scans"),
    ("alert_routing", AlertRoutingParams, "alerts", "critical alerts route to every named receiver"),
    ("load_test", LoadTestParams, "load_test", "a concurrent-user load test meets its criteria"),
    ("chaos", ChaosParams, "chaos", "the service degrades gracefully and recovers"),
    ("config_matches", ConfigMatchesParams, "config", "production config sets every key of the example"),
    ("service_gate", ServiceGateParams, "slo", "the service's own metrics (incl. CFUR) meet every criterion"),
    ("decision_table", DecisionTableParams, "slo", "a Go/No-Go table of measured values; GO only if all hold"),
    ("restore_drill", RestoreDrillParams, "restore", "backups are recent and a restore finishes within the RTO"),
    ("synthetic_load", SyntheticLoadParams, "synthetic_load", "synthetic requests meet their criteria"),
    ("settings_applied", NoParams, "health", "every replica reports the settings the change asked for"),
    ("evidence_present", EvidencePresentParams, "documents", "required evidence files exist"),
    ("beta_elapsed", BetaElapsedParams, "documents", "the scorecard's window has run its planned days"),
    ("monitoring_config_valid", NoParams, "monitoring", "promtool and amtool accept the rendered config"),
    ("monitoring_live", NoParams, "monitoring", "rules loaded, targets up, metrics present, test alert delivered"),
    ("beta_enrolled", NoParams, "beta", "flags and detailed logging set for exactly the cohort"),
])
