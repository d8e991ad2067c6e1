"""Every Go/No-Go gate of Launch B refuses when the defect it exists to catch is there, and says
which defect with the measured value: secrets_present, config_matches, http_expectation,
index_usage, restore_drill, chaos, decision_table (NO-GO) and the canary's service_gate.

Each check runs through the registry (tests.harness.checks.run_check, so scripts/mutate_checks.py's
mutant reaches it) with the shipped plan's params, against one real target for the module
(PostgreSQL, Redis, replicas behind nginx); each test plants its defect and takes it away again.
No outcome depends on the machine's speed or today's date: a latency is an injected fault far over
its bound, and an age or a duration is read from a clock the test gives the check.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
import requests

from include.demo_target.config import read_env_file, write_env_file
from include.demo_target.schema import migrate
from include.demo_target.traffic import UserTraffic
from include.launch.core.criteria import Criterion
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import read_url
from include.launch.plan import load_plan
from include.launch.plugins.checks.backup import backup_and_test_restore
from include.launch.plugins.checks.base import CheckResult
from include.launch.spec.phase import build_phase_spec
from tests.conftest import postgres_connection_json
from tests.harness.checks import run_check
from tests.launch.launch_b.environment import LaunchB, launch_b_target

NOOP = [sys.executable, "-c", "pass"]  # a chaos command that does nothing
Plant = Callable[[LaunchB, pytest.MonkeyPatch], None]


# --- the target, shared by the module --------------------------------------------------------

@pytest.fixture(scope="module")
def recon(pg_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchB]:
    """Launch B's target as the plan's connections and secrets backend describe it."""
    with pytest.MonkeyPatch.context() as patch, \
            launch_b_target(pg_server, tmp_path_factory.mktemp("recon"), tenants=10) as env:
        patch.setenv("AIRFLOW_CONN_RECONCILIATION_API", json.dumps(env.connection()))
        patch.setenv("AIRFLOW_CONN_RECONCILIATION_DB", postgres_connection_json(env.db_url))
        for name, value in env.secrets().items():
            patch.setenv(f"AIRFLOW_VAR_{name}", value)
        yield env


@pytest.fixture(scope="module")
def module_ledger(module_db: str) -> Iterator[str]:
    """One ledger for the module behind ``launch_db`` (the checks take its measurement lock)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_LAUNCH_DB", postgres_connection_json(module_db))
        Ledger(module_db).ensure_schema()
        yield module_db


@pytest.fixture()
def service(recon: LaunchB, module_ledger: str) -> Iterator[LaunchB]:
    """The shared target; after the test, no fault left and Redis back, every replica healthy."""
    yield recon
    for url in recon.replicas:
        requests.delete(f"{url}/admin/faults", timeout=5,
                        headers={"Authorization": f"Bearer {recon.token}"}).raise_for_status()
    if not recon.redis.ping():
        recon.redis.start()
    deadline = time.monotonic() + 30
    while not all(requests.get(f"{url}/health", timeout=5).json()["status"] == "ok" for url in recon.replicas):
        assert time.monotonic() < deadline, "the target did not come back healthy after the test"
        time.sleep(0.2)


@pytest.fixture()
def phase_run(service: LaunchB, evidence_base: Path) -> Callable[[str, str], PhaseRun]:
    """A PhaseRun of a phase of the shipped plan, as task ``group.name`` (its evidence file names)."""
    def make(phase_id: str, task_id: str) -> PhaseRun:
        spec = build_phase_spec(load_plan("reconciliation"), phase_id, "reconciliation")
        return PhaseRun(spec=spec, run_id=f"refusal_{uuid.uuid4().hex[:8]}", task_id=task_id)

    return make


def shipped(phase_id: str, name: str) -> dict[str, Any]:
    """The params of the check ``name`` as the shipped plan gives them."""
    phase = load_plan("reconciliation").phase(phase_id)
    check = next(c for c in [*phase.pre_checks, *phase.verify] if c.task_name == name)
    return json.loads(json.dumps(check.params))  # a copy the test may shorten


