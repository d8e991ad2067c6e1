"""The shipped rollback triggers that no DAG test drives, fired from their phase's real metric sources.

For each trigger: the phase's own sources run (the AccuBooks demo target, Prometheus scraping it for
Phase 3, the Launch B stand-in, the ledger), samples are taken with the phase's own sampler and
enriched as the soak enriches them (``take_sample`` + ``enrich``), and the soak's own ``evaluate``
judges them against the trigger as the plan ships it (only a sustained duration is shortened, in a
copy). A healthy stretch comes first and must not breach: the trigger reads the source, not a
constant. Then the test plants the condition itself (an injected latency or error rate, an open P0
incident) with a wide margin over the threshold, so the machine's speed cannot decide the outcome,
and the verdict must be a breach naming the trigger and the value it measured.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

import pytest
import requests

from include.demo_target.traffic import UserTraffic
from include.devservices.postgres import PostgresServer
from include.launch.core.criteria import RollbackTrigger
from include.launch.engine.soak import SoakVerdict, covered, enrich, evaluate
from include.launch.engine.steps import run_check
from include.launch.evidence.ledger import Event, Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plan.models import Soak
from include.launch.plugins.checks.synthetic_load import baseline_p95
from include.launch.plugins.metrics.sample import Sample
from include.launch.plugins.metrics.source import provided_metrics, take_sample
from include.launch.spec.phase import build_phase_spec
from tests.conftest import postgres_connection_json
from tests.harness.monitoring import accubooks_scraped
from tests.harness.target import RunningTarget, running_target
from tests.launch.launch_b.environment import LaunchB, launch_b_target

GAP_SECONDS = 1.5  # between two samples: enough requests in every interval, a few seconds a trigger
SUSTAINED_MINUTES = 0.05  # a shipped "for 5 min", shortened in a copy of the trigger: 3 s of samples
HEALTHY_SAMPLES = 3
MAX_PLANTED_SAMPLES = 12  # a trigger that has not fired by then does not read its source


class Stand(Protocol):
    """A running target the test drives: users' traffic and fault injection."""

    def traffic(self, threads: int) -> AbstractContextManager[object]: ...

    def set_faults(self, **faults: Any) -> None: ...

    def clear_faults(self) -> None: ...


