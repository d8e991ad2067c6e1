"""The target profile: everything the engine may assume about the launched service, written in the
plan, never in the code.

A team with another service writes another profile: the settings a change may touch, where health,
settings and version are read, the routes a synthetic load sends, and how each vocabulary metric is
computed from the service's own ``/metrics``. The engine knows none of these names.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from include.launch.core.selectors import parse_selector
from include.launch.core.vocabulary import Metric
from include.launch.plan.base import Model

_PLACEHOLDER = re.compile(r"\{([^}]*)\}")


class TargetVersion(Model):
    """How the launched service tells its version, on its health endpoint: ``health_field`` (a key
    of the health JSON, dotted for a nested one) or ``header`` (a response header); exactly one.
    setting: the env setting that selects the version a replica runs (what a canary release
    writes); a settings change may not name it unless the profile lists it."""

    health_field: str = ""
    header: str = ""
    setting: str = ""

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetVersion:
        if bool(self.health_field) == bool(self.header):
            raise ValueError("name exactly one of health_field or header")
        return self


class ReadyRule(Model):
    """A replica is ready when health field ``field`` is at least health field ``at_least`` (both
    dotted), e.g. a connection pool warmed to its minimum; a replica reporting neither counts as ready."""

    field: str = Field(min_length=1)
    at_least: str = Field(min_length=1)


class HealthProfile(Model):
    """path: the health endpoint of every replica (default ``/health``). healthy_field /
    healthy_value: the JSON field a healthy replica reports and its value (default ``status: ok``;
    the HTTP status must be 200 too). settings: setting key -> the dotted health field that reports
    the value the replica runs with (read back after a change and after a rollback). ready: when a
    restarted replica may take traffic. shown: dotted fields copied into the health evidence."""

    path: str = Field(default="/health", pattern=r"^/")
    healthy_field: str = Field(default="status", min_length=1)
    healthy_value: str = "ok"
    settings: dict[str, str] = Field(default_factory=dict)
    ready: ReadyRule | None = None
    shown: list[str] = Field(default_factory=list)


class LoadRoute(Model):
    """path: a user route (``/tenants/{tenant}/orders``; ``{tenant}`` is replaced by a tenant id);
    weight: how many requests of each round go to it (default 1)."""

    path: str = Field(pattern=r"^/")
    weight: int = Field(default=1, ge=1, le=100)

    @field_validator("path")
    @classmethod
    def _only_tenant_placeholders(cls, value: str) -> str:
        unknown = sorted({name for name in _PLACEHOLDER.findall(value) if name != "tenant"})
        if unknown:
            raise ValueError(f"unknown placeholder(s) {unknown}: a route may name only {{tenant}}")
        return value


class LoadProfile(Model):
    """routes: what a synthetic load sends, round-robin over the replicas (at least one).
    tenants_sql: on the target database, the tenant ids the ``{tenant}`` routes use; takes the
    ``%(count)s`` parameter (how many tenants the check asks for)."""

    routes: list[LoadRoute] = Field(min_length=1)
    tenants_sql: str = ""

    @model_validator(mode="after")
    def _tenants_known(self) -> LoadProfile:
        tenant_routes = [route.path for route in self.routes if "{tenant}" in route.path]
        if tenant_routes and not self.tenants_sql:
            raise ValueError(f"routes {tenant_routes} name {{tenant}}: tenants_sql must say where tenant ids come from")
        if self.tenants_sql and "%(count)s" not in self.tenants_sql:
            raise ValueError("tenants_sql must take %(count)s (how many tenants the check asks for)")
        return self


def _selectors(values: list[str]) -> list[str]:
    for value in values:
        parse_selector(value)
    return values


class ScrapeMetric(Model):
    """How one vocabulary metric is computed from the replicas' ``/metrics``: exactly one form.

    gauge: a selector; its matching samples summed per replica, then ``across`` the replicas.
    of / to: a ratio of selector sums (``to`` is the whole); ``counters: true`` takes the increase
    over the sample's interval (summed over replicas), else the instant values (``across: sum``
    divides the sums, ``max`` takes the worst replica's ratio); ``complement`` reports the rest
    (crash-free users from crashed users). quantile / histogram: a quantile of a histogram (the
    selector names it without ``_bucket``) over the interval. scale: multiplies the result
    (100 for percent, 1000 for seconds to ms)."""

    gauge: str = ""
    of: list[str] = Field(default_factory=list)
    to: list[str] = Field(default_factory=list)
    counters: bool = False
    complement: bool = False
    quantile: float | None = Field(default=None, gt=0, lt=1)
    histogram: str = ""
    across: Literal["sum", "min", "max"] = "sum"
    scale: float = Field(default=1.0, gt=0)

    @field_validator("gauge", "histogram")
    @classmethod
    def _selector(cls, value: str) -> str:
        return _selectors([value])[0] if value else value

    @field_validator("of", "to")
    @classmethod
    def _selector_list(cls, value: list[str]) -> list[str]:
        return _selectors(value)

    @model_validator(mode="after")
    def _one_form(self) -> ScrapeMetric:
        forms = [name for name, used in (("gauge", bool(self.gauge)), ("of/to", bool(self.of or self.to)),
                                         ("quantile/histogram", self.quantile is not None or bool(self.histogram)))
                 if used]
        if len(forms) != 1:
            raise ValueError(f"name exactly one of gauge, of/to or quantile/histogram (got {forms or 'none'})")
        if forms[0] == "of/to" and not (self.of and self.to):
            raise ValueError("a ratio needs both of (the part) and to (the whole)")
        if forms[0] == "quantile/histogram" and (self.quantile is None or not self.histogram):
            raise ValueError("a quantile needs both quantile and histogram")
        if self.counters and (forms[0] != "of/to" or self.across != "sum"):
            raise ValueError("counters: true is a ratio of increments, summed over replicas (across: sum)")
        return self


class MetricsProfile(Model):
    """path: where every replica serves Prometheus text (default ``/metrics``). requests: the
    counter of user requests (a selector), so a sample knows how much traffic it judged. scrape:
    vocabulary metric -> how it is computed; a ``target_scrape`` source provides exactly these."""

    path: str = Field(default="/metrics", pattern=r"^/")
    requests: str = ""
    scrape: dict[Metric, ScrapeMetric] = Field(default_factory=dict)

    @field_validator("requests")
    @classmethod
    def _requests_selector(cls, value: str) -> str:
        return _selectors([value])[0] if value else value


class Panel(Model):
    """One dashboard panel: title, unit (Grafana's: percent, ms, s, short, reqps, ops) and either
    ``metric`` (the vocabulary metric, drawn with the same PromQL as its alert) or ``expr`` (PromQL
    with ``$selector`` for the launch's scrape job and ``$window`` for the rate window)."""

    title: str = Field(min_length=1)
    unit: str = "short"
    metric: Metric | None = None
    expr: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> Panel:
        if (self.metric is None) == (not self.expr):
            raise ValueError(f"panel {self.title!r}: name exactly one of metric or expr")
        return self


class Dashboard(Model):
    title: str = Field(min_length=1)
    panels: list[Panel] = Field(min_length=1)


class MonitoringProfile(Model):
    """What Prometheus and Grafana see of the service, for the monitoring phase and every
    ``prometheus`` source. promql: vocabulary metric -> PromQL template in the metric's unit
    (``$selector``, ``$window``); the alert rules, dashboards, gates and daily figures all read it.
    required_metrics: series that must have data, by area (``api: [http_requests_total]``).
    dashboards: name -> its panels (the monitoring install names which ones it provisions)."""

    promql: dict[Metric, str] = Field(default_factory=dict)
    required_metrics: dict[str, list[str]] = Field(default_factory=dict)
    dashboards: dict[str, Dashboard] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _templates_scoped(self) -> MonitoringProfile:
        unscoped = sorted(metric.value for metric, template in self.promql.items() if "$selector" not in template)
        if unscoped:
            raise ValueError(f"promql for {unscoped} does not use $selector: it would read every job's series")
        unknown = sorted({panel.metric.value for board in self.dashboards.values() for panel in board.panels
                          if panel.metric is not None and panel.metric not in self.promql
                          and panel.metric is not Metric.UPTIME_PERCENT})
        if unknown:
            raise ValueError(f"dashboard panels draw {unknown}, which promql does not define")
        return self


class UserRoute(Model):
    """path: what a signed-in user reads; placeholders name columns of the identity rows
    (``/tenants/{tenant_id}/jobs/{job_id}``). weight: its share of a virtual user's requests."""

    path: str = Field(pattern=r"^/")
    weight: int = Field(default=1, ge=1, le=100)


class UsersProfile(Model):
    """How checks act as the service's users.

    token_secret: the secret (Airflow's secrets backend) that signs HS256 bearer tokens, subject
    the user id. identity_sql: one row of tenant_id, project_id, owner_id, foreign_user_id, job_id
    (a resource, its owner and another member of the same tenant: the isolation probes).
    load_identities_sql: who a load test's virtual users act as (a ``user_id`` column and every
    column the routes name; takes ``%(limit)s``). routes: what a virtual user reads, weighted;
    the chaos probes send them too."""

    token_secret: str = Field(min_length=1)
    identity_sql: str = ""
    load_identities_sql: str = ""
    routes: list[UserRoute] = Field(default_factory=list)

    @model_validator(mode="after")
    def _limit(self) -> UsersProfile:
        if self.load_identities_sql and "%(limit)s" not in self.load_identities_sql:
            raise ValueError("load_identities_sql must take %(limit)s (how many virtual users the test needs)")
        return self


class SettingRule(Model):
    """min: the smallest value a setting may take; at_most: another setting it may not exceed
    (a pool's minimum and its maximum)."""

    min: float | None = None
    at_most: str = ""


class TargetProfile(Model):
    """What the engine may assume about the launched service.

    settings: the settings a change may touch (seed 000's "allowed changes"); a settings change
    naming any other is refused by ``plan check``, and by the engine before it touches the target.
    setting_rules: bounds on those settings, checked by ``plan check`` and on every trigger form.
    version: where the service tells its version; a settings phase records it before and after
    its change, and a version that moved fails the phase unless the phase says ``release: true``.
    health, load, metrics, monitoring, users: how the service is probed, loaded, measured and
    acted on as its users (above)."""

    settings: list[str] = Field(default_factory=list)
    setting_rules: dict[str, SettingRule] = Field(default_factory=dict)
    version: TargetVersion
    health: HealthProfile = HealthProfile()
    load: LoadProfile | None = None
    metrics: MetricsProfile | None = None
    monitoring: MonitoringProfile = MonitoringProfile()
    users: UsersProfile | None = None

    @model_validator(mode="after")
    def _rules_name_settings(self) -> TargetProfile:
        named = set(self.setting_rules) | {rule.at_most for rule in self.setting_rules.values() if rule.at_most}
        unknown = sorted(named - set(self.settings))
        if unknown:
            raise ValueError(f"setting_rules name {unknown}, which are not in settings")
        unread = sorted(set(self.health.settings) - set(self.settings))
        if unread:
            raise ValueError(f"health.settings names {unread}, which are not in settings")
        return self

    def setting_problems(self, settings: dict[str, int | str]) -> list[str]:
        """Where ``settings`` break a rule, each naming the setting and the bound."""
        problems = []
        for key, rule in self.setting_rules.items():
            value = _number(settings.get(key))
            if value is None:
                continue
            if rule.min is not None and value < rule.min:
                problems.append(f"{key}: must be >= {rule.min:g} (got {settings[key]})")
            bound = _number(settings.get(rule.at_most)) if rule.at_most else None
            if bound is not None and value > bound:
                problems.append(f"{key} ({settings[key]}) must be <= {rule.at_most} ({settings[rule.at_most]})")
        return problems


def _number(value: object) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
