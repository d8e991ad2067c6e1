"""A running demo target for the demo and the integration tests: replicas, connection, live traffic."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from include.demo_target import supervisor
from include.demo_target.config import DEFAULTS, write_env_file
from include.demo_target.generator import generate
from include.demo_target.schema import migrate


@dataclass
class RunningTarget:
    state: supervisor.ClusterState
    db_url: str
    env_file: Path
    token: str = field(repr=False)

    @property
    def urls(self) -> list[str]:
        return [replica.url for replica in self.state.replicas]

    def connection_json(self) -> str:
        command = [sys.executable, "-m", "include.demo_target", "restart", "--replica", "{index}",
                   "--state-dir", self.state.state_dir, "--drain-seconds", "0.2"]
        return json.dumps({"conn_type": "http", "password": self.token,
                           "extra": {"replicas": self.urls, "env_file": str(self.env_file),
                                     "restart_command": command, "timeout": 5}})

    def health(self) -> list[dict[str, object]]:
        return [requests.get(f"{url}/health", timeout=5).json() for url in self.urls]

    def wait_for_pool(self, index: int, pool: tuple[int, int], timeout: float = 120) -> None:
        """Poll replica ``index`` until /health reports pool (max, min): a change has reached it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen = requests.get(f"{self.urls[index]}/health", timeout=2).json().get("pool") or {}
                if (seen.get("max"), seen.get("min")) == pool:
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"replica {index} never reported pool {pool}")

    def set_faults(self, **faults: object) -> None:
        for url in self.urls:
            response = requests.post(f"{url}/admin/faults", json=faults,
                                     headers={"Authorization": f"Bearer {self.token}"}, timeout=5)
            response.raise_for_status()

    def clear_faults(self) -> None:
        for url in self.urls:
            requests.delete(f"{url}/admin/faults", headers={"Authorization": f"Bearer {self.token}"}, timeout=5)


@contextmanager
def running_target(db_url: str, state_dir: Path, tenants: int = 60) -> Iterator[RunningTarget]:
    migrate(db_url)
    generate(db_url, tenants, seed=7)
    env_file = write_env_file(state_dir / "service.env", dict(DEFAULTS))
    state = supervisor.start_replicas(state_dir, env_file, 2, db_url=db_url, faults_enabled=True)
    try:
        yield RunningTarget(state, db_url, env_file, supervisor.admin_token(state_dir))
    finally:
        supervisor.stop_all(supervisor.ClusterState.load(state_dir))


class LiveTraffic:
    """Steady background requests, as real users would send, so metric windows have data.

    Users write as well as read: every ``write_every``-th request issues an invoice or records a
    payment (each with its balanced ledger entry), so the data gates are judged under the write
    traffic a real system has; ``write_every=0`` reads only.

    ``pause``: between requests. 0.05 s (about 17 a second) gives a 2-second window 30 requests.
    Client, replicas and PostgreSQL together used 3.4 CPU-s per 20 s at 0.05 s, against 5.5 at
    0.02 s (measured on 2026-12-02), and the suite's machine is CPU-bound."""

    def __init__(self, urls: list[str], tenants: int = 20, pause: float = 0.05, write_every: int = 5) -> None:
        self.reads = [f"{url}/tenants/{t}/{p}" for t in range(1, tenants + 1) for url in urls
                      for p in ("invoices", "trial-balance")]
        self.writes = [f"{url}/tenants/{t}/{p}" for t in range(1, tenants + 1) for p in ("invoices", "payments")
                       for url in urls]
        self.pause = pause
        self.write_every = write_every
        self.sent = 0
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            # A replica restarting refuses a request: the next one goes elsewhere.
            with contextlib.suppress(requests.RequestException):
                if self.write_every and self.sent % self.write_every == 0:
                    if session.post(self.writes[self.written % len(self.writes)], timeout=5).status_code < 300:
                        self.written += 1
                else:
                    session.get(self.reads[self.sent % len(self.reads)], timeout=5)
            self.sent += 1
            time.sleep(self.pause)

    def __enter__(self) -> LiveTraffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
