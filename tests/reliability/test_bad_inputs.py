"""Bad inputs are refused before any change, with a message naming the field, row or connection."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException, ParamValidationError

from include.launch.beta.survey import HEADER, parse_survey
from include.launch.engine import steps
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.spec.phase import build_phase_spec
from tests.harness.airflow import run_dag
from tests.harness.phase import build_variant, phase1_conf

FAST = phase1_conf(monitor_minutes=0.15, sample_interval_seconds=2)


@pytest.fixture(scope="module")
def phase1_dag(airflow_db: Path) -> Any:
    return build_variant("accubooks", "phase1_pool_scaling")


@pytest.mark.parametrize(("conf", "message"), [
    ({"pool_max": "two hundred"}, "pool_max: 'two hundred' is not of type 'integer'"),
    ({"pool_max": 0}, "pool_max: 0 is less than the minimum of 1"),
    ({"monitor_minutes": 0}, "monitor_minutes: 0 is less than or equal to the minimum of 0"),
    ({"dry_run": "yes"}, "dry_run: 'yes' is not of type 'boolean'"),
], ids=["type-string", "range-zero", "window-zero", "bool-type"])
def test_trigger_params_of_wrong_type_or_range_refused_by_airflow(phase1_dag: Any, ledger_db: str, conf: dict[str, Any],
                                                                  message: str) -> None:
    with pytest.raises(ParamValidationError) as refused:
        phase1_dag.test(run_conf={**FAST, **conf})
    assert message in str(refused.value).replace("Invalid input for param ", "")
    assert Ledger(ledger_db).rows() == []  # no task ran: nothing to record, nothing changed


@pytest.mark.parametrize(("conf", "message"), [
    ({"pool_maxx": 300, "x": 1}, "unknown trigger param(s) 'pool_maxx', 'x'"),
], ids=["unknown-keys"])
def test_unknown_trigger_params_refused_by_the_phase_gate(phase1_dag: Any, ledger_db: str, evidence_base: Path,
                                                          slack: Any, conf: dict[str, Any], message: str) -> None:
    """A misspelt key (``pool_maxx``) must not be ignored silently: the operator meant to change it."""
    dag_run, _ = run_dag(phase1_dag, conf={**FAST, **conf})
    result = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert dag_run.state == "failed"
    assert result["phase_gate"] == "failed"
    assert result["apply_change"] == "upstream_failed"
    ledger = Ledger(ledger_db)
    refused = ledger.rows(event="params_refused")
    assert len(refused) == 1 and message in refused[0].payload["error"]
    assert ledger.rows(event="approval_requested") == [] and ledger.rows(event="snapshot_taken") == []


def _context(task_id: str) -> dict[str, Any]:
    run_id = "manual__bad_connection"
    return {"run_id": run_id, "ti": SimpleNamespace(task_id=task_id, try_number=2, max_tries=1),
            "dag_run": SimpleNamespace(run_id=run_id, triggering_user_name="operator"), "params": {}}


def _spec_with_connections(**connections: str) -> Any:
    plan = load_plan("accubooks")
    plan = plan.model_copy(update={"connections": plan.connections.model_copy(update=connections)})
    return build_phase_spec(plan, "phase1_pool_scaling", "accubooks")


@pytest.mark.parametrize(("field", "check"), [("target_api", "health_endpoints"), ("target_db", "database_health")])
def test_missing_connection_is_named(ledger_db: str, evidence_base: Path, slack: Any, field: str, check: str) -> None:
    spec = _spec_with_connections(**{field: "no_such_connection_x"})
    task = next(c for c in spec.pre_checks if c.name == check)
    with pytest.raises(AirflowFailException, match="no_such_connection_x"):
        steps.run_check(spec, task, _context(f"pre_checks.{check}"))
    row = Ledger(ledger_db).rows(event="check_result")[0]
    assert row.outcome == "error" and "no_such_connection_x" in row.payload["summary"]


def test_missing_ledger_connection_is_named(evidence_base: Path) -> None:
    spec = _spec_with_connections(ledger="no_such_ledger_x")
    with pytest.raises(AirflowNotFoundException, match="no_such_ledger_x"):
        PhaseRun.from_context(spec, _context("phase_gate")).ledger  # noqa: B018 - the property connects


def _csv(*rows: str) -> bytes:
    return ("\n".join([",".join(HEADER), *rows]) + "\n").encode()


GOOD = "1,1,11,7,true,true,5,9,fine"


@pytest.mark.parametrize(("data", "accepted", "first_error"), [
    (b"\xef\xbb\xbf" + _csv(GOOD), True, None),
    (_csv(GOOD).replace(b"fine", "caf\xe9".encode("latin-1")), False, "file: not UTF-8"),
    (b"", False, "line 1: empty file"),
    (_csv(), False, "file: no answers after the header"),
    (b"respondent,tenant\n1,1\n", False, "line 1: header 'respondent,tenant' is not"),
    (_csv(GOOD, "2,1,12,7,true,true,9,9,x"), False, "line 3: satisfaction 9 is outside 1-5"),
    (_csv(GOOD, "2,1,11,7,true,true,5,9,x"), False, "line 3: user 11 answered twice (line 2)"),
], ids=["bom-accepted", "latin1", "empty", "header-only", "wrong-columns", "out-of-range", "duplicate-respondent"])
def test_survey_csv_inputs(data: bytes, accepted: bool, first_error: str | None) -> None:
    result = parse_survey(data, 7)
    assert result.accepted is accepted
    if first_error:
        assert result.errors[0].startswith(first_error), result.errors
        assert result.answers == []  # rejected whole, nothing partly imported


def test_huge_survey_is_validated_whole_and_names_the_bad_line() -> None:
    rows = [f"{n},{n},{n},7,true,true,4,9,ok" for n in range(1, 50_001)]
    rows[-1] = "50000,50000,50000,7,true,true,4,11,ok"
    result = parse_survey(_csv(*rows), 7)
    assert not result.accepted and result.answers == []
    assert result.errors == ["line 50001: nps 11 is outside 0-10"]
