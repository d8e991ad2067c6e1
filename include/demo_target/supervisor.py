"""Starts and supervises N uvicorn replicas so a rolling restart is a real one.

State (ports, pids, status) lives in ``<state_dir>/state.json`` so the CLI can manage replicas
started by an earlier command; in-process callers (tests) share the same ClusterState object and
read ``healthy_urls()`` as their load balancer view: a replica leaves that list before it is
stopped and rejoins only after /health answers again.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from include.demo_target.config import (
    ADMIN_TOKEN_VAR,
    DATABASE_URL_VAR,
    ENV_FILE_VAR,
    FAULTS_ENABLED_VAR,
    REPLICA_VAR,
)
from include.devservices.ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP = "include.demo_target.service.app:create_app"
STATE_FILE = "state.json"
TOKEN_FILE = "admin_token"
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class ReplicaState:
    index: int
    port: int
    pid: int = 0
    status: str = "stopped"  # starting | up | draining | stopped | dead
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ClusterState:
    state_dir: str
    env_file: str
    db_url: str | None = None
    faults_enabled: bool = False
    replicas: list[ReplicaState] = field(default_factory=list)

    def healthy_urls(self) -> list[str]:
        """URLs a load balancer may send to now (status ``up``)."""
        return [r.url for r in list(self.replicas) if r.status == "up"]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("db_url")  # may hold a password; kept in the 0600 state file only
        for rep, out in zip(self.replicas, data["replicas"], strict=True):
            out["url"] = rep.url
        return data

    def save(self) -> Path:
        path = Path(self.state_dir) / STATE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, state_dir: Path | str) -> ClusterState:
        data = json.loads((Path(state_dir) / STATE_FILE).read_text(encoding="utf-8"))
        replicas = [ReplicaState(**r) for r in data.pop("replicas")]
        return cls(**data, replicas=replicas)



def admin_token(state_dir: Path | str) -> str:
    """$DEMO_TARGET_ADMIN_TOKEN, else a token kept in <state_dir>/admin_token (created 0600)."""
    token = os.environ.get(ADMIN_TOKEN_VAR)
    if token:
        return token
    path = Path(state_dir) / TOKEN_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait until the process has exited (reaping our own children); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            _children.pop(pid, None)
            return True
        time.sleep(0.05)
    return False


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The /health body, or None when the replica does not answer 200."""
    try:
        response = requests.get(f"{url}/health", timeout=timeout)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def wait_healthy(replica: ReplicaState, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.pid and not _alive(replica.pid):
            replica.status = "dead"
            raise RuntimeError(f"replica {replica.index} exited during start (pid {replica.pid})")
        body = health(replica.url, timeout=1.0)
        if body is not None and body.get("replica") == replica.index:
            return body
        time.sleep(0.1)
    raise TimeoutError(f"replica {replica.index} not healthy on {replica.url} within {timeout}s")


def _spawn(state: ClusterState, replica: ReplicaState) -> None:
    env = dict(os.environ)
    env.update(
        {
            ENV_FILE_VAR: state.env_file,
            ADMIN_TOKEN_VAR: admin_token(state.state_dir),
            REPLICA_VAR: str(replica.index),
            FAULTS_ENABLED_VAR: "1" if state.faults_enabled else "0",
            "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p),
        }
    )
    if state.db_url:
        env[DATABASE_URL_VAR] = state.db_url
    log_path = Path(state.state_dir) / f"replica-{replica.index}.log"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        APP,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(replica.port),
        "--timeout-graceful-shutdown",
        "20",
        "--no-access-log",
    ]
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            stdin=subprocess.DEVNULL,  # never an inherited fd 0: under Airflow that is the task's comms socket
        )
    _children[proc.pid] = proc
    replica.pid, replica.status = proc.pid, "starting"
    state.save()


def start_replica(state: ClusterState, index: int, health_timeout: float = 30.0) -> ReplicaState:
    """Start replica ``index`` and wait until its /health answers."""
    replica = state.replicas[index]
    _spawn(state, replica)
    wait_healthy(replica, health_timeout)
    replica.status = "up"
    state.save()
    return replica