def assert_refused(result: CheckResult, *reasons: str) -> None:
    assert result.outcome is Outcome.FAILED, result.summary
    for reason in reasons:
        assert reason in result.summary, (reason, result.summary)


# --- planting defects --------------------------------------------------------------------------

@contextmanager
def env_file_edited(env: LaunchB, drop: tuple[str, ...] = (), **values: str) -> Iterator[Path]:
    """The stable replicas' env file (the target connection's ``env_file``) edited, then restored."""
    path = Path(env.stable.env_file)
    original = path.read_text()
    settings = {key: value for key, value in read_env_file(path).items() if key not in drop}
    write_env_file(path, {**settings, **values})
    try:
        yield path
    finally:
        path.write_text(original)


def reload_stable(env: LaunchB) -> None:
    for replica in env.stable.replicas:
        requests.post(f"{replica.url}/admin/reload", timeout=10,
                      headers={"Authorization": f"Bearer {env.token}"}).raise_for_status()


def chaos_commands(patch: pytest.MonkeyPatch, env: LaunchB, fault: str, **commands: list[str]) -> None:
    """The target connection with other inject/restore commands for ``fault``."""
    connection = env.connection()
    connection["extra"]["chaos"][fault].update(commands)
    patch.setenv("AIRFLOW_CONN_RECONCILIATION_API", json.dumps(connection))


def take_backup(env: LaunchB, evidence_base: Path, folder: Path) -> dict[str, Any]:
    """What the hourly backup job does: a dump of the target, restore-tested, its status written."""
    return backup_and_test_restore(env.db_url, folder, str(evidence_base), "reconciliation")


def artifact(status: dict[str, Any]) -> Path:
    return Path(unquote(urlsplit(status["location"]).path))


def traffic(env: LaunchB) -> UserTraffic:
    """Signed-in users reading through the proxy, so a metric window has requests."""
    return UserTraffic(env.proxy.url, env.identities(), env.jwt_secret, threads=4, pause=0.05)


class ShiftedClock:
    """``datetime`` for a check module: ``now()`` is the real time ``ahead`` (a backup made now
    is as old, to the check, as ``ahead``)."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead

    def now(self, tz: tzinfo | None = None) -> datetime:
        return datetime.now(tz) + self.ahead


class Stopwatch:
    """``time`` for a check module: each ``monotonic()`` reading is ``step`` seconds after the last."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.reading = 0.0

    def monotonic(self) -> float:
        self.reading += self.step
        return self.reading


# --- secrets_present -------------------------------------------------------------------------