@contextmanager
def readers(urls: list[str], threads: int, pause: float = 0.05) -> Iterator[None]:
    """``threads`` AccuBooks users reading invoices and trial balances (LiveTraffic's reads) until
    the block ends; on exit every thread stops at once and finishes its request in flight."""
    pages = [f"{url}/tenants/{tenant}/{page}" for tenant in range(1, 21) for url in urls
             for page in ("invoices", "trial-balance")]
    stop = threading.Event()

    def read(offset: int) -> None:
        session = requests.Session()
        sent = offset
        while not stop.is_set():
            with suppress(requests.RequestException):  # a refused request: the next one goes on
                session.get(pages[sent % len(pages)], timeout=15)
            sent += 1
            stop.wait(pause)

    workers = [threading.Thread(target=read, args=(i * 7,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=20)


@dataclass
class AccuBooksStand:
    target: RunningTarget

    def traffic(self, threads: int) -> AbstractContextManager[object]:
        return readers(self.target.urls, threads)

    def set_faults(self, **faults: Any) -> None:
        self.target.set_faults(**faults)

    def clear_faults(self) -> None:
        self.target.clear_faults()


@dataclass
class LaunchBStand:
    env: LaunchB
    identities: list[dict[str, int]] = field(default_factory=list)

    def traffic(self, threads: int) -> AbstractContextManager[object]:
        """Signed-in users through the proxy (one user after another per thread, as the canary tests)."""
        return UserTraffic(self.env.proxy.url, self.identities, self.env.jwt_secret, threads=threads, pause=0.1)

    def set_faults(self, **faults: Any) -> None:
        for group in (self.env.stable, self.env.canary):
            self.env.set_faults(group, **faults)

    def clear_faults(self) -> None:
        self.set_faults()  # a fault request without faults replaces the active ones with none


# --- the real sources, once per module ------------------------------------------------------------

@pytest.fixture(scope="module")
def patch() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def ledger(pg_server: PostgresServer, patch: pytest.MonkeyPatch,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """The ledger behind ``launch_db``: where incidents are opened and the pre-check baseline lives."""
    url = pg_server.create_database("ledger")
    patch.setenv("AIRFLOW_CONN_LAUNCH_DB", postgres_connection_json(url))
    patch.setenv("LAUNCH_EVIDENCE_BASE", str(tmp_path_factory.mktemp("evidence")))
    ledger = Ledger(url)
    ledger.ensure_schema()
    yield ledger
    pg_server.drop_database(url)


@pytest.fixture(scope="module")
def accubooks(pg_server: PostgresServer, patch: pytest.MonkeyPatch,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTarget]:
    """The AccuBooks demo target (two replicas, real PostgreSQL) behind the plan's connections, as
    tests/launch/phase1/conftest.py runs it; the database host's node exporter is the session's."""
    db_url = pg_server.create_database("target")
    with running_target(db_url, tmp_path_factory.mktemp("accubooks") / "target") as running:
        patch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", running.connection_json())
        patch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(db_url))
        yield running
    pg_server.drop_database(db_url)


@pytest.fixture(scope="module")
def accubooks_stand(accubooks: RunningTarget) -> AccuBooksStand:
    return AccuBooksStand(accubooks)


@pytest.fixture(scope="module")
def accubooks_monitoring(accubooks: RunningTarget, patch: pytest.MonkeyPatch,
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """What Phase 2 leaves for Phase 3: Prometheus scraping every replica as job ``accubooks``."""
    with accubooks_scraped(tmp_path_factory.mktemp("monitoring"), accubooks.urls, patch.setenv) as stack:
        yield stack


@pytest.fixture(scope="module")
def launch_b_stand(pg_server: PostgresServer, patch: pytest.MonkeyPatch,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchBStand]:
    """The Launch B stand-in (stable and canary groups behind nginx) behind the plan's connections."""
    base: Path = tmp_path_factory.mktemp("reconciliation") / "recon"
    with launch_b_target(pg_server, base) as env:
        patch.setenv("AIRFLOW_CONN_RECONCILIATION_API", json.dumps(env.connection()))
        patch.setenv("AIRFLOW_CONN_RECONCILIATION_DB", postgres_connection_json(env.db_url))
        yield LaunchBStand(env, env.identities())


# --- the soak's own sampling and judging ----------------------------------------------------------

def soak_sample(run: PhaseRun, previous: Sample | None) -> Sample:
    """One sample as the soak takes it: the phase's sources merged, then what the engine derives."""
    sample = enrich(run, take_sample(run, previous))
    assert not sample.error, sample.error
    return sample


def series(run: PhaseRun, count: int, samples: list[Sample] | None = None,
           gap: float = GAP_SECONDS) -> list[Sample]:
    taken = list(samples or [])
    for _ in range(count):
        if taken:
            time.sleep(gap)
        taken.append(soak_sample(run, taken[-1] if taken else None))
    return taken


def judge(samples: list[Sample], trigger: RollbackTrigger, policy: Soak) -> SoakVerdict:
    """The soak's decision after the latest sample, on this one trigger (the window is the plan's:
    far from over, so only the trigger can end it)."""
    return evaluate(samples, [trigger], [], policy, policy.window_minutes * 60, samples[0].taken_at,
                    samples[-1].taken_at)


def until_decided(run: PhaseRun, trigger: RollbackTrigger, policy: Soak, samples: list[Sample],
                  gap: float) -> tuple[SoakVerdict, list[Sample]]:
    """Keep sampling, as the soak does, until the verdict is no longer ``continue``."""
    verdict = judge(samples, trigger, policy)
    for _ in range(MAX_PLANTED_SAMPLES):
        samples = series(run, 1, samples, gap)
        verdict = judge(samples, trigger, policy)
        if verdict.status != "continue":
            break
    return verdict, samples


def take_baseline(run: PhaseRun, name: str) -> None:
    """Run the phase's own pre-check ``name`` (its window shortened) through the DAG's check step:
    the p95 it records is what the soak's regression is measured against."""
    check = next(c for c in run.spec.pre_checks if c.name == name)
    short = dataclasses.replace(check, params=check.params.model_copy(update={"window_seconds": 2.0}))
    context = {"run_id": run.run_id, "params": {}, "ti": SimpleNamespace(task_id=short.task_id, try_number=1,
                                                                         max_tries=0)}
    result = run_check(run.spec, short, context)
    assert result["outcome"] == "successful", result
    assert baseline_p95(run, "metric_gate") is not None  # what enrich() reads


def measured(samples: list[Sample], metric: str) -> list[tuple[float | None, float | None]]:
    """Each sample's value of ``metric`` and its requests: what a failed assertion shows."""
    return [(s.values.get(metric), s.values.get("requests_in_interval")) for s in samples]


def shortened(trigger: RollbackTrigger) -> RollbackTrigger:
    if not trigger.sustained_minutes:
        return trigger
    return trigger.model_copy(update={"sustained_minutes": min(trigger.sustained_minutes, SUSTAINED_MINUTES)})


def settle(faults: dict[str, Any]) -> None:
    """Wait until the requests answered carry an injected latency (those in flight when it was set
    were answered without it)."""
    time.sleep(faults.get("latency_ms", 0) / 1000 + 0.5)


@contextmanager
def planted(case: Case, stand: Stand, ledger: Ledger) -> Iterator[None]:
    """The condition the trigger is about, undone when the block ends."""
    if case.incident:
        opened = Event(launch_id=case.launch, event="incident_opened", phase_id=case.phase, outcome="P0",
                       payload={"incident_id": f"INC-{case.id}", "title": "tenant data shown to another tenant"})
        ledger.append(opened)
        try:
            yield
        finally:
            ledger.append(Event(launch_id=case.launch, event="incident_resolved", phase_id=case.phase,
                                payload={"incident_id": f"INC-{case.id}"}))
        return
    stand.set_faults(**{**case.healthy_faults, **case.faults})  # a fault request replaces the active set
    try:
        yield
    finally:
        stand.clear_faults()


# --- the triggers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """id: the test id. launch, phase, metric: the shipped trigger. stand: the fixture running the
    phase's target. reason: the verdict's words for the trigger (once shortened). severity: the
    plan's. faults: injected to make it hold; incident: open a P0 instead. healthy_faults: held for
    the whole test (a latency floor, see the regression case). baseline: the pre-check whose p95 the
    soak compares with. threads: users throughout; planted_threads: more while the target is slow
    (each thread waits for its answer). monitoring: the phase also reads Prometheus."""

    id: str
    launch: str
    phase: str
    metric: str
    stand: str
    reason: str
    severity: str
    faults: dict[str, Any] = field(default_factory=dict)
    incident: bool = False
    healthy_faults: dict[str, Any] = field(default_factory=dict)
    baseline: str = ""
    threads: int = 1
    planted_threads: int = 0
    monitoring: bool = False

    @property
    def planted_gap(self) -> float:
        """Seconds between samples once planted: longer than an injected latency, so every interval
        holds an answer of every user (users answered together in 3 s, sampled every 1.5 s, would
        leave every other interval without a request: no data, which breaks a sustained streak)."""
        return max(GAP_SECONDS, {**self.healthy_faults, **self.faults}.get("latency_ms", 0) / 1000 + 1.0)


CASES = [
    Case("phase1-active-incidents", "accubooks", "phase1_pool_scaling", "active_incidents_count", "accubooks_stand",
         "rollback trigger active_incidents_count > 0", "P0", incident=True),
    # 3 s injected against a 1000 ms threshold: every request lands in the (2.5 s, 5 s] bucket.
    Case("phase1-latency-p95", "accubooks", "phase1_pool_scaling", "latency_p95_ms", "accubooks_stand",
         "rollback trigger latency_p95_ms > 1000 for 0.05 min", "P1", faults={"latency_ms": 3000},
         planted_threads=12),
    # The p95 regression against the health_baseline pre-check. A 255 ms floor held from the
    # baseline on puts every request of the baseline and of the healthy stretch in the (250, 400]
    # ms bucket: both p95s are that bucket's 392.5 ms whatever the machine's speed (a request would
    # need 145 ms of its own to leave it), the gate's p95 < 500 ms holds, and the healthy regression
    # is ~0. Then 800 ms: the (750, 1000] ms bucket, a regression of ~150 % (~600 ms) against a
    # trigger at 20 % when above 25 ms.
    Case("phase1-latency-regression", "accubooks", "phase1_pool_scaling", "latency_regression_percent",
         "accubooks_stand", "rollback trigger latency_regression_percent > 20 when latency_regression_ms > 25", "P1",
         faults={"latency_ms": 800}, healthy_faults={"latency_ms": 255}, baseline="health_baseline", threads=4,
         planted_threads=4),
    # Half the requests fail against a 1 % threshold; Phase 3 also reads Prometheus and the
    # integrity suite at every sample, so both run.
    Case("phase3-error-rate", "accubooks", "phase3_beta", "error_rate_percent", "accubooks_stand",
         "rollback trigger error_rate_percent > 1 for 0.05 min", "P0", faults={"error_rate": 0.5}, monitoring=True),
    # Half the requests answer 500: most signed-in users of the CFUR window crash (threshold 99.5 %).
    Case("launch-b-canary-cfur", "reconciliation", "canary_launch", "cfur_percent", "launch_b_stand",
         "rollback trigger cfur_percent < 99.5", "P0", faults={"error_rate": 0.5}, threads=2),
    Case("launch-b-canary-latency-p95", "reconciliation", "canary_launch", "latency_p95_ms", "launch_b_stand",
         "rollback trigger latency_p95_ms > 1000", "P0", faults={"latency_ms": 3000}, threads=2, planted_threads=12),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_shipped_trigger_fires_from_its_phase_sources(case: Case, request: pytest.FixtureRequest,
                                                      ledger: Ledger) -> None:
    stand: Stand = request.getfixturevalue(case.stand)
    if case.monitoring:
        request.getfixturevalue("accubooks_monitoring")
    run = PhaseRun(spec=build_phase_spec(load_plan(case.launch), case.phase, case.launch), run_id=f"fires-{case.id}",
                   task_id="sustained_monitoring")
    policy = run.spec.phase.soak
    assert policy is not None
    shipped = next(t for t in run.spec.phase.rollback_triggers if t.metric.value == case.metric)
    trigger = shortened(shipped)
    # The soak refuses a trigger its phase's sources cannot measure: this one they can.
    assert covered([trigger], provided_metrics(run)) == ([trigger], [])

    stand.clear_faults()
    try:
        with stand.traffic(case.threads):
            if case.healthy_faults:
                stand.set_faults(**case.healthy_faults)
                settle(case.healthy_faults)
            if case.baseline:
                take_baseline(run, case.baseline)
            healthy = series(run, HEALTHY_SAMPLES)
            unmeasured = [s.values for s in healthy[1:] if s.values.get(case.metric) is None]
            assert not unmeasured, f"{case.metric} not measured while healthy: {unmeasured}"
            calm = judge(healthy, trigger, policy)
            assert calm.status == "continue", f"{calm}: {measured(healthy, case.metric)}"

            with planted(case, stand, ledger), stand.traffic(case.planted_threads):
                verdict, samples = until_decided(run, trigger, policy, healthy, case.planted_gap)
    finally:
        stand.clear_faults()

    value = samples[-1].values.get(case.metric)
    assert verdict.status == "breach", f"{verdict}: {measured(samples, case.metric)}"
    assert value is not None and trigger.holds(value)
    assert verdict.reason == f"{case.reason} (measured {value:g})"
    assert verdict.severity == case.severity == shipped.severity.value
