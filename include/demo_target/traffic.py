"""Signed-in users reading the reconciliation API through the proxy, so metric windows have data.

Each thread acts as a different user (a bearer token signed with the service's JWT secret) and
reads job lists, results and projects at a steady pace; statuses are counted.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import requests

from include.demo_target.service.auth import mint


class UserTraffic:
    def __init__(self, base_url: str, identities: list[dict[str, int]], jwt_secret: str, threads: int = 4,
                 pause: float = 0.1) -> None:
        self.base = base_url.rstrip("/")
        self.identities = identities
        self.secret = jwt_secret
        self.pause = pause
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index: int) -> None:
        session = requests.Session()
        step = 0
        while not self._stop.is_set():
            me = self.identities[(index + step * len(self._threads)) % len(self.identities)]
            headers = {"Authorization": f"Bearer {mint(self.secret, me['user_id'])}"}
            path = [f"/tenants/{me['tenant_id']}/reconciliation/jobs",
                    f"/tenants/{me['tenant_id']}/reconciliation/jobs/{me['job_id']}/results",
                    f"/tenants/{me['tenant_id']}/projects"][step % 3]
            status = "error"
            with contextlib.suppress(requests.RequestException):
                status = str(session.get(self.base + path, headers=headers, timeout=5).status_code)
            with self._lock:
                self.statuses[status] += 1
            step += 1
            time.sleep(self.pause)

    def __enter__(self) -> UserTraffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
