"""The queue worker (include/demo_worker) for tests: real replica processes on one env file, one
PostgreSQL job store, live job traffic, and the ``queueworker_*`` connections its plan names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from include.devservices.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "worker-admin-token-for-tests"


@dataclass
class RunningWorker:
    urls: list[str]
    env_file: Path
    processes: list[subprocess.Popen[bytes]]

    def connection_json(self) -> str:
        return json.dumps({"conn_type": "http", "host": self.urls[0], "password": TOKEN,
                           "extra": {"replicas": self.urls, "env_file": str(self.env_file), "timeout": 5}})

    def status(self) -> list[dict[str, Any]]:
        return [requests.get(f"{url}/status", timeout=5).json() for url in self.urls]

    def fail_jobs(self, ratio: float) -> None:
        """Every replica fails ``ratio`` of its jobs until its next reload (a poisoned in-memory state)."""
        for url in self.urls:
            requests.post(f"{url}/admin/fault", json={"fail_ratio": ratio},
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).raise_for_status()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker at {url} exited {process.returncode}")
        try:
            if requests.get(f"{url}/status", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"worker at {url} did not answer /status within {seconds:g} s")


@contextmanager
def running_worker(database_url: str, folder: Path, replicas: int = 2) -> Iterator[RunningWorker]:
    folder.mkdir(parents=True, exist_ok=True)
    env_file = folder / "worker.env"
    env_file.write_text("# render queue worker\nWORKER_THREADS=2\nJOB_TIMEOUT_MS=2000\nRETRY_LIMIT=1\n")
    environment = {**os.environ, "WORKER_ADMIN_TOKEN": TOKEN, "DATABASE_URL": database_url}
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(replicas):
            port = free_port()
            process = subprocess.Popen([sys.executable, "-m", "include.demo_worker", "--port", str(port),
                                        "--env-file", str(env_file)], cwd=ROOT, env=environment,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_until_up(urls[-1], process)
        yield RunningWorker(urls, env_file, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


class JobTraffic:
    """Jobs submitted all the time, as the report service does, so every sample has traffic."""

    def __init__(self, urls: list[str], every_seconds: float = 0.02) -> None:
        self.urls, self.every = urls, every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        index = 0
        while not self._stop.is_set():
            with suppress(requests.RequestException):
                session.get(f"{self.urls[index % len(self.urls)]}/jobs/render", timeout=5)
            index += 1
            self._stop.wait(self.every)

    def __enter__(self) -> JobTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
