"""The queue worker: a job queue served by a thread pool, behind a small HTTP API.

``GET /jobs/<kind>`` submits a job and waits for it (500 when it failed, 504 past JOB_TIMEOUT_MS);
``GET /status`` is its health; ``GET /prom`` its metrics; ``POST /admin/reload`` re-reads the env
file (the pool is resized, injected faults are cleared, as a restart would); ``POST /admin/fault``
makes a share of jobs fail (``{"fail_ratio": 0.5}``), for tests and the demo.
"""

from __future__ import annotations

import hmac
import json
import queue
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from include.demo_worker import settings as settings_module

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Job:
    kind: str
    enqueued: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: str = "pending"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter("worker_jobs", "Jobs finished, by kind and outcome", ["kind", "outcome"],
                            registry=self.registry)
        self.duration = Histogram("worker_job_duration_seconds", "Time a job took, queue wait included", ["kind"],
                                  buckets=BUCKETS, registry=self.registry)
        self.wait = Histogram("worker_queue_wait_seconds", "Time a job waited for a thread", buckets=BUCKETS,
                              registry=self.registry)
        self.depth = Gauge("worker_queue_depth", "Jobs waiting", registry=self.registry)
        self.threads = Gauge("worker_threads", "Threads serving the queue", registry=self.registry)
        self.busy = Gauge("worker_threads_busy", "Threads running a job", registry=self.registry)


class Worker:
    """The queue and its thread pool; ``reload`` re-reads the settings and resizes the pool."""

    def __init__(self, env_file: Path | None, database_url: str = "") -> None:
        self.env_file, self.database_url = env_file, database_url
        self.metrics = Metrics()
        self.queue: queue.Queue[Job] = queue.Queue()
        self.settings = settings_module.load(env_file)
        self.fail_ratio = 0.0
        self.threads: list[threading.Thread] = []
        self.generation = 0
        self.lock = threading.Lock()
        self._create_store()
        self._resize(self.settings.threads)

    def _resize(self, count: int) -> None:
        """A new generation of ``count`` threads; each older thread stops after the job in hand."""
        self.generation += 1
        self.threads = [threading.Thread(target=self._serve, args=(self.generation,), daemon=True)
                        for _ in range(count)]
        for thread in self.threads:
            thread.start()
        self.metrics.threads.set(count)

    def reload(self) -> None:
        with self.lock:
            self.settings = settings_module.load(self.env_file)
            self.fail_ratio = 0.0
            self._resize(self.settings.threads)

    def submit(self, kind: str) -> Job:
        job = Job(kind)
        self.queue.put(job)
        self.metrics.depth.set(self.queue.qsize())
        job.done.wait(self.settings.job_timeout_ms / 1000)
        if not job.done.is_set():
            job.outcome = "timeout"
        return job

    def _serve(self, generation: int) -> None:
        connection = self._store()
        while generation == self.generation:
            try:
                job = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.metrics.depth.set(self.queue.qsize())
            self.metrics.wait.observe(time.monotonic() - job.enqueued)
            self.metrics.busy.inc()
            try:
                outcome = "failed"
                for _ in range(1 + self.settings.retry_limit):
                    time.sleep(self.settings.job_cost_ms / 1000)
                    if random.random() >= self.fail_ratio:
                        outcome = "done"
                        break
                if not self._record(connection, job.kind, outcome):
                    outcome = "lost"  # a job whose result was not stored did not happen
            finally:
                self.metrics.busy.dec()
            self.metrics.jobs.labels(job.kind, outcome).inc()
            self.metrics.duration.labels(job.kind).observe(time.monotonic() - job.enqueued)
            job.outcome = outcome
            job.done.set()
        if connection:
            connection.close()

    def _create_store(self) -> None:
        """The job store's table, created once under an advisory lock (replicas start side by side)."""
        if not self.database_url:
            return
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as connection:
            connection.execute("SELECT pg_advisory_lock(4242)")
            connection.execute("CREATE TABLE IF NOT EXISTS job_results (id bigserial PRIMARY KEY, kind text NOT NULL, "
                               "outcome text NOT NULL, finished_at timestamptz NOT NULL DEFAULT now())")
            connection.execute("SELECT pg_advisory_unlock(4242)")

    def _store(self) -> Any:
        if not self.database_url:
            return None
        import psycopg

        try:
            return psycopg.connect(self.database_url, autocommit=True)
        except psycopg.Error:
            return False  # the store is down: every job's result is lost until it is back

    def _record(self, connection: Any, kind: str, outcome: str) -> bool:
        """Store the job's result; False when it could not be stored."""
        if connection is None:
            return True
        import psycopg

        try:
            if connection is False:
                raise psycopg.OperationalError("no connection to the job store")
            connection.execute("INSERT INTO job_results (kind, outcome) VALUES (%s, %s)", (kind, outcome))
        except psycopg.Error:
            return False
        return True

    def status(self) -> dict[str, Any]:
        alive = sum(thread.is_alive() for thread in self.threads)
        return {"state": "serving" if alive == self.settings.threads else "degraded",
                "release": self.settings.release,
                "workers": {"threads": self.settings.threads, "alive": alive},
                "limits": {"job_timeout_ms": self.settings.job_timeout_ms, "retry_limit": self.settings.retry_limit}}


def handler(worker: Worker, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
            return

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Worker-Release", worker.settings.release)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict[str, Any]) -> None:
            self._send(status, json.dumps(data).encode())

        def do_GET(self) -> None:
            if self.path == "/status":
                self._json(200, worker.status())
            elif self.path == "/prom":
                self._send(200, generate_latest(worker.metrics.registry), "text/plain; version=0.0.4")
            elif self.path.startswith("/jobs/") and self.path.count("/") == 2:
                job = worker.submit(self.path.rsplit("/", 1)[1])
                self._json({"done": 200, "timeout": 504}.get(job.outcome, 500), {"outcome": job.outcome})
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if not token or not hmac.compare_digest(given, token):
                self._json(401, {"error": "admin token required"})
            elif self.path == "/admin/reload":
                try:
                    worker.reload()
                except ValueError as exc:
                    self._json(400, {"error": str(exc)})
                    return
                self._json(200, {"reloaded": True, **worker.status()})
            elif self.path == "/admin/fault":
                worker.fail_ratio = float(body.get("fail_ratio", 0.0))
                self._json(200, {"fail_ratio": worker.fail_ratio})
            else:
                self._json(404, {"error": "not found"})

    return Handler


def serve(port: int, env_file: Path | None, token: str, database_url: str = "") -> ThreadingHTTPServer:
    """A started server on 127.0.0.1:``port`` (serve_forever runs in a daemon thread)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(Worker(env_file, database_url), token))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
