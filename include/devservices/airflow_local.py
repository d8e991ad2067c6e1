"""Airflow in-process for the demo and the tests: a private AIRFLOW_HOME, a migrated SQLite
metadata DB with the launch roles and users (FAB auth manager, ``include.access``), and a REST
client that answers approvals as a named user while ``dag.test()`` runs.

``configure_environment`` must run before anything imports airflow.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.access import AUTH_MANAGER
from include.access.roles import DEMO_USERS
from include.access.sync import ensure_password_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Everyone the plans, the demo and the tests name, each with a role of the FAB auth manager
# (include.access.roles.DEMO_USERS: operator, approvers, a viewer, an admin, dag.test's user).
TEST_USERS = list(DEMO_USERS)


HARNESS_DAGS = PROJECT_ROOT / "tests" / "harness_dags"


def scratch_dags(home: Path) -> Path:
    """Where tests write DAG files built from plan variants (a third bundle)."""
    return home / "scratch_dags"


def bundle_config(dags_folder: Path, home: Path) -> str:
    """The project's DAGs, the harness's test DAGs, and the scratch folder, as local bundles."""
    bundles = [("dags-folder", dags_folder), ("harness-dags", HARNESS_DAGS), ("scratch-dags", scratch_dags(home))]
    return json.dumps([
        {"name": name, "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(path), "refresh_interval": 0}}
        for name, path in bundles
    ])


def passwords_file(home: Path) -> Path:
    """The users' passwords (0600), beside AIRFLOW_HOME rather than in it: tests copy a home into
    their artifacts, and a copy must never carry passwords."""
    return home.with_name(f"{home.name}-passwords.json")


def write_passwords(path: Path) -> None:
    """Random passwords (0600) for every user, written before Airflow starts and never logged."""
    ensure_password_file(path, TEST_USERS)


def airflow_environment(home: Path, dags_folder: Path = PROJECT_ROOT / "dags") -> dict[str, str]:
    """The settings every Airflow process of ours shares (in-process or the real stack)."""
    home.mkdir(parents=True, exist_ok=True)
    scratch_dags(home).mkdir(exist_ok=True)
    write_passwords(passwords_file(home))
    existing = os.environ.get("PYTHONPATH", "")
    python_path = existing if str(PROJECT_ROOT) in existing.split(os.pathsep) else os.pathsep.join(
        p for p in (str(PROJECT_ROOT), existing) if p)
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or secrets.token_urlsafe(64),
        # FAB's Flask session (the UI's sign-in form) needs one key across api-server workers.
        "AIRFLOW__API__SECRET_KEY": os.environ.get("AIRFLOW__API__SECRET_KEY") or secrets.token_urlsafe(32),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_config(dags_folder, home),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACKS": "False",  # a broken plan shows its own message
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__BASE_URL": "http://localhost:8080",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": python_path,
    }


def configure_environment(home: Path, dags_folder: Path = PROJECT_ROOT / "dags") -> None:
    os.environ.update(airflow_environment(home, dags_folder))


def user_password(home: Path, user: str) -> str:
    """A user's password from the file written by ``write_passwords`` (for signing in)."""
    return str(json.loads(passwords_file(home).read_text())[user])


