"""Phase DAGs built from plan variants: the shipped plan with shortened windows and its own dag ids.

A variant is written as a plan file plus a three-line DAG file into the scratch bundle, exactly
like a team would add a launch: the engine has no test hooks.
"""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from airflow.dag_processing.dagbag import DagBag

from include.launch.plan.loader import PLANS_DIR
from tests.harness.airflow import scratch_dags

_counter = itertools.count(1)
UNANSWERED_MINUTES = 6.0  # a test answers within seconds; pytest would stop it at ten minutes
Edit = Callable[[dict[str, Any]], None]


def freeze_in_the_past(plan: dict[str, Any]) -> None:
    """No month-end freeze (tests/launch/engine/test_freeze.py tests it with an injected clock), so a run
    does not depend on the date; tests inside a freeze add ``freeze_covering_now``."""
    plan["freeze_windows"] = [{"name": "past_freeze", "start": "2020-01-30T00:00:00Z", "end": "2020-02-03T00:00:00Z"}]


# Triggers on the test machine itself, measured but out of reach: the "database host" is this
# machine (its CPU is every test's CPU), and a soak sampled every 2 s opens a connection per sample
# (30 a minute of its own). Their failure paths are driven by tests of their own.
MACHINE_TRIGGERS = {"db_cpu_percent": 100.0, "connection_churn_count": 1_000_000.0}


def shortened(plan: dict[str, Any]) -> None:
    """Seconds instead of minutes, and no freeze today (``freeze_in_the_past``). An approval nobody
    answers times out in minutes, not the plan's day: the run fails and the test says why, instead
    of a dag.test waiting for a person who is not coming. Triggers on the machine itself
    (``MACHINE_TRIGGERS``) cannot fire."""
    freeze_in_the_past(plan)
    for phase in plan["phases"]:
        for trigger in phase.get("rollback_triggers", []):
            if trigger["metric"] in MACHINE_TRIGGERS and trigger["op"] in (">", ">="):
                trigger["threshold"] = MACHINE_TRIGGERS[trigger["metric"]]
        phase["approval"]["timeout_minutes"] = min(phase["approval"].get("timeout_minutes", 1440), UNANSWERED_MINUTES)
        for check in phase.get("pre_checks", []) + phase.get("verify", []):
            if check["kind"] == "metric_gate":
                check.setdefault("params", {})["window_seconds"] = 2
        for trigger in phase.get("rollback_triggers", []):
            if trigger.get("sustained_minutes"):
                trigger["sustained_minutes"] = 0.05
            elif trigger["metric"] == "latency_regression_percent":
                # Two test workers share two cores: one sample's p95 can jump 30 ms over a 5 ms
                # baseline. Tests about other triggers must not race this one; it must hold 6 s.
                trigger["sustained_minutes"] = 0.1
        if phase.get("change", {}) and phase["change"]["kind"] in ("env_file_rolling_restart", "http_hot_reload"):
            phase["change"]["params"]["health_timeout_seconds"] = 30


def freeze_covering_now(second_approval: bool = True, hours: float = 3.0, max_hours: float = 8.0,
                        approvers: tuple[str, ...] = ("exec_approver", "eng_lead")) -> Edit:
    """A freeze window that holds from an hour ago to ``hours`` from now, by the test's own clock: a
    test inside a freeze gets one on any day, through the plan, as a team would declare one."""
    now = datetime.now(UTC)

    def edit(plan: dict[str, Any]) -> None:
        plan["freeze_windows"] = [{
            "name": "test_freeze", "start": (now - timedelta(hours=1)).isoformat(),
            "end": (now + timedelta(hours=hours)).isoformat(),
            "override": {"approvers": [{"id": user, "name": user.replace("_", " ").title()} for user in approvers],
                         "justification_min_chars": 20, "second_approval": second_approval,
                         "max_hours": max_hours, "timeout_minutes": UNANSWERED_MINUTES}}]

    return edit


def checks_removed(plan: dict[str, Any]) -> None:
    """Every phase without plug-in pre-checks and verification: the built-in gates and the approvals
    only (for tests of those, with ``dry_run`` so nothing needs a target). The evidence those checks
    would write is not asked for: only the phase report, which ``complete`` writes."""
    for phase in plan["phases"]:
        phase["pre_checks"], phase["verify"] = [], []
        _only_the_report(phase)


def own_launch_id(plan: dict[str, Any]) -> None:
    """A launch id of the variant's own: launch-wide DAGs (the manual rollback) are named after it,
    and its lock and ledger rows stay apart from the shipped launch's."""
    plan["launch"]["id"] = f"acc_{os.getpid()}_{next(_counter)}"


def change_only(plan: dict[str, Any]) -> None:
    """Phase 1 as approval and change alone: no plug-in checks, no verification, no soak (for tests
    of what happens around a completed change, such as its manual rollback)."""
    phase = next(p for p in plan["phases"] if p["id"] == "phase1_pool_scaling")
    phase["pre_checks"], phase["verify"] = [], []
    # The watch after a (manual) rollback still needs a trigger to judge it: the error rate's.
    phase["rollback_triggers"] = [t for t in phase["rollback_triggers"] if t["metric"] == "error_rate_percent"]
    phase.pop("soak", None)
    _only_the_report(phase)


