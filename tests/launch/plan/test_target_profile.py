"""The target profile: selectors, the scrape arithmetic it describes (numbers worked by hand), and
every refusal ``plan check`` makes of a profile the engine could not apply."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from include.launch.core.errors import PlanError
from include.launch.core.selectors import parse_selector
from include.launch.plan import load_plan
from include.launch.plan.loader import PLANS_DIR
from include.launch.plan.profile import MetricsProfile, ScrapeMetric
from include.launch.plugins.load import route_urls
from include.launch.plugins.metrics.sample import Sample
from include.launch.plugins.metrics.target import derive, instant_values, read_exposition


def test_a_selector_matches_as_promql_does() -> None:
    selector = parse_selector('http_requests_total{route=~"/.*",route!~"/(health|admin).*",status!="200"}')
    assert selector.matches("http_requests_total", {"route": "/jobs", "status": "500"})
    assert not selector.matches("http_requests_total", {"route": "/health", "status": "500"})
    assert not selector.matches("http_requests_total", {"route": "/jobs", "status": "200"})
    assert not selector.matches("http_requests_total", {"route": "", "status": "500"})  # =~ is anchored
    assert not selector.matches("other_total", {"route": "/jobs", "status": "500"})


@pytest.mark.parametrize(("text", "reason"), [
    ("9starts_with_a_digit", "is not a series selector"),
    ('jobs_total{outcome~"done"}', "label matcher 'outcome~\"done\"' does not parse"),
    ('jobs_total{outcome=~"(unclosed"}', "regex '(unclosed'"),
])
def test_a_selector_that_does_not_parse_is_refused_naming_it(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
        parse_selector(text)


PROFILE = MetricsProfile.model_validate({
    "requests": "jobs_total",
    "scrape": {
        "error_rate_percent": {"of": ['jobs_total{outcome="failed"}'], "to": ["jobs_total"], "counters": True,
                               "scale": 100},
        "latency_p95_ms": {"quantile": 0.95, "histogram": "job_seconds", "scale": 1000},
        "pool_utilization_percent": {"of": ["busy"], "to": ["threads"], "across": "max", "scale": 100},
        "pool_max": {"gauge": "threads", "across": "min"},
        "cfur_percent": {"of": ["crashed"], "to": ["active"], "complement": True, "scale": 100},
    },
})


def exposition(done: float, failed: float, fast: float, busy: float, threads: float) -> str:
    """One replica's metrics: ``fast`` of its jobs took <= 10 ms, the rest <= 100 ms."""
    total = done + failed
    return (f'jobs_total{{outcome="done"}} {done}\njobs_total{{outcome="failed"}} {failed}\n'
            f'job_seconds_bucket{{le="0.01"}} {fast}\njob_seconds_bucket{{le="0.1"}} {total}\n'
            f'job_seconds_bucket{{le="+Inf"}} {total}\njob_seconds_count {total}\njob_seconds_sum 1\n'
            f"busy {busy}\nthreads {threads}\nactive 50\ncrashed 1\n")


def sample(*replicas: str) -> Sample:
    raw = {f"r{i}": read_exposition(text, PROFILE) for i, text in enumerate(replicas)}
    return Sample(0.0, "target", instant_values(raw, PROFILE), raw)


def test_the_profile_computes_each_metric_as_worked_by_hand() -> None:
    before = sample(exposition(100, 0, 100, 1, 4), exposition(50, 0, 50, 0, 2))
    # Replica 0: +90 done, +10 failed, 50 of the 100 new jobs fast; replica 1 restarted (counters fell):
    # its whole count is the interval's: 40 done, 0 failed, all fast.
    after = derive(before, sample(exposition(190, 10, 150, 3, 4), exposition(40, 0, 40, 2, 2)), PROFILE)
    values = after.values
    assert values["requests_in_interval"] == 140  # 100 + 40
    assert values["error_rate_percent"] == pytest.approx(10 / 140 * 100)
    # 140 jobs, 90 of them <= 10 ms: rank 133 lies in the (10, 100] ms bucket, 43/50 of the way.
    assert values["latency_p95_ms"] == pytest.approx(10 + 90 * (0.95 * 140 - 90) / 50)
    assert values["pool_utilization_percent"] == 100.0  # the worst replica: 2 of 2 threads busy
    assert values["pool_max"] == 2  # the smallest pool
    assert values["cfur_percent"] == pytest.approx(98.0)  # 100 users, 2 crashed


def test_without_traffic_a_rate_is_no_data_never_zero() -> None:
    quiet = sample(exposition(100, 0, 100, 0, 4))
    values = derive(quiet, quiet, PROFILE).values
    assert values["error_rate_percent"] is None and values["latency_p95_ms"] is None
    assert values["requests_in_interval"] == 0