def prepare_metadata_db(env: dict[str, str] | None = None) -> None:
    """``airflow db migrate``, then the launch roles and the users with their passwords
    (``include.access.sync``), each in a subprocess: this process's Airflow settings stay untouched."""
    env = env or dict(os.environ)
    home = Path(env["AIRFLOW_HOME"])
    for step, command in (
        ("airflow db migrate", ["-m", "airflow", "db", "migrate"]),
        ("include.access.sync", ["-m", "include.access.sync", "--demo-users", str(passwords_file(home))]),
    ):
        result = subprocess.run([sys.executable, *command], env=env, cwd=PROJECT_ROOT, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{step} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


def migrate_metadata_db() -> None:
    """The in-process Airflow's metadata DB, ready for ``dag.test()`` and ``ApprovalClient``: a copy
    of one migrated template (``metadata_template``), so parallel test workers migrate once, not each."""
    home = Path(os.environ["AIRFLOW_HOME"])
    template = metadata_template()
    shutil.copyfile(template / "airflow.db", home / "airflow.db")
    shutil.copyfile(template / "passwords.json", passwords_file(home))  # the users' hashes are of these


def template_key() -> str:
    """What a migrated SQLite metadata DB depends on: Airflow's and FAB's versions and the role code."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for package in ("apache-airflow-core", "apache-airflow-providers-fab"):
        digest.update(f"{package}={version(package)};".encode())
    for source in sorted((PROJECT_ROOT / "include" / "access").glob("*.py")):
        digest.update(source.read_bytes())
    digest.update(AUTH_MANAGER.encode())
    return digest.hexdigest()[:16]


def metadata_template(base: Path | None = None) -> Path:
    """A folder with a migrated ``airflow.db`` (roles and users synced) and its ``passwords.json``,
    made once per ``template_key`` under a file lock: the first process to ask migrates, every other
    one waits and copies. A half-made template is never used: it is built aside and renamed into place."""
    base = base or Path(tempfile.gettempdir())
    folder = base / f"launch-airflow-template-{template_key()}"
    with (base / f"{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "airflow.db").is_file():
            work = Path(tempfile.mkdtemp(prefix=f"{folder.name}-", dir=base))
            home = work / "home"
            env = {**os.environ, **airflow_environment(home)}
            prepare_metadata_db(env)
            shutil.move(str(home / "airflow.db"), work / "airflow.db")
            shutil.move(str(passwords_file(home)), work / "passwords.json")
            shutil.rmtree(home)
            shutil.rmtree(folder, ignore_errors=True)
            work.rename(folder)
    return folder


@dataclass(frozen=True)
class Answer:
    """How a named user answers one approval task: ``option`` (Approve/Reject/branch) and params."""

    task_id: str
    user: str
    option: str = "Approve"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnswerResult:
    answer: Answer
    status_code: int
    body: Any


class ApprovalClient:
    """Airflow's REST API (FastAPI TestClient on create_app) acting as named users."""

    def __init__(self) -> None:
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        self.client = TestClient(create_app())

    def token(self, user: str) -> str:
        """A JWT for the FAB user ``user``, as ``POST /auth/token`` would issue it (its real roles)."""
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.providers.fab.auth_manager.models import User
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            account = session.scalars(select(User).where(User.username == user)).one_or_none()
            if account is None:
                raise KeyError(f"no Airflow user {user!r}; known: {TEST_USERS}")
            return get_auth_manager().generate_jwt(account)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def pending(self, dag_id: str = "~") -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails", headers=self.headers("operator"))
        response.raise_for_status()
        return [item for item in response.json()["hitl_details"] if not item.get("response_received")]

    def answer(self, dag_id: str, run_id: str, answer: Answer) -> AnswerResult:
        url = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{answer.task_id}/-1/hitlDetails"
        response = self.client.patch(
            url, json={"chosen_options": [answer.option], "params_input": answer.params},
            headers=self.headers(answer.user),
        )
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return AnswerResult(answer, response.status_code, body)


class ApprovalScript:
    """Answers pending approvals of one DAG in a background thread, in the order given.

    Each Answer is used once, for the first pending task with its task_id. ``results`` keeps what
    the API said (200, 403, 409...), so tests can assert refusals as well as approvals. ``timeout``
    counts from the last answer (or the start): slow pre-checks before an approval do not eat it.
    """

    def __init__(self, client: ApprovalClient, dag_id: str, answers: Iterable[Answer], timeout: float = 300) -> None:
        self.client = client
        self.dag_id = dag_id
        self.queue = list(answers)
        self.timeout = timeout
        self.results: list[AnswerResult] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._seen: set[tuple[Any, ...]] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ApprovalScript:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _handed_to_its_trigger(self, ti: dict[str, Any]) -> bool:
        """Answer only a request seen on an earlier poll whose task is parked (deferred, awaiting
        input), as a person in the UI would: an answer that lands while the task is still running,
        between writing its request and deferring, was seen to leave dag.test waiting forever."""
        key = (ti["dag_run_id"], ti["task_id"], ti.get("try_number"))
        parked = ti.get("state") in ("deferred", "awaiting_input")
        first_sighting = key not in self._seen
        if parked:
            self._seen.add(key)
        return parked and not first_sighting

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while self.queue and not self._stop.is_set() and time.monotonic() < deadline:
            try:
                pending = self.client.pending(self.dag_id)
            except Exception as exc:  # noqa: BLE001 - a busy metadata DB (SQLite locked) is retried, not fatal
                self.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.5)
                continue
            for item in pending:
                ti = item["task_instance"]
                matching = [a for a in self.queue if a.task_id == ti["task_id"]]
                if not matching or not self._handed_to_its_trigger(ti):
                    continue
                answer = matching[0]
                try:
                    result = self.client.answer(ti["dag_id"], ti["dag_run_id"], answer)
                except Exception as exc:  # noqa: BLE001 - retried on the next poll
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    break
                if result.status_code >= 500:
                    self.errors.append(f"{answer.task_id}: HTTP {result.status_code}")
                    break
                self.queue.remove(answer)
                self.results.append(result)
                deadline = time.monotonic() + self.timeout
                break
            else:
                time.sleep(0.3)
        if self.queue and not self._stop.is_set():  # said where a failing test's output shows it
            print(f"ApprovalScript gave up after {self.timeout:g} s on {[a.task_id for a in self.queue]}; "
                  f"last errors: {self.errors[-3:]}", file=sys.stderr, flush=True)


def run_dag(
    dag: Any,
    *,
    answers: Iterable[Answer] = (),
    conf: dict[str, Any] | None = None,
    client: ApprovalClient | None = None,
    on_start: Callable[[], None] | None = None,
) -> tuple[Any, list[AnswerResult]]:
    """``dag.test()`` with approvals answered through the REST API; returns (dag_run, answer results)."""
    answers = list(answers)
    if not answers:
        return dag.test(run_conf=conf), []
    script = ApprovalScript(client or ApprovalClient(), dag.dag_id, answers)
    with script:
        if on_start:
            on_start()
        dag_run = dag.test(run_conf=conf)
    return dag_run, script.results
