"""A real Airflow: api-server, scheduler, dag-processor and triggerer as separate processes.

LocalExecutor, a PostgreSQL metadata database, the FAB auth manager's launch roles and users
(``include.access``) with passwords from a 0600 file. Used by ``make demo`` / ``make up`` and the
end-to-end tests; everything listens on 127.0.0.1. ``AirflowRest`` drives it as a person would:
sign in, trigger, answer approvals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from include.devservices.airflow_local import PROJECT_ROOT, airflow_environment, prepare_metadata_db, user_password
from include.devservices.ports import free_port

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def sqlalchemy_url(libpq_url: str) -> str:
    """A SQLAlchemy URL (psycopg2) for a libpq URL/conninfo, unix-socket hosts included."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(libpq_url)
    user, host, port = params.get("user", "postgres"), params.get("host", ""), params.get("port")
    if str(host).startswith("/"):
        return f"postgresql+psycopg2://{user}@/{params['dbname']}?host={host}"
    return f"postgresql+psycopg2://{user}@{host}:{port or 5432}/{params['dbname']}"


@dataclass
class AirflowStack:
    """Start with ``start()``; ``stop()`` ends every process it started."""

    home: Path
    metadata_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    dags_folder: Path = PROJECT_ROOT / "dags"
    port: int = 0
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_env: dict[str, str] = field(default_factory=dict)  # one JWT secret for every component

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **airflow_environment(self.home, self.dags_folder), **self.extra_env}
        env.update({
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(self.metadata_url),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        })
        return env

    def start(self, timeout: float = 120) -> AirflowStack:
        self.port = self.port or free_port()
        logs = self.home / "process-logs"
        logs.mkdir(parents=True, exist_ok=True)
        env = self.started_env = self.environment()
        prepare_metadata_db(env)
        for component in COMPONENTS:
            self._launch(component, env)
        self._wait_healthy(timeout)
        return self

    def _launch(self, component: str, env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "airflow", component]
        if component == "api-server":
            command += ["--host", "127.0.0.1", "--port", str(self.port)]
        log = (self.home / "process-logs" / f"{component}.log").open("ab")
        self.processes[component] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                     cwd=PROJECT_ROOT, start_new_session=True)

    def restart(self, component: str, down_seconds: float = 3, timeout: float = 120) -> None:
        """Stop one component (SIGTERM to its process group, as an orchestrator would), leave it down
        for ``down_seconds``, start it again and wait until Airflow reports healthy."""
        process = self.processes[component]
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        time.sleep(down_seconds)
        self._launch(component, self.started_env)
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {process.returncode}; see "
                                       f"{self.home / 'process-logs' / (name + '.log')}")
            try:
                health = requests.get(f"{self.base_url}/api/v2/monitor/health", timeout=3).json()
                if health.get("scheduler", {}).get("status") == "healthy":
                    return
                last = str(health)
            except (requests.RequestException, ValueError) as exc:
                last = str(exc)
            time.sleep(1)
        raise TimeoutError(f"Airflow not healthy within {timeout:g} s: {last}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def rest(self, user: str) -> AirflowRest:
        return AirflowRest(self.base_url, user, user_password(self.home, user))


# Seconds a scripted approver waits once an approval is deferred (see AirflowRest.wait_for_approval).
HUMAN_READING_SECONDS = 10.0
WAITING_FOR_A_PERSON = ("awaiting_input", "deferred")  # the task has handed the wait to the triggerer


class AirflowRest:
    """Airflow's public REST API as one signed-in user."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url, self.user = base_url, user
        response = requests.post(f"{base_url}/auth/token", json={"username": user, "password": password}, timeout=10)
        response.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._call("GET", f"/dags/{dag_id}").status_code == 200:
                return
            time.sleep(2)
        errors = self._call("GET", "/importErrors").json()
        raise TimeoutError(f"DAG {dag_id} not parsed within {timeout:g} s; import errors: {errors}")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: datetime | None = None) -> str:
        """Unpause and trigger; with a logical date that already has a run (the scheduler's own),
        that run is cleared and run again instead."""
        self.wait_for_dag(dag_id)
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        when = logical_date.isoformat() if logical_date else None
        response = self._call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": when, "conf": conf or {}})
        if response.status_code == 409 and when:
            runs = self._call("GET", f"/dags/{dag_id}/dagRuns", params={"logical_date_gte": when,
                                                                        "logical_date_lte": when}).json()
            run_id = str(runs["dag_runs"][0]["dag_run_id"])
            self._call("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False}).raise_for_status()
            return run_id
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def clear(self, dag_id: str, run_id: str) -> None:
        """Clear a whole run, as an operator does from the UI: every task runs again."""
        self._call("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False}).raise_for_status()

    def clear_failed(self, dag_id: str, run_id: str) -> None:
        """Clear only the failed and upstream-failed tasks of a run, as the UI's "Clear, only failed"
        does: with a failed gate marked success first, the run resumes past it (what a gate must survive)."""
        self._call("POST", f"/dags/{dag_id}/clearTaskInstances", json={
            "dag_run_id": run_id, "only_failed": True, "reset_dag_runs": True, "dry_run": False,
        }).raise_for_status()

    def task_instance(self, dag_id: str, run_id: str, task_id: str, wait_for: str = "",
                      timeout: float = 300) -> dict[str, Any]:
        """A task instance's JSON, once it is in state ``wait_for`` (any state when empty)."""
        deadline = time.monotonic() + timeout
        while True:
            item = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").json()
            if not wait_for or item.get("state") == wait_for:
                return dict(item)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{task_id} not {wait_for} within {timeout:g} s (state {item.get('state')})")
            time.sleep(0.2)

    def mark(self, dag_id: str, run_id: str, task_id: str, state: str = "success") -> requests.Response:
        """Set a task instance's state by hand, as the UI's "Mark as" does (what a gate must survive)."""
        return self._call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}",
                          json={"new_state": state})

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        items = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}).json()
        return {ti["task_id"]: str(ti["state"]) for ti in items["task_instances"]}

    def pending_approvals(self, dag_id: str = "~", run_id: str = "~") -> list[dict[str, Any]]:
        items = self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/hitlDetails").json()["hitl_details"]
        return [item for item in items if not item.get("response_received")]

    def answer(self, dag_id: str, run_id: str, task_id: str, option: str = "Approve",
               params: dict[str, Any] | None = None) -> requests.Response:
        return self._call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
                          json={"chosen_options": [option], "params_input": params or {}})

    def wait_for_approval(self, dag_id: str, run_id: str, task_id: str, timeout: float = 300,
                          reading_seconds: float = HUMAN_READING_SECONDS) -> None:
        """Until ``task_id`` asks for an answer and has deferred, then ``reading_seconds`` more, as a
        person reads it.

        The pause is not decoration: Airflow 3.3.2's scheduler fails a deferred task whose trigger
        fires before the scheduler has drained the executor's event for the deferral itself
        (apache/airflow#72716, #71580; fix proposed in #72767). A person never answers that fast;
        a script must not either.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = [item for item in self.pending_approvals(dag_id, run_id)
                       if item["task_instance"]["task_id"] == task_id]
            if pending and pending[0]["task_instance"].get("state") in WAITING_FOR_A_PERSON:
                time.sleep(reading_seconds)
                return
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                raise RuntimeError(f"run ended {state} before {task_id} asked for approval: "
                                   f"{self.task_states(dag_id, run_id)}")
            time.sleep(2)
        raise TimeoutError(f"{task_id} did not ask for approval within {timeout:g} s")

    def wait_for_end(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise TimeoutError(f"run {run_id} of {dag_id} did not finish within {timeout:g} s")
