"""Refusals of the AccuBooks checks that had no failure-path test: ``settings_applied`` (Phase 1
verify: every replica reports the new pool, read where the target profile says) and
``beta_enrolled`` (Phase 3 verify: flags and detailed
logging on for exactly the cohort). Each defect is planted on the real demo target (two replicas on
a real PostgreSQL) and the refusal must name the replica or tenant and the value seen; one pass per
kind proves the check can also pass. Checks run through the registry (tests.harness.checks), so
scripts/mutate_checks.py's always-passing mutant reaches them.

Flags are per tenant on the target (``feature_flags``), so the cohort entry ``tenant:user`` is
judged, and named, by its tenant.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple, Self

import psycopg
import pytest
import requests
from airflow.sdk.exceptions import AirflowException

from include.demo_target.beta import cohort_entries
from include.demo_target.config import DEFAULTS, write_env_file
from include.devservices.postgres import PostgresServer
from include.launch.core.vocabulary import Outcome
from include.launch.engine.steps import _conclude
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.spec.phase import PhaseSpec, build_phase_spec
from tests.conftest import postgres_connection_json
from tests.harness.checks import run_check
from tests.harness.target import RunningTarget, running_target

PHASE1, PHASE3 = "phase1_pool_scaling", "phase3_beta"
COHORT_TENANTS = list(range(1, 11))  # the plan's cohort_min: 10 invitees, one per tenant
NOW = datetime(2031, 5, 20, 9, 0, tzinfo=UTC)  # beta_enrolled's clock (injected): never today's date


# --- the target, shared by the module: every test sets the state it judges -----------------------

@pytest.fixture(scope="module")
def target(pg_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTarget]:
    db_url = pg_server.create_database("target")
    try:
        with running_target(db_url, tmp_path_factory.mktemp("target"), tenants=45) as running:
            yield running
    finally:
        pg_server.drop_database(db_url)


@pytest.fixture(scope="module")
def specs() -> dict[str, PhaseSpec]:
    plan = load_plan("accubooks")
    return {phase: build_phase_spec(plan, phase, "accubooks") for phase in (PHASE1, PHASE3)}


@pytest.fixture()
def connections(target: RunningTarget, evidence_base: Path, monkeypatch: pytest.MonkeyPatch) -> RunningTarget:
    """The plan's ``target_api`` and ``target_db`` connections on the running target."""
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", target.connection_json())
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(target.db_url))
    return target


def list_replicas(monkeypatch: pytest.MonkeyPatch, target: RunningTarget, replicas: list[str]) -> None:
    """The ``target_api`` connection listing ``replicas`` instead of the running ones."""
    document = json.loads(target.connection_json())
    document["extra"]["replicas"] = replicas
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", json.dumps(document))


def concluded(run: PhaseRun, kind: str) -> tuple[str, str]:
    """The check as the engine concludes it (steps._conclude) on the first of two tries: the outcome
    and summary of its ledger row. An ERROR is retried: AirflowException, not AirflowFailException."""
    ti = SimpleNamespace(task_id=f"verify.{kind}", try_number=1, max_tries=1)
    with pytest.raises(AirflowException) as raised:
        _conclude(run, {"ti": ti}, kind, kind, lambda: run_check(kind, run))
    assert type(raised.value) is AirflowException, f"not retried: {raised.value}"
    (row,) = run.own_rows("check_result")
    return row.outcome, str(row.payload["summary"])


# --- settings_applied -----------------------------------------------------------------------------

def pools(specs: dict[str, PhaseSpec]) -> tuple[dict[str, str], dict[str, str]]:
    """The env before the change (the target's defaults: max 50, min 10) and after (the plan's 200, 20)."""
    settings = getattr(specs[PHASE1].change_params, "settings", {})
    return dict(DEFAULTS), {**DEFAULTS, **{key: str(value) for key, value in settings.items()}}


def run_pools(target: RunningTarget, *per_replica: dict[str, str]) -> None:
    """Replica i runs the env ``per_replica[i]``: the shared env file is written, then only that
    replica reloads it (the others keep what they loaded before)."""
    for url, values in zip(target.urls, per_replica, strict=True):
        write_env_file(target.env_file, values)
        response = requests.post(f"{url}/admin/reload", headers={"Authorization": f"Bearer {target.token}"},
                                 timeout=30)
        response.raise_for_status()


class PoolDefect(NamedTuple):
    """What a test planted: replica i's env (``old``/``new``), the trigger form's values, the
    replicas the connection lists (``{0}``/``{1}``: the running ones) and the refusal's summary."""

    envs: tuple[str, str]
    params: dict[str, Any]
    replicas: tuple[str, ...]
    summary: str