def start_replicas(
    state_dir: Path | str,
    env_file: Path | str,
    replicas: int = 2,
    base_port: int | None = None,
    db_url: str | None = None,
    faults_enabled: bool = False,
    health_timeout: float = 30.0,
) -> ClusterState:
    """Start ``replicas`` (>= 2) uvicorn processes on 127.0.0.1 and wait for all to be healthy."""
    if replicas < 2:
        raise ValueError("at least 2 replicas, or a rolling restart cannot keep serving")
    state = ClusterState(
        state_dir=str(Path(state_dir).resolve()),
        env_file=str(Path(env_file).resolve()),
        db_url=db_url,
        faults_enabled=faults_enabled,
    )
    state.replicas = [
        ReplicaState(index=i, port=(base_port + i) if base_port else free_port()) for i in range(replicas)
    ]
    try:
        for replica in state.replicas:
            _spawn(state, replica)
        for replica in state.replicas:
            wait_healthy(replica, health_timeout)
            replica.status = "up"
    except Exception:
        stop_all(state)
        raise
    state.save()
    return state


def stop_replica(state: ClusterState, index: int, drain_seconds: float = 1.0, timeout: float = 25.0) -> None:
    """Take the replica out of rotation, wait ``drain_seconds``, SIGTERM (uvicorn drains), wait for exit."""
    replica = state.replicas[index]
    if replica.pid and _alive(replica.pid):
        replica.status = "draining"
        state.save()
        time.sleep(drain_seconds)  # let balancers that read the state stop picking this replica
        os.kill(replica.pid, signal.SIGTERM)
        if not wait_exit(replica.pid, timeout):
            os.kill(replica.pid, signal.SIGKILL)
            wait_exit(replica.pid, 5)
    replica.status, replica.pid = "stopped", 0
    state.save()


def restart_replica(
    state: ClusterState, index: int, drain_seconds: float = 1.0, health_timeout: float = 30.0
) -> ReplicaState:
    """Graceful stop then start of one replica; returns once it is healthy again."""
    stop_replica(state, index, drain_seconds)
    state.replicas[index].restarts += 1
    return start_replica(state, index, health_timeout)


def rolling_restart(
    state: ClusterState, drain_seconds: float = 1.0, health_timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Restart replicas one at a time, each healthy before the next; the others keep serving.

    Returns one log record per replica (old pid, new pid, seconds, version after restart).
    """
    log: list[dict[str, Any]] = []
    for replica in state.replicas:
        others = [r for r in state.replicas if r is not replica and r.status == "up"]
        if not others:
            raise RuntimeError("no other healthy replica; a rolling restart would cause downtime")
        started, old_pid = time.monotonic(), replica.pid
        restart_replica(state, replica.index, drain_seconds, health_timeout)
        body = health(replica.url) or {}
        log.append(
            {
                "replica": replica.index,
                "old_pid": old_pid,
                "new_pid": replica.pid,
                "seconds": round(time.monotonic() - started, 3),
                "version": body.get("version"),
                "pool": body.get("pool"),
            }
        )
    return log


def refresh_status(state: ClusterState) -> ClusterState:
    """Mark replicas dead/up from their process and /health (after a crash, for instance)."""
    for replica in state.replicas:
        if replica.status in ("stopped", "draining"):
            continue
        if not replica.pid or not _alive(replica.pid):
            replica.status = "dead"
        else:
            replica.status = "up" if health(replica.url) else "starting"
    state.save()
    return state


def stop_all(state: ClusterState, timeout: float = 25.0) -> None:
    """SIGTERM every replica, then wait for all (SIGKILL after ``timeout``)."""
    for replica in state.replicas:
        if replica.pid and _alive(replica.pid):
            replica.status = "draining"
            os.kill(replica.pid, signal.SIGTERM)
    for replica in state.replicas:
        if replica.pid and not wait_exit(replica.pid, timeout):
            os.kill(replica.pid, signal.SIGKILL)
            wait_exit(replica.pid, 5)
        replica.status, replica.pid = "stopped", 0
    state.save()
