"""Prometheus or Alertmanager unreachable: the checks say ERROR (could not measure), never a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.devservices.prometheus import free_port
from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plugins.checks.catalog import NoParams
from include.launch.spec.phase import build_phase_spec
from tests.harness.checks import registered_check

monitoring_config_valid = registered_check("monitoring_config_valid")  # through the registry: the mutant reaches it
monitoring_live = registered_check("monitoring_live")  # through the registry: the mutant reaches it


@pytest.fixture()
def run(tmp_path: Path, evidence_base: Path, monkeypatch: pytest.MonkeyPatch) -> PhaseRun:
    """Connections to ports nobody listens on; a target that is never contacted by these checks."""
    for name, folder in (("PROMETHEUS", "prom"), ("ALERTMANAGER", "am")):
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps({
            "conn_type": "http", "host": f"http://127.0.0.1:{free_port()}",
            "extra": {"config_dir": str(tmp_path / folder), "verify_timeout_seconds": 2}}))
    monkeypatch.setenv("AIRFLOW_CONN_ACCUBOOKS_API", json.dumps(
        {"conn_type": "http", "extra": {"replicas": ["http://127.0.0.1:18001", "http://127.0.0.1:18002"]}}))
    spec = build_phase_spec(load_plan("accubooks"), "phase2_monitoring", "accubooks")
    return PhaseRun(spec=spec, run_id="unreachable_test")


def test_config_check_is_error_when_prometheus_unreachable(run: PhaseRun) -> None:
    result = monitoring_config_valid(run, NoParams())
    assert result.outcome is Outcome.ERROR, result
    assert "unreachable" in result.summary
    assert all(tool["ok"] for tool in result.measured["tools"])  # the config itself was fine


def test_verify_is_error_when_prometheus_unreachable(run: PhaseRun) -> None:
    result = monitoring_live(run, NoParams())
    assert result.outcome is Outcome.ERROR, result
    assert "could not measure" in result.summary


def test_missing_connection_is_a_configuration_error(run: PhaseRun, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.launch.core.errors import ConfigurationError

    monkeypatch.delenv("AIRFLOW_CONN_PROMETHEUS")
    with pytest.raises(ConfigurationError, match="prometheus"):
        monitoring_config_valid(run, NoParams())
