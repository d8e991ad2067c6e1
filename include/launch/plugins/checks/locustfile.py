"""The load test's virtual users (run by locust as a subprocess; never imported by the pipeline).

Each user acts as one real user of the target: a bearer token signed with $LOAD_SIGNING_KEY (the
target profile's ``users.token_secret``), an identity from the JSON file $LOAD_IDENTITIES (a row of
``users.load_identities_sql``), and the profile's ``users.routes`` from $LOAD_ROUTES, each picked in
proportion to its weight, its placeholders filled from the identity. Think time:
$LOAD_WAIT_MIN .. $LOAD_WAIT_MAX seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path

import jwt
from locust import FastHttpUser, between, task

_IDENTITIES = json.loads(Path(os.environ["LOAD_IDENTITIES"]).read_text())
_ROUTES = json.loads(os.environ["LOAD_ROUTES"])
_PATHS = [route["path"] for route in _ROUTES]
_WEIGHTS = [int(route.get("weight", 1)) for route in _ROUTES]
_NEXT = itertools.count()


class ServiceUser(FastHttpUser):
    wait_time = between(float(os.environ.get("LOAD_WAIT_MIN", "1")), float(os.environ.get("LOAD_WAIT_MAX", "3")))

    def on_start(self) -> None:
        self.me = _IDENTITIES[next(_NEXT) % len(_IDENTITIES)]
        now = int(time.time())
        token = jwt.encode({"sub": str(self.me["user_id"]), "iat": now, "exp": now + 3600},
                           os.environ["LOAD_SIGNING_KEY"], algorithm="HS256")
        self.headers = {"Authorization": f"Bearer {token}"}

    @task
    def read(self) -> None:
        path = random.choices(_PATHS, weights=_WEIGHTS)[0]
        self.client.get(path.format(**self.me), headers=self.headers, name=path)