POOL_DEFECTS = [
    pytest.param(PoolDefect(("new", "old"), {}, ("{0}", "{1}"),
                            "{1} DB_POOL_MAX = 50 (expected 200); {1} DB_POOL_MIN = 10 (expected 20)"),
                 id="a_replica_still_runs_the_old_pool"),
    pytest.param(PoolDefect(("new", "new"), {"pool_max": 150}, ("{0}", "{1}"),
                            "{0} DB_POOL_MAX = 200 (expected 150); {1} DB_POOL_MAX = 200 (expected 150)"),
                 id="the_run_asked_for_another_pool_max_than_the_replicas_run"),
    pytest.param(PoolDefect(("new", "new"), {}, ("{0}", "{1}/not-the-service"),
                            "{1}/not-the-service DB_POOL_MAX = None (expected 200); "
                            "{1}/not-the-service DB_POOL_MIN = None (expected 20); "
                            "{1}/not-the-service DB_POOL_IDLE_TIMEOUT = None (expected 30000); "
                            "{1}/not-the-service DB_POOL_CONNECTION_TIMEOUT = None (expected 2000)"),
                 id="a_replica_answers_without_pool_settings"),
]


@pytest.mark.parametrize("defect", POOL_DEFECTS)
def test_settings_applied_fails_naming_the_replica_and_the_pool_it_runs(
        defect: PoolDefect, connections: RunningTarget, specs: dict[str, PhaseSpec],
        monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = pools(specs)
    run_pools(connections, *(new if env == "new" else old for env in defect.envs))
    list_replicas(monkeypatch, connections, [url.format(*connections.urls) for url in defect.replicas])
    run = PhaseRun(spec=specs[PHASE1], run_id="pool_refused", params=defect.params)
    result = run_check("settings_applied", run)
    assert result.outcome is Outcome.FAILED, result.summary
    assert result.summary == defect.summary.format(*connections.urls)


@pytest.fixture()
def refused_port() -> Iterator[int]:
    """A port that refuses connections (bound, never listening): a replica that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_settings_applied_cannot_read_a_replica_that_is_down_an_error_naming_it(
        connections: RunningTarget, specs: dict[str, PhaseSpec], refused_port: int, ledger_db: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, new = pools(specs)
    run_pools(connections, new, new)
    list_replicas(monkeypatch, connections, [connections.urls[0], f"http://127.0.0.1:{refused_port}"])
    outcome, summary = concluded(PhaseRun(spec=specs[PHASE1], run_id="pool_unreadable"), "settings_applied")
    assert outcome == Outcome.ERROR.value, summary
    assert summary.startswith("could not measure: ConnectionError: "), summary
    assert f"host='127.0.0.1', port={refused_port}" in summary and "Connection refused" in summary, summary


def test_settings_applied_passes_when_every_replica_runs_the_new_pool(
        connections: RunningTarget, specs: dict[str, PhaseSpec]) -> None:
    _, new = pools(specs)
    run_pools(connections, new, new)
    result = run_check("settings_applied", PhaseRun(spec=specs[PHASE1], run_id="pool_applied"))
    assert result.outcome is Outcome.SUCCESSFUL, result.summary
    assert result.summary == ("every replica reports DB_POOL_MAX 200, DB_POOL_MIN 20, DB_POOL_IDLE_TIMEOUT 30000, "
                              "DB_POOL_CONNECTION_TIMEOUT 2000")


# --- health_endpoints -----------------------------------------------------------------------------

def test_health_endpoints_fails_naming_a_replica_that_does_not_answer_ok(
        connections: RunningTarget, specs: dict[str, PhaseSpec], monkeypatch: pytest.MonkeyPatch) -> None:
    """A replica whose /health is not a 200 with status ok (here: a path the service does not serve)
    fails the gate by its URL; the healthy one beside it does not hide it."""
    sick = f"{connections.urls[1]}/not-the-service"
    list_replicas(monkeypatch, connections, [connections.urls[0], sick])
    result = run_check("health_endpoints", PhaseRun(spec=specs[PHASE1], run_id="health_refused",
                                                    task_id="pre_checks.health_endpoints"))
    assert result.outcome is Outcome.FAILED, result.summary
    assert result.summary == f"unhealthy replicas: {sick} answered 404 (status None, expected 'ok')"
    list_replicas(monkeypatch, connections, list(connections.urls))
    healthy = run_check("health_endpoints", PhaseRun(spec=specs[PHASE1], run_id="health_ok",
                                                     task_id="pre_checks.health_endpoints"))
    assert (healthy.outcome, healthy.summary) == (Outcome.SUCCESSFUL, "2 replica(s) healthy")


# --- beta_enrolled --------------------------------------------------------------------------------

class FrozenClock(datetime):
    """``datetime`` whose ``now`` is NOW."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Self:
        return cls.fromtimestamp(NOW.timestamp(), tz)


@pytest.fixture()
def beta_run(connections: RunningTarget, specs: dict[str, PhaseSpec],
             monkeypatch: pytest.MonkeyPatch) -> PhaseRun:
    """Phase 3's verify run with the cohort from its trigger form; the check's clock frozen at NOW."""
    monkeypatch.setattr("include.launch.plugins.checks.beta.datetime", FrozenClock)
    return PhaseRun(spec=specs[PHASE3], run_id="beta_verify",
                    params={"cohort": cohort_entries(connections.db_url, COHORT_TENANTS)})


def enroll_exactly_the_cohort(db_url: str) -> None:
    """What the applier leaves: per cohort tenant the beta flag until the planned end (14 days) and
    detailed logging for 72 hours; no other tenant has either."""
    with psycopg.connect(db_url) as conn, conn.transaction():
        conn.execute("DELETE FROM feature_flags WHERE flag IN ('beta', 'detailed_logging')")
        for tenant in COHORT_TENANTS:
            conn.execute("INSERT INTO feature_flags (tenant_id, flag, enabled, expires_at) VALUES "
                         "(%s, 'beta', true, %s), (%s, 'detailed_logging', true, %s)",
                         (tenant, NOW + timedelta(days=14), tenant, NOW + timedelta(hours=72)))


FLAG = "INSERT INTO feature_flags (tenant_id, flag, enabled, expires_at) VALUES (%s, %s, true, %s)"
BETA_DEFECTS = [
    pytest.param("UPDATE feature_flags SET enabled = false WHERE tenant_id = %s AND flag = 'beta'", (3,),
                 "beta off for cohort tenant(s) 3", id="a_cohort_tenant_without_the_beta_flag"),
    pytest.param(FLAG, (40, "beta", NOW + timedelta(days=14)),
                 "beta on for tenant(s) outside the cohort: 40", id="a_tenant_outside_the_cohort_with_the_beta_flag"),
    pytest.param("DELETE FROM feature_flags WHERE tenant_id = %s AND flag = 'detailed_logging'", (5,),
                 "detailed_logging off for cohort tenant(s) 5", id="detailed_logging_missing_for_a_cohort_tenant"),
    pytest.param(FLAG, (41, "detailed_logging", NOW + timedelta(hours=72)),
                 "detailed_logging on for tenant(s) outside the cohort: 41",
                 id="detailed_logging_on_outside_the_cohort"),
    pytest.param("UPDATE feature_flags SET expires_at = NULL WHERE tenant_id = %s AND flag = 'detailed_logging'",
                 (6,), "detailed_logging for tenant 6 does not expire within 72 h (expires never)",
                 id="detailed_logging_that_never_expires"),
    pytest.param("UPDATE feature_flags SET expires_at = %s WHERE tenant_id = %s AND flag = 'detailed_logging'",
                 (NOW - timedelta(hours=1), 7),
                 "detailed_logging expired for cohort tenant(s) 7 (at 2031-05-20 08:00 UTC)",
                 id="detailed_logging_already_expired_for_a_cohort_tenant"),
]


@pytest.mark.parametrize(("plant", "args", "problem"), BETA_DEFECTS)
def test_beta_enrolled_fails_naming_the_tenant_and_what_it_has(
        plant: str, args: tuple[Any, ...], problem: str, beta_run: PhaseRun, connections: RunningTarget) -> None:
    enroll_exactly_the_cohort(connections.db_url)
    with psycopg.connect(connections.db_url) as conn:
        conn.execute(plant, args)
    result = run_check("beta_enrolled", beta_run)
    assert result.outcome is Outcome.FAILED, result.summary
    assert result.summary == f"beta enrollment: {problem}"


def test_beta_enrolled_cannot_read_a_target_database_that_is_gone_an_error_naming_it(
        beta_run: PhaseRun, pg_server: PostgresServer, ledger_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(pg_server.url_for("no_such_target")))
    outcome, summary = concluded(beta_run, "beta_enrolled")
    assert outcome == Outcome.ERROR.value, summary
    assert summary.startswith("could not measure: OperationalError: "), summary
    assert 'database "no_such_target" does not exist' in summary, summary


def test_beta_enrolled_passes_for_exactly_the_cohort(beta_run: PhaseRun, connections: RunningTarget) -> None:
    enroll_exactly_the_cohort(connections.db_url)
    result = run_check("beta_enrolled", beta_run)
    assert result.outcome is Outcome.SUCCESSFUL, result.summary
    assert result.summary == "beta and detailed_logging on for exactly the 10 cohort tenants"

