"""Every DAG file imports cleanly, carries owner, tags and callbacks, and stays light to parse."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
HEAVY = ("great_expectations", "pandas", "include.launch.plugins.quality.runner", "include.launch.plugins.load")


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= len(DAG_FILES)


def test_every_dag_has_owner_tags_and_failure_callback(dagbag: DagBag) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert "launch" in dag.tags, dag_id
        assert dag.on_failure_callback, f"{dag_id}: no DAG failure callback"
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", f"{dag_id}.{task.task_id}: owner not set"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id}: no failure callback"


def test_phase_dags_run_one_at_a_time_with_the_fixed_shape(dagbag: DagBag) -> None:
    phase_dags = [dag for dag in dagbag.dags.values() if "phase_gate" in dag.task_dict]
    assert phase_dags
    for dag in phase_dags:
        assert dag.max_active_runs == 1, dag.dag_id
        tasks = dag.task_dict
        assert tasks["pre_checks.phase_order"] and tasks["pre_checks.freeze_window"]
        assert any(t.startswith("approve") for t in tasks)
        if "apply_change" in tasks:
            assert tasks["rollback"].trigger_rule == "one_failed"
            assert "apply_change" in tasks["rollback"].upstream_task_ids
            assert tasks["release_lock"].is_teardown


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_pulls_in_no_heavy_module(dag_file: Path) -> None:
    code = textwrap.dedent(f"""
        import runpy, sys
        runpy.run_path({str(dag_file)!r})
        heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))
        print(",".join(heavy))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1:] in ([], [""]), f"heavy modules imported: {result.stdout}"


def test_invalid_plan_shows_its_own_message_as_import_error(tmp_path: Path) -> None:
    plan = (ROOT / "include/plans/accubooks.yaml").read_text().replace("window_minutes: 60", "window_minutes: -60", 1)
    (tmp_path / "broken.yaml").write_text(plan)
    dag_folder = tmp_path / "dags"
    dag_folder.mkdir()
    (dag_folder / "broken_phase.py").write_text(
        "# Airflow DAG built from a broken plan\n"
        "from include.launch.dags import phase_dag\n"
        f"dag = phase_dag({str(tmp_path / 'broken.yaml')!r}, 'phase1_pool_scaling')\n"
    )
    errors = DagBag(dag_folder=str(dag_folder)).import_errors
    message = errors[str(dag_folder / "broken_phase.py")]
    assert "broken.yaml: invalid launch plan" in message
    assert "phases[0].soak.window_minutes: Input should be greater than 0 (got -60)" in message
    assert "pydantic" not in message and "ValidationError" not in message


def test_a_freeze_override_sits_between_the_pre_checks_and_the_approval(dagbag: DagBag) -> None:
    """AccuBooks' month-end freeze allows a two-person override; Launch B's plan has no freeze window."""
    phase_dags = {dag_id: dag for dag_id, dag in dagbag.dags.items() if "phase_gate" in dag.task_dict}
    for dag_id, dag in phase_dags.items():
        tasks = dag.task_dict
        if dag_id.startswith("accubooks_"):
            assert "freeze_override_justification" in dag.params, dag_id
            assert tasks["freeze_override"].upstream_task_ids >= {"pre_checks.freeze_window"}
            assert tasks["freeze_override_second"].upstream_task_ids == {"freeze_override"}
            assert tasks["freeze_override_second"].downstream_task_ids & {"approve", "propose"}, dag_id
            # the plan's override.timeout_minutes (240): an unanswered request changes nothing after it
            assert tasks["freeze_override"].response_timeout == timedelta(minutes=240), dag_id
        else:
            assert "freeze_override" not in tasks and "freeze_override_justification" not in dag.params, dag_id


def test_the_demo_folder_publishes_every_accubooks_dag_from_the_demo_plan(dagbag: DagBag) -> None:
    """`make demo`'s Airflow reads include/demo_dags: the same DAG ids as dags/ for AccuBooks, each
    built from the DEMO PLAN (minutes-long soaks), none from the production plan."""
    demo = DagBag(dag_folder=str(ROOT / "include" / "demo_dags"))
    assert demo.import_errors == {}
    assert set(demo.dags) == {dag_id for dag_id in dagbag.dags if dag_id.startswith("accubooks")}
    phase1 = demo.dags["accubooks_phase1_pool_scaling"]
    assert phase1.params["monitor_minutes"] == 1  # the demo plan's soak; production says 60
    assert dagbag.dags["accubooks_phase1_pool_scaling"].params["monitor_minutes"] == 60