def _only_the_report(phase: dict[str, Any]) -> None:
    """The phase's evidence list without the files of the checks and the soak a variant removed."""
    phase["evidence_files"] = [entry for entry in phase.get("evidence_files", [])
                               if isinstance(entry, str) and "[TIMESTAMP]" in entry]


def only_the_load_gates(plan: dict[str, Any]) -> None:
    """Phase 1 with no pre-checks or verification but the synthetic load, the two latency baselines
    and the health endpoints: for tests whose subject is a fault in the change, the soak or the rollback.
    The data-quality, capacity, backup and alert gates each have their own tests; here they would
    only cost each run a quarter of a minute."""
    phase = next(p for p in plan["phases"] if p["id"] == "phase1_pool_scaling")
    phase["pre_checks"] = [c for c in phase["pre_checks"] if c.get("name") in ("health_baseline", "load_baseline")
                           or c["kind"] == "health_endpoints"]  # the baselines the regressions compare with
    phase["verify"] = [c for c in phase["verify"] if c["kind"] == "synthetic_load"]
    _only_the_report(phase)


def phase1_conf(monitor_minutes: float, sample_interval_seconds: float) -> dict[str, Any]:
    """Phase 1 trigger form for tests: the shortened soak, and a synthetic load whose p95 one stall
    of the shared machine cannot move (a stall delays ``concurrency`` requests at once; 400
    requests put 20 above the p95, more than three stalls' worth at concurrency 6)."""
    return {"pool_max": 120, "pool_min": 20, "monitor_minutes": monitor_minutes,
            "sample_interval_seconds": sample_interval_seconds, "synthetic_requests": 400, "concurrency": 6,
            "rollback_watch_minutes": 0}


def write_variant(plan_name: str, loader: str, item_id: str, *edits: Edit, folder: Path | None = None,
                  shorten: bool = True) -> Any:
    """Write a plan variant (every dag id made unique) and a DAG file that calls
    ``include.launch.dags.<loader>(plan, item_id)``; return the parsed DAG. ``shorten``: the
    ``shortened`` windows, else the shipped plan's thresholds and durations with only
    ``freeze_in_the_past``. ``folder``: another scratch bundle (a real stack's) instead of this session's."""
    document = copy.deepcopy(yaml.safe_load((PLANS_DIR / f"{plan_name}.yaml").read_text()))
    (shortened if shorten else freeze_in_the_past)(document)
    for edit in edits:
        edit(document)
    suffix = f"{os.getpid()}_{next(_counter)}"
    dag_id = ""
    for item in document["phases"] + document.get("scorecards", []):
        item["dag_id"] = f"t_{item['dag_id']}_{suffix}"
        if item["id"] == item_id:
            dag_id = item["dag_id"]
    folder = folder or scratch_dags(Path(os.environ["AIRFLOW_HOME"]))
    plan_file = folder / f"plan_{suffix}.yaml"
    plan_file.write_text(yaml.safe_dump(document, sort_keys=False))
    dag_file = folder / f"dag_{suffix}.py"
    dag_file.write_text(f"# Airflow DAG for a test variant of {plan_name}\nfrom include.launch.dags import {loader}\n"
                        f"dag = {loader}({str(plan_file)!r}, {item_id!r})\n")
    bag = DagBag(dag_folder=str(dag_file))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def build_variant(plan_name: str, phase_id: str, *edits: Edit, folder: Path | None = None,
                  shorten: bool = True) -> Any:
    """A phase DAG from a plan variant (a unique dag_id per call)."""
    return write_variant(plan_name, "phase_dag", phase_id, *edits, folder=folder, shorten=shorten)


def plan_file_of(dag: Any, folder: Path | None = None) -> Path:
    """The plan file ``write_variant`` wrote for this DAG (its dag id ends with the variant's suffix)."""
    suffix = "_".join(dag.dag_id.split("_")[-2:])
    path = (folder or scratch_dags(Path(os.environ["AIRFLOW_HOME"]))) / f"plan_{suffix}.yaml"
    assert path.is_file(), path
    return path


def dag_from_plan_file(plan_file: Path, call: str, name: str) -> Any:
    """Another DAG of a variant's plan (``call``: e.g. ``phase_dag(PLAN, 'phase2_monitoring')``, PLAN
    standing for the plan file), written beside it as ``<name>_<plan>.py``; return the parsed DAG."""
    dag_file = plan_file.with_name(f"{name}_{plan_file.stem}.py")
    loader = call.split("(", 1)[0]
    dag_file.write_text(f"# Airflow DAG: another DAG of a test plan variant\nfrom include.launch.dags import {loader}\n"
                        f"dag = {call.replace('PLAN', repr(str(plan_file)))}\n")
    bag = DagBag(dag_folder=str(dag_file))
    assert not bag.import_errors, bag.import_errors
    (dag,) = bag.dags.values()
    return dag
