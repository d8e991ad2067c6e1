"""What a change may touch, on real replicas: a setting outside the target profile is refused before
anything is touched; a settings change that moves the service's version is rolled back (the setting
it added removed again) unless the phase is a release; a version the service does not tell is
refused before the change."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.demo_target.config import read_env_file
from include.launch.engine import change_guard
from include.launch.evidence.ledger import Ledger
from include.launch.evidence.runtime import PhaseRun
from include.launch.plan import load_plan
from include.launch.plan.loader import _resolve
from include.launch.spec.phase import build_phase_spec
from tests.harness.airflow import Answer, ApprovalClient, run_dag
from tests.harness.answers import REVIEWED
from tests.harness.phase import Edit, build_variant, change_only, own_launch_id

APPROVE = [Answer("approve", user="exec_approver", params=REVIEWED)]
CONF = {"pool_max": 120, "pool_min": 20, "rollback_watch_minutes": 0}


def deploys_a_version(release: bool) -> Edit:
    """Phase 1's settings change also writes APP_VERSION (the profile lets it, for this test): the
    replicas restart as 9.9.9."""
    def edit(plan: dict[str, Any]) -> None:
        plan["target_profile"]["settings"].append("APP_VERSION")
        phase = plan["phases"][0]
        phase["change"]["params"]["settings"]["APP_VERSION"] = "9.9.9"
        phase["release"] = release
    return edit


def versions(env: dict[str, Any]) -> list[str]:
    return [health["version"] for health in env["target"].health()]


def test_a_settings_change_that_moves_the_version_is_rolled_back(launch_env: dict[str, Any],
                                                                 approvals: ApprovalClient) -> None:
    dag = build_variant("accubooks", "phase1_pool_scaling", own_launch_id, change_only, deploys_a_version(False))
    dag_run, _ = run_dag(dag, client=approvals, conf=CONF, answers=APPROVE)
    assert dag_run.state == "failed"
    ledger = Ledger(launch_env["ledger"])
    (version,) = ledger.rows(event="target_version")
    assert version.outcome == "failed" and set(version.payload["after"].values()) == {"9.9.9"}
    assert "version moved (" in version.payload["summary"] and "1.0.0 -> 9.9.9" in version.payload["summary"]
    assert "the phase is not a release (release: false)" in version.payload["summary"]
    (done,) = ledger.rows(event="rollback_completed")
    assert "1.0.0 -> 9.9.9" in done.payload["reason"]
    assert versions(launch_env) == ["1.0.0", "1.0.0"]  # the setting the change added is gone again
    assert "APP_VERSION" not in read_env_file(launch_env["target"].env_file)
    assert ledger.verify() == []


def test_a_release_may_move_the_version_and_says_so(launch_env: dict[str, Any], approvals: ApprovalClient) -> None:
    dag = build_variant("accubooks", "phase1_pool_scaling", own_launch_id, change_only, deploys_a_version(True))
    dag_run, _ = run_dag(dag, client=approvals, conf=CONF, answers=APPROVE)
    assert dag_run.state == "success"
    (version,) = Ledger(launch_env["ledger"]).rows(event="target_version")
    assert version.outcome == "successful" and version.payload["release"] is True
    assert set(version.payload["before"].values()) == {"1.0.0"} and set(version.payload["after"].values()) == {"9.9.9"}
    assert versions(launch_env) == ["9.9.9", "9.9.9"]


def _run(monkeypatch: pytest.MonkeyPatch, **profile: Any) -> PhaseRun:
    """A Phase 1 run whose plan's target profile is ``profile`` in memory (as if the plan file had been
    edited after ``plan check``): what the engine itself must refuse."""
    plan = load_plan("accubooks")
    assert plan.target_profile is not None
    edited = plan.model_copy(update={"target_profile": plan.target_profile.model_copy(update=profile)})
    return PhaseRun(spec=build_phase_spec(edited, "phase1_pool_scaling", _resolve("accubooks")),
                    run_id="run_guard", task_id="apply_change")


def test_the_engine_refuses_a_setting_outside_the_profile_before_touching_anything(
        launch_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    env_before = read_env_file(launch_env["target"].env_file)
    run = _run(monkeypatch, settings=["DB_POOL_MAX", "DB_POOL_MIN"])
    with pytest.raises(AirflowFailException, match="change refused before touching the target: DB_POOL_IDLE_TIMEOUT, "
                       "DB_POOL_CONNECTION_TIMEOUT not in the target profile's settings"):
        change_guard.refuse_untouchable_settings(run)
    (refused,) = Ledger(launch_env["ledger"]).rows(event="change_refused")
    assert refused.outcome == "failed" and refused.payload["settings"] == ["DB_POOL_IDLE_TIMEOUT",
                                                                           "DB_POOL_CONNECTION_TIMEOUT"]
    assert read_env_file(launch_env["target"].env_file) == env_before


def test_a_version_the_service_does_not_tell_is_refused_naming_the_replica(
        launch_env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from include.launch.plan.profile import TargetVersion

    assert change_guard.read_versions(_run(monkeypatch)) == dict.fromkeys(launch_env["target"].urls, "1.0.0")
    run = _run(monkeypatch, version=TargetVersion(header="X-Release"))
    first = launch_env["target"].urls[0]
    with pytest.raises(AirflowFailException, match=rf"{first}/health tells no version \(header X-Release\)"):
        change_guard.read_versions(run)
    header = _run(monkeypatch, version=TargetVersion(header="X-App-Version"))  # the demo target sends it
    assert set(change_guard.read_versions(header).values()) == {"1.0.0"}