@pytest.mark.parametrize(("metric", "reason"), [
    ({}, "name exactly one of gauge, of/to or quantile/histogram (got none)"),
    ({"gauge": "a", "histogram": "b", "quantile": 0.5}, "got ['gauge', 'quantile/histogram']"),
    ({"of": ["a"]}, "a ratio needs both of (the part) and to (the whole)"),
    ({"quantile": 0.95}, "a quantile needs both quantile and histogram"),
    ({"of": ["a"], "to": ["b"], "counters": True, "across": "max"}, "counters: true is a ratio of increments"),
    ({"gauge": 'x{a=="b"}'}, "does not parse"),
])
def test_a_scrape_metric_the_engine_could_not_compute_is_refused(metric: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        ScrapeMetric.model_validate(metric)


def test_routes_are_weighted_and_spread_over_the_replicas() -> None:
    urls = route_urls(["http://a", "http://b"], [("/jobs/render", 3), ("/t/{tenant}/x", 1)], [7, 8])
    assert urls == ["http://a/jobs/render", "http://b/jobs/render", "http://a/jobs/render", "http://b/t/7/x",
                    "http://b/jobs/render", "http://a/jobs/render", "http://b/jobs/render", "http://a/t/8/x"]


def plan_with(tmp_path: Any, edit: Any, name: str = "queueworker") -> list[str]:
    document = yaml.safe_load((PLANS_DIR / f"{name}.yaml").read_text())
    edit(document)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(PlanError) as raised:
        load_plan(str(path))
    return raised.value.problems


def _profile(document: dict[str, Any]) -> dict[str, Any]:
    return document["target_profile"]


REFUSALS = [
    ("load_without_routes", lambda d: _profile(d).pop("load"),
     "phases[0].pre_checks[1]: a 'synthetic_load' check needs target_profile.load (the routes it sends)"),
    ("trigger_the_profile_cannot_compute", lambda d: _profile(d)["metrics"]["scrape"].pop("error_rate_percent"),
     "phases[0].rollback_triggers[0]: no metric source of this phase provides 'error_rate_percent'"),
    ("health_reads_an_unlisted_setting", lambda d: _profile(d)["health"]["settings"].update(QUEUE_NAME="q"),
     "target_profile: health.settings names ['QUEUE_NAME'], which are not in settings"),
    ("rule_for_an_unlisted_setting", lambda d: _profile(d)["setting_rules"].update(SHARDS={"min": 1}),
     "setting_rules name ['SHARDS'], which are not in settings"),
    ("route_with_an_unknown_placeholder", lambda d: _profile(d)["load"]["routes"].append({"path": "/q/{queue}"}),
     "unknown placeholder(s) ['queue']"),
    ("tenant_route_without_tenants", lambda d: _profile(d)["load"]["routes"].append({"path": "/t/{tenant}"}),
     "tenants_sql must say where tenant ids come from"),
    ("settings_nobody_can_read_back", lambda d: _profile(d)["health"].pop("settings"),
     "phases[0].verify[0]: settings_applied can read back none of the changed settings (JOB_TIMEOUT_MS, "
     "WORKER_THREADS)"),
    ("setting_below_its_rule", lambda d: d["phases"][0]["change"]["params"]["settings"].update(WORKER_THREADS=0),
     "phases[0].change.params.settings: WORKER_THREADS: must be >= 1 (got 0)"),
]


@pytest.mark.parametrize(("edit", "reason"), [(e, r) for _, e, r in REFUSALS], ids=[i for i, _, _ in REFUSALS])
def test_plan_check_refuses_a_profile_the_engine_could_not_apply(tmp_path: Any, edit: Any, reason: str) -> None:
    problems = plan_with(tmp_path, edit)
    assert any(reason in problem for problem in problems), problems


def test_database_capacity_must_name_the_setting_that_sizes_the_pool(tmp_path: Any) -> None:
    def unnamed(document: dict[str, Any]) -> None:
        for check in document["phases"][0]["pre_checks"]:
            if check["kind"] == "database_capacity":
                check["params"].pop("pool_max_setting")

    problems = plan_with(tmp_path, unnamed, name="accubooks")
    assert "phases[0].pre_checks[3].params.pool_max_setting: Field required" in problems, problems


def test_a_canary_needs_to_know_how_a_version_is_told_and_deployed(tmp_path: Any) -> None:
    problems = plan_with(tmp_path, lambda d: d["target_profile"]["version"].pop("setting"), name="reconciliation")
    assert problems == ["phases[1].change: a 'canary_traffic_shift' release needs target_profile.version.header "
                        "(how a response tells its version) and .setting (what deploys one)"], problems


def test_a_dashboard_the_profile_does_not_draw_is_refused(tmp_path: Any) -> None:
    problems = plan_with(tmp_path, lambda d: d["target_profile"]["monitoring"]["dashboards"].pop("operations"),
                         name="accubooks")
    assert problems == ["phases[1].change.params.dashboards: 'operations' is not a dashboard of "
                        "target_profile.monitoring.dashboards (business_metrics, executive_overview)"], problems


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda m: m["promql"].update(latency_p95_ms="histogram_quantile(0.95, rate(x_bucket[$window]))"),
     "promql for ['latency_p95_ms'] does not use $selector"),
    (lambda m: m["promql"].pop("pool_wait_p95_ms"), "dashboard panels draw ['pool_wait_p95_ms'], which promql does"),
], ids=["unscoped_template", "panel_without_template"])
def test_monitoring_the_engine_could_not_render_is_refused(tmp_path: Any, edit: Any, reason: str) -> None:
    problems = plan_with(tmp_path, lambda d: edit(d["target_profile"]["monitoring"]), name="accubooks")
    assert any(reason in problem for problem in problems), problems


def test_a_check_that_acts_as_users_needs_the_profile_to_say_how(tmp_path: Any) -> None:
    problems = plan_with(tmp_path, lambda d: d["target_profile"]["users"].pop("load_identities_sql"),
                         name="reconciliation")
    assert any(p.endswith("a 'load_test' check acts as the service's users: it needs target_profile.users with "
                          "load_identities_sql") for p in problems), problems
    problems = plan_with(tmp_path, lambda d: d["target_profile"].pop("users"), name="reconciliation")
    named = sorted(p.split("'")[1] for p in problems if "acts as the service's users" in p)
    assert named == ["chaos", "http_expectation", "http_expectation", "load_test"], problems


def test_every_shipped_plan_declares_the_metrics_its_scrapes_provide() -> None:
    for name in ("accubooks", "reconciliation", "queueworker"):
        plan = load_plan(name)
        assert plan.target_profile is not None and plan.scraped_metrics(), name