def _secret_missing(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    patch.delenv("AIRFLOW_VAR_REDIS_URL")


def _fallback_secret(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    patch.setenv("AIRFLOW_VAR_JWT_SECRET", "changeme")


def _short_secret(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    patch.setenv("AIRFLOW_VAR_JWT_SECRET", "k3y-0f-11ch")  # not a listed fallback, but < 16 characters


def _rotated_secret(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    patch.setenv("AIRFLOW_VAR_JWT_SECRET", secrets.token_urlsafe(32))  # the replicas still run the old one


@pytest.mark.parametrize(("plant", "name", "state", "reason"), [
    pytest.param(_secret_missing, "REDIS_URL", "missing", "REDIS_URL is not in the secrets backend",
                 id="secret_missing_from_backend"),
    pytest.param(_fallback_secret, "JWT_SECRET", "fallback value",
                 "JWT_SECRET from the secrets backend is a fallback/weak value", id="fallback_value_in_backend"),
    pytest.param(_short_secret, "JWT_SECRET", "fallback value",
                 "JWT_SECRET from the secrets backend is a fallback/weak value", id="weak_jwt_secret"),
])
def test_secrets_present_refuses_a_missing_or_fallback_secret(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, monkeypatch: pytest.MonkeyPatch,
        plant: Plant, name: str, state: str, reason: str) -> None:
    plant(service, monkeypatch)
    result = run_check("secrets_present", phase_run("go_no_go", "pre_checks.secrets_present"),
                       **shipped("go_no_go", "secrets_present"))
    assert_refused(result, reason)
    assert result.measured["secrets"][name] == state


def test_secrets_present_refuses_a_fallback_secret_in_the_targets_config(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB) -> None:
    with env_file_edited(service, JWT_SECRET="changeme"):  # the file the replicas read when restarted
        result = run_check("secrets_present", phase_run("go_no_go", "pre_checks.secrets_present"),
                           **shipped("go_no_go", "secrets_present"))
    assert_refused(result, "the target's config sets fallback secret values for ['JWT_SECRET']")
    assert result.measured["config_fallbacks"] == ["JWT_SECRET"]


def test_secrets_present_refuses_replicas_running_another_secret_than_the_backend(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, monkeypatch: pytest.MonkeyPatch) -> None:
    _rotated_secret(service, monkeypatch)
    result = run_check("secrets_present", phase_run("go_no_go", "pre_checks.secrets_present"),
                       **shipped("go_no_go", "secrets_present"))
    assert_refused(result, *(f"{url} does not run with JWT_SECRET from the secrets backend (differs)"
                             for url in service.replicas))
    assert result.measured["replica_secret"] == {url: "differs" for url in service.replicas}


# --- config_matches --------------------------------------------------------------------------

@pytest.mark.parametrize(("drop", "values", "unset_secret", "missing"), [
    pytest.param((), {"SENTRY_DSN": ""}, None, "SENTRY_DSN", id="required_key_empty"),
    pytest.param(("CFUR_WINDOW_SECONDS",), {}, None, "CFUR_WINDOW_SECONDS", id="example_key_not_set"),
    pytest.param((), {}, "DATABASE_URL", "DATABASE_URL", id="secret_in_neither_file_nor_backend"),
])
def test_config_matches_refuses_a_key_production_does_not_set(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, monkeypatch: pytest.MonkeyPatch,
        drop: tuple[str, ...], values: dict[str, str], unset_secret: str | None, missing: str) -> None:
    if unset_secret:
        monkeypatch.delenv(f"AIRFLOW_VAR_{unset_secret}")
    with env_file_edited(service, drop, **values):
        result = run_check("config_matches", phase_run("go_no_go", "pre_checks.config_matches"),
                           **shipped("go_no_go", "config_matches"))
    assert_refused(result, f"production config lacks ['{missing}'] (set in neither the env file nor the "
                           "secrets backend)")
    assert result.measured["keys"][missing] == "missing"


def test_config_matches_refuses_when_the_example_is_not_there(
        phase_run: Callable[[str, str], PhaseRun]) -> None:
    params = {**shipped("go_no_go", "config_matches"), "example_file": "include/demo_target/env.missing"}
    result = run_check("config_matches", phase_run("go_no_go", "pre_checks.config_matches"), **params)
    assert_refused(result, "example config include/demo_target/env.missing does not exist")


# --- http_expectation ------------------------------------------------------------------------

def test_http_expectation_refuses_when_no_call_is_rate_limited(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB) -> None:
    params = shipped("go_no_go", "rate_limited")
    try:
        with env_file_edited(service, RATE_LIMIT_RPS="0"):  # rate limiting switched off
            reload_stable(service)
            result = run_check("http_expectation", phase_run("go_no_go", "pre_checks.rate_limited"), **params)
    finally:
        reload_stable(service)  # the shipped limit again
    calls = params["requests"]
    assert_refused(result, f"GET /tenants/{{tenant_id}}/reconciliation/jobs as owner ({calls} call(s)): "
                           f"expected 429, got 200 x{calls}")
    assert result.measured["statuses"] == {"200": calls}


@pytest.mark.parametrize(("plant", "status"), [
    pytest.param(lambda env, patch: env.set_faults(env.stable, error_rate=1.0), 500, id="mutation_crashes"),
    pytest.param(_rotated_secret, 401, id="token_refused_before_the_permission_check"),
])
def test_http_expectation_refuses_an_unauthorized_mutation_not_answered_403(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, monkeypatch: pytest.MonkeyPatch,
        plant: Plant, status: int) -> None:
    plant(service, monkeypatch)
    result = run_check("http_expectation", phase_run("go_no_go", "pre_checks.unauthorized_mutation"),
                       **shipped("go_no_go", "unauthorized_mutation"))
    assert_refused(result, f"POST /tenants/{{tenant_id}}/reconciliation/jobs as foreign_user (1 call(s)): "
                           f"expected 403, got {status} x1")
    assert result.measured["statuses"] == {str(status): 1}


# --- index_usage -----------------------------------------------------------------------------

@contextmanager
def index_dropped(env: LaunchB, name: str) -> Iterator[None]:
    with psycopg.connect(env.db_url, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        migrate(env.db_url)  # idempotent: creates the missing index again


HOT_QUERY = "SELECT * FROM reconciliation_results WHERE job_id = 1"


@pytest.mark.parametrize(("index", "missing", "unused"), [
    pytest.param("users_email_idx", "users.email", None, id="index_missing"),
    pytest.param("reconciliation_results_job_id_idx", "reconciliation_results.job_id", HOT_QUERY,
                 id="hot_query_lost_its_index"),
])
def test_index_usage_refuses_a_missing_index(phase_run: Callable[[str, str], PhaseRun], service: LaunchB,
                                             index: str, missing: str, unused: str | None) -> None:
    params = shipped("go_no_go", "index_usage")
    assert params["queries"] == [HOT_QUERY]
    with index_dropped(service, index):
        result = run_check("index_usage", phase_run("go_no_go", "pre_checks.index_usage"), **params)
    reasons = [f"no index on {missing}"] + ([f"EXPLAIN shows no index scan for: {unused}"] if unused else [])
    assert_refused(result, *reasons)
    assert result.measured["indexes"][missing] is None
    assert [p["index_scan"] for p in result.measured["explain"]] == [unused is None]


def test_index_usage_refuses_a_hot_query_its_index_cannot_serve(
        phase_run: Callable[[str, str], PhaseRun]) -> None:
    query = "SELECT * FROM users WHERE lower(email) = 'owner@example.com'"  # users.email's index is there
    params = {**shipped("go_no_go", "index_usage"), "queries": [query]}
    result = run_check("index_usage", phase_run("go_no_go", "pre_checks.index_usage"), **params)
    assert_refused(result, f"EXPLAIN shows no index scan for: {query}")
    assert "no index on" not in result.summary
    [explained] = result.measured["explain"]
    assert explained["index_scan"] is False and explained["plan_without_seqscan"][0].startswith("Seq Scan")


# --- restore_drill ---------------------------------------------------------------------------

def test_restore_drill_refuses_without_an_earlier_backup(phase_run: Callable[[str, str], PhaseRun]) -> None:
    result = run_check("restore_drill", phase_run("go_no_go", "pre_checks.restore_drill"),
                       **shipped("go_no_go", "restore_drill"))
    assert_refused(result, "no earlier backup: backups are not running on a schedule")
    assert result.measured["previous_backup_age_hours"] is None
    assert result.measured["restore_ok"] is True  # the drill itself ran; the schedule is what is missing


def test_restore_drill_refuses_a_last_backup_older_than_the_interval(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, evidence_base: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    take_backup(service, evidence_base, tmp_path / "backups")
    monkeypatch.setattr("include.launch.plugins.checks.restore.datetime", ShiftedClock(timedelta(hours=3)))
    result = run_check("restore_drill", phase_run("go_no_go", "pre_checks.restore_drill"),
                       **shipped("go_no_go", "restore_drill"))
    assert result.outcome is Outcome.FAILED, result.summary
    age = result.measured["previous_backup_age_hours"]
    assert age is not None and 2.9 < age < 3.5
    assert_refused(result, f"the last scheduled backup is {age:.1f} h old (interval 1 h)")


def test_restore_drill_refuses_a_backup_artifact_that_is_not_the_one_recorded(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, evidence_base: Path, tmp_path: Path) -> None:
    status = take_backup(service, evidence_base, tmp_path / "backups")
    with artifact(status).open("ab") as dump:
        dump.write(b"tampered")
    result = run_check("restore_drill", phase_run("go_no_go", "pre_checks.restore_drill"),
                       **shipped("go_no_go", "restore_drill"))
    assert_refused(result, f"the last scheduled backup: backup artifact {artifact(status).name} is not the one "
                           "the status describes")


def test_restore_drill_refuses_a_restore_over_the_rto(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, evidence_base: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    take_backup(service, evidence_base, tmp_path / "backups")
    monkeypatch.setattr("include.launch.plugins.checks.restore.time", Stopwatch(5 * 3600.0))  # 5 h per reading
    result = run_check("restore_drill", phase_run("go_no_go", "pre_checks.restore_drill"),
                       **shipped("go_no_go", "restore_drill"))
    assert_refused(result, "restore took 5.00 h (RTO 4 h)")
    assert result.measured["drill_seconds"] == 5 * 3600.0
    assert "last scheduled backup" not in result.summary  # the backup was fresh: only the RTO refuses


# --- chaos -----------------------------------------------------------------------------------

def _errors_while_down(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    env.set_faults(env.stable, error_rate=1.0)  # the service crashes (500) instead of degrading


def _injection_does_nothing(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    chaos_commands(patch, env, "redis_down", inject=NOOP)


def _never_comes_back(env: LaunchB, patch: pytest.MonkeyPatch) -> None:
    chaos_commands(patch, env, "redis_down", restore=NOOP)  # the service fixture starts Redis again


@pytest.mark.parametrize(("plant", "reason"), [
    pytest.param(_errors_while_down, "redis_down: ungraceful answers {'500': ", id="ungraceful"),
    pytest.param(_injection_does_nothing, "redis_down: /health never reported the failed dependency",
                 id="never_reported"),
    pytest.param(_never_comes_back, "redis_down: not recovered within 2 s", id="not_recovered"),
])
def test_chaos_refuses_ungraceful_unreported_or_unrecovered(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, monkeypatch: pytest.MonkeyPatch,
        plant: Plant, reason: str) -> None:
    plant(service, monkeypatch)
    params = {**shipped("go_no_go", "chaos"), "faults": ["redis_down"], "observe_seconds": 1.5,
              "recovery_seconds": 2}
    result = run_check("chaos", phase_run("go_no_go", "pre_checks.chaos"), **params)
    assert_refused(result, reason)
    [record] = result.measured["faults"]
    if plant is _errors_while_down:
        assert record["during"]["500"] > 0 and record["ungraceful"] == {"500": record["during"]["500"]}
        assert f"ungraceful answers {record['ungraceful']}" in result.summary
    elif plant is _injection_does_nothing:
        assert record["health_reported_fault"] is False
    else:
        assert record["health_reported_fault"] is True and record["recovered_after_seconds"] is None
        assert record["graceful"] is True  # reads kept working: only the recovery is missing


# --- service_gate and decision_table ---------------------------------------------------------

SERVICE_DEFECTS = [
    # every API call answers 500: the error rate and CFUR both miss
    pytest.param({"error_rate": 1.0}, ["error_rate_percent", "cfur_percent"], id="errors"),
    # every API call takes 800 ms (a slower machine only adds to it) against p95 < 500 ms
    pytest.param({"latency_ms": 800}, ["latency_p95_ms"], id="latency"),
]


@pytest.mark.parametrize(("faults", "metrics"), SERVICE_DEFECTS)
def test_service_gate_refuses_a_metric_over_its_criterion(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, faults: dict[str, Any],
        metrics: list[str]) -> None:
    params = {**shipped("canary_launch", "canary_analysis"), "window_seconds": 4}
    criteria = {c["metric"]: Criterion.model_validate(c) for c in params["criteria"]}
    service.set_faults(service.stable, **faults)
    with traffic(service):
        result = run_check("service_gate", phase_run("canary_launch", "verify.canary_analysis"), **params)
    assert result.outcome is Outcome.FAILED, result.summary
    measured = result.measured["metrics"]
    reasons = []
    for metric in metrics:
        value = measured[metric]
        assert value is not None and not criteria[metric].holds(value), (metric, measured)
        reasons.append(f"{criteria[metric]} (measured {value:g})")
    assert_refused(result, "service metrics over 4 s: ", *reasons)


def _table(result: CheckResult) -> str:
    return read_url(result.evidence[0].path).decode()


def test_decision_table_says_no_go_on_a_service_metric_over_its_criterion(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, evidence_base: Path, tmp_path: Path) -> None:
    take_backup(service, evidence_base, tmp_path / "backups")  # the backup row holds: the metric decides
    params = {**shipped("go_no_go", "go_no_go_table"), "window_seconds": 3}
    service.set_faults(service.stable, error_rate=1.0)
    with traffic(service):
        result = run_check("decision_table", phase_run("go_no_go", "pre_checks.go_no_go_table"), **params)
    assert result.outcome is Outcome.FAILED, result.summary
    errors = result.measured["metrics"]["error_rate_percent"]
    assert errors is not None and errors > 0.1 and result.measured["backup"]["ok"] is True
    assert result.measured["decision"] == "NO-GO"
    assert_refused(result, "Go/No-Go table: NO-GO, ", f"error_rate_percent < 0.1 (measured {errors:.2f} %)")
    assert "backups every" not in result.summary
    table = _table(result)
    assert f"| error rate < 0.1% | < 0.1 | {errors:.2f} % | NO-GO |" in table
    assert "**Decision:** NO-GO" in table


def _stale(patch: pytest.MonkeyPatch, status: dict[str, Any]) -> None:
    patch.setattr("include.launch.plugins.checks.slo.datetime", ShiftedClock(timedelta(hours=3)))


def _tampered(patch: pytest.MonkeyPatch, status: dict[str, Any]) -> None:
    with artifact(status).open("ab") as dump:
        dump.write(b"tampered")


@pytest.mark.parametrize(("plant", "actual"), [
    pytest.param(None, "no backup status", id="no_backup"),
    pytest.param(_stale, "min ago, restore tested", id="backup_older_than_the_interval"),
    pytest.param(_tampered, "is not the one the status describes", id="backup_artifact_not_the_recorded_one"),
])
def test_decision_table_says_no_go_without_a_recent_good_backup(
        phase_run: Callable[[str, str], PhaseRun], service: LaunchB, evidence_base: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, plant: Callable[[pytest.MonkeyPatch, dict[str, Any]], None] | None,
        actual: str) -> None:
    if plant is not None:
        plant(monkeypatch, take_backup(service, evidence_base, tmp_path / "backups"))
    params = {**shipped("go_no_go", "go_no_go_table"), "window_seconds": 1}
    result = run_check("decision_table", phase_run("go_no_go", "pre_checks.go_no_go_table"), **params)
    assert result.outcome is Outcome.FAILED, result.summary
    backup = result.measured["backup"]
    assert backup["ok"] is False and actual in backup["actual"], backup
    if "age_hours" in backup:  # the age as the injected clock makes it: three hours
        assert 2.9 < backup["age_hours"] < 3.5
        assert backup["actual"] == f"last {backup['age_hours'] * 60:.0f} min ago, restore tested"
    assert_refused(result, "Go/No-Go table: NO-GO, ", f"backups every 1 h (actual {backup['actual']})")
    assert f"| Active backups | every 1 h | {backup['actual']} | NO-GO |" in _table(result)
