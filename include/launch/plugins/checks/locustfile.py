"""The load test's virtual users (run by locust as a subprocess; never imported by the pipeline).

Each user acts as one real user of the target (a bearer token signed with the secret in
$LOAD_JWT_SECRET, identities from the JSON file $LOAD_IDENTITIES) and reads what users read most:
job lists, job results, projects. Think time: $LOAD_WAIT_MIN .. $LOAD_WAIT_MAX seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import jwt
from locust import FastHttpUser, between, task

_IDENTITIES = json.loads(Path(os.environ["LOAD_IDENTITIES"]).read_text())
_NEXT = itertools.count()


class ReconciliationUser(FastHttpUser):
    wait_time = between(float(os.environ.get("LOAD_WAIT_MIN", "1")), float(os.environ.get("LOAD_WAIT_MAX", "3")))

    def on_start(self) -> None:
        me = _IDENTITIES[next(_NEXT) % len(_IDENTITIES)]
        self.tenant, self.job = me["tenant_id"], me["job_id"]
        now = int(time.time())
        token = jwt.encode({"sub": str(me["user_id"]), "iat": now, "exp": now + 3600},
                           os.environ["LOAD_JWT_SECRET"], algorithm="HS256")
        self.headers = {"Authorization": f"Bearer {token}"}

    @task(5)
    def jobs(self) -> None:
        self.client.get(f"/tenants/{self.tenant}/reconciliation/jobs", headers=self.headers,
                        name="/tenants/{tenant_id}/reconciliation/jobs")

    @task(3)
    def results(self) -> None:
        self.client.get(f"/tenants/{self.tenant}/reconciliation/jobs/{self.job}/results", headers=self.headers,
                        name="/tenants/{tenant_id}/reconciliation/jobs/{job_id}/results")

    @task(1)
    def projects(self) -> None:
        self.client.get(f"/tenants/{self.tenant}/projects", headers=self.headers, name="/tenants/{tenant_id}/projects")
