"""Fixtures: a generated demo-target database and a PhaseRun whose target_db points at it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from include.demo_target.generator import GenerationResult, generate
from include.launch.plan import load_plan
from include.launch.plugins.quality.model import DataModel
from tests.conftest import postgres_connection_json

TENANTS = 50


@pytest.fixture(scope="module")
def accubooks_model() -> DataModel:
    model = load_plan("accubooks").data_model
    assert model is not None
    return model


@pytest.fixture()
def target(module_db: str) -> Callable[..., GenerationResult]:
    """Regenerate the module's database: ``target()`` clean, ``target(["orphan_line"])`` with defects."""

    def make(defects: list[str] | None = None) -> GenerationResult:
        return generate(module_db, TENANTS, seed=3, defects=defects)

    return make


@pytest.fixture()
def phase_run(module_db: str, ledger_db: str, evidence_base: object, slack: object,
              monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A PhaseRun of accubooks phase 1 whose target_db is the module's generated database."""
    from include.launch.evidence.runtime import PhaseRun
    from include.launch.spec.phase import build_phase_spec

    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_DB", postgres_connection_json(module_db))
    spec = build_phase_spec(load_plan("accubooks"), "phase1_pool_scaling", "accubooks")
    return PhaseRun(spec=spec, run_id="test-run", task_id="x")
