"""no_open_incidents: an open incident of a blocking severity refuses the phase, named; a resolved
one, or one of a severity the plan does not block on, does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.launch.core.vocabulary import Outcome, Severity
from include.launch.evidence.ledger import Event, Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plugins.checks.catalog import SeverityParams
from include.launch.spec.phase import build_phase_spec
from tests.harness.checks import registered_check

no_open_incidents = registered_check("no_open_incidents")  # through the registry: the mutant reaches it


@pytest.fixture()
def run(ledger_db: str, evidence_base: Path) -> PhaseRun:
    plan = load_plan("accubooks")
    return PhaseRun(spec=build_phase_spec(plan, "phase2_monitoring", "accubooks"), run_id="incidents_test")


def opened(ledger_db: str, ident: str, severity: str) -> None:
    Ledger(ledger_db).append(Event(launch_id="accubooks", event="incident_opened", phase_id="phase1_pool_scaling",
                                   outcome=severity, payload={"incident_id": ident, "title": "error rate 4 %"}))


def test_an_open_p1_refuses_the_phase_and_names_it(run: PhaseRun, ledger_db: str) -> None:
    opened(ledger_db, "INC-1", "P1")
    result = no_open_incidents(run, SeverityParams())
    assert result.outcome is Outcome.FAILED
    assert result.summary == "open incident(s): INC-1 (P1: error rate 4 %, open)"


def test_a_resolved_incident_or_an_unblocking_severity_lets_it_start(run: PhaseRun, ledger_db: str) -> None:
    opened(ledger_db, "INC-2", "P0")
    Ledger(ledger_db).append(Event(launch_id="accubooks", event="incident_resolved", phase_id="phase1_pool_scaling",
                                   payload={"incident_id": "INC-2"}))
    opened(ledger_db, "INC-3", "P2")
    result = no_open_incidents(run, SeverityParams(severities=[Severity.P0, Severity.P1]))
    assert result.outcome is Outcome.SUCCESSFUL, result.summary
