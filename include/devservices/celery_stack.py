"""Airflow with CeleryExecutor as processes: the docker-compose topology without Docker.

A real Redis broker (``include.devservices.redis_local``: a private redis-server on a free loopback
port, never the machine's 6379), a PostgreSQL metadata database that also keeps Celery's results,
api-server, scheduler, dag-processor and triggerer (``AirflowStack``), and two Celery workers
with their own hostnames and queues:

* ``celery-worker-1`` consumes ``default``: the phase gate, approval, snapshot, change, rollback,
  completion;
* ``celery-worker-2`` consumes ``checks``: every pre-check, verification and the sustained monitor.

A cluster policy (``airflow_local_settings.task_policy``, written into ``$AIRFLOW_HOME/config``)
routes the check tasks to ``checks``; the engine knows nothing of queues. The routing makes a
phase run cross machines on purpose: the snapshot and the change happen on one worker, their
verification on the other, so nothing can lean on a file another task left on local disk.

Each worker reports its own name as the task instances' ``hostname`` (``[core]
hostname_callable`` = ``worker_hostname`` below), as separate containers or hosts would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from include.devservices.airflow_local import PROJECT_ROOT
from include.devservices.airflow_stack import AirflowStack, free_port, sqlalchemy_url

HOSTNAME_ENV = "LAUNCH_WORKER_HOSTNAME"
CHECK_QUEUE = "checks"
DEFAULT_QUEUE = "default"
# Task ids (or their group prefixes) that run on the checks queue.
CHECK_TASK_PREFIXES = ("pre_checks.", "verify.", "sustained_monitor")

LOCAL_SETTINGS = f'''"""Cluster policy of the Celery topology: checks and monitoring on the "{CHECK_QUEUE}" queue."""

CHECK_TASK_PREFIXES = {CHECK_TASK_PREFIXES!r}


def task_policy(task):
    if task.task_id.startswith(CHECK_TASK_PREFIXES):
        task.queue = "{CHECK_QUEUE}"
'''


def worker_hostname() -> str:
    """``[core] hostname_callable`` for workers: the name a worker was started with, else the FQDN."""
    import socket

    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()


@dataclass(frozen=True)
class WorkerSpec:
    """One Celery worker: its hostname (as task instances report it), queues and concurrency."""

    name: str
    queues: tuple[str, ...]
    concurrency: int = 4


DEFAULT_WORKERS = (
    WorkerSpec("celery-worker-1", (DEFAULT_QUEUE,)),
    WorkerSpec("celery-worker-2", (CHECK_QUEUE,)),
)


def celery_result_backend(metadata_url: str) -> str:
    """Celery's database result backend on the metadata database (``db+`` + a SQLAlchemy URL)."""
    return "db+" + sqlalchemy_url(metadata_url)


@dataclass
class CeleryStack(AirflowStack):
    """``AirflowStack`` with CeleryExecutor, a Redis broker and Celery workers; same ``rest()``.

    ``broker_url`` names the broker (see ``local_redis``). ``stop()`` ends the workers as well.
    """

    broker_url: str = ""
    workers: tuple[WorkerSpec, ...] = DEFAULT_WORKERS
    parallelism: int = 32
    # Seconds between re-parses of an unchanged DAG file (new files are parsed when first seen);
    # a benchmark raises it so re-parsing does not compete with the tasks for the CPU.
    min_file_process_interval: int = 10
    _env: dict[str, str] = field(default_factory=dict, repr=False)

    def environment(self) -> dict[str, str]:
        # One environment for every process: airflow_environment draws a JWT secret per call.
        if not self._env:
            if not self.broker_url:
                raise ValueError("CeleryStack needs broker_url (a redis:// URL)")
            env = super().environment()
            env.update({
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "16",
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": celery_result_backend(self.metadata_url),
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
                "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
                "AIRFLOW__CELERY__WORKER_ENABLE_REMOTE_CONTROL": "True",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": str(self.min_file_process_interval),
            })
            self._env = env
        return dict(self._env)

    def write_cluster_policy(self) -> Path:
        config = self.home / "config"
        config.mkdir(parents=True, exist_ok=True)
        policy = config / "airflow_local_settings.py"
        policy.write_text(LOCAL_SETTINGS)
        return policy

    def start(self, timeout: float = 180) -> CeleryStack:
        self.home.mkdir(parents=True, exist_ok=True)
        self.write_cluster_policy()  # before the dag-processor serialises any DAG
        super().start(timeout)
        try:
            for worker in self.workers:
                self._start_worker(worker)
            self.wait_for_workers(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_worker(self, worker: WorkerSpec) -> None:
        env = self.environment()
        env.update({
            HOSTNAME_ENV: worker.name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),  # one per worker on one machine
        })
        command = [sys.executable, "-m", "airflow", "celery", "worker", "--celery-hostname", f"{worker.name}@%h",
                   "--queues", ",".join(worker.queues), "--concurrency", str(worker.concurrency)]
        log = (self.home / "process-logs" / f"{worker.name}.log").open("ab")
        self.processes[worker.name] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                       cwd=PROJECT_ROOT, start_new_session=True)

    def active_queues(self) -> dict[str, list[str]]:
        """Celery worker name -> the queues it consumes, as the broker sees it (remote control)."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            answer = app.control.inspect(timeout=2).active_queues() or {}
        finally:
            app.close()
        return {name: sorted(queue["name"] for queue in queues) for name, queues in answer.items()}

    def wait_for_workers(self, timeout: float = 120) -> dict[str, list[str]]:
        """Wait until every worker answers on the broker with its queues."""
        deadline = time.monotonic() + timeout
        seen: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            for worker in self.workers:
                process = self.processes[worker.name]
                if process.poll() is not None:
                    raise RuntimeError(f"celery worker {worker.name} exited with {process.returncode}; see "
                                       f"{self.home / 'process-logs' / (worker.name + '.log')}")
            seen = self.active_queues()
            if all(any(name.startswith(worker.name + "@") for name in seen) for worker in self.workers):
                return seen
            time.sleep(1)
        raise TimeoutError(f"celery workers not all up within {timeout:g} s; the broker sees {seen}")


@contextmanager
def celery_stack(home: Path, metadata_url: str, extra_env: dict[str, str] | None = None,
                 workers: tuple[WorkerSpec, ...] = DEFAULT_WORKERS,
                 min_file_process_interval: int = 10) -> Iterator[CeleryStack]:
    """A private Redis broker plus ``CeleryStack``; both stopped on exit."""
    from include.devservices.redis_local import local_redis

    with local_redis(home / "redis") as redis:
        stack = CeleryStack(home / "airflow", metadata_url, extra_env=dict(extra_env or {}),
                            broker_url=redis.url, workers=workers,
                            min_file_process_interval=min_file_process_interval)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()
