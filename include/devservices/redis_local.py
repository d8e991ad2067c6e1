"""A real redis-server (Debian package ``redis-server``) on a free loopback port, for tests and the demo.

Never the machine's 6379: each instance has its own folder (config, pid file, log), a random
password (``REDIS_URL`` carries it, so "auth set" holds) and no persistence. ``stop``/``start``
keep the port and password, so a chaos test can take Redis away and bring the same one back.

``python -m include.devservices.redis_local start|stop --dir D`` does the same from a shell
(the chaos check's inject/restore commands).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from include.devservices.ports import free_port

HOST = "127.0.0.1"
STATE_FILE = "redis_local.json"


def binary(name: str = "redis-server") -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")
    if not found:
        raise FileNotFoundError(f"{name} not found: install the Debian package redis-server "
                                "(scripts/ensure-apt.sh redis-server)")
    return found



@dataclass(frozen=True)
class LocalRedis:
    """One redis-server owned by us: its folder, port and password."""

    folder: Path
    port: int
    password: str

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    @property
    def pid_file(self) -> Path:
        return self.folder / "redis.pid"

    def config_text(self) -> str:
        return "\n".join([
            f"bind {HOST}", f"port {self.port}", "protected-mode yes", "daemonize yes",
            f"pidfile {self.pid_file}", f"logfile {self.folder / 'redis.log'}", f"dir {self.folder}",
            'save ""', "appendonly no", "maxmemory 64mb", "maxmemory-policy allkeys-lru",
            f"requirepass {self.password}", "",
        ])

    def start(self, timeout: float = 15.0) -> LocalRedis:
        config = self.folder / "redis.conf"
        config.write_text(self.config_text())
        config.chmod(0o600)
        result = subprocess.run([binary(), str(config)], capture_output=True, text=True, check=False, timeout=30)
        if result.returncode != 0:
            raise RuntimeError(f"redis-server did not start: {result.stderr or result.stdout}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"redis-server not answering on {HOST}:{self.port} within {timeout:g} s")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM our own server (by the pid in its pid file) and wait until it is gone."""
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def save_state(self) -> None:
        path = self.folder / STATE_FILE
        path.write_text(json.dumps({"port": self.port, "password": self.password}))
        path.chmod(0o600)

    @classmethod
    def load(cls, folder: Path) -> LocalRedis:
        data = json.loads((folder / STATE_FILE).read_text())
        return cls(folder, int(data["port"]), str(data["password"]))


def create(folder: Path) -> LocalRedis:
    """A new instance description (free port, random password); call ``start`` to run it."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    instance = LocalRedis(folder, free_port(), secrets.token_urlsafe(18))
    instance.save_state()
    return instance


@contextmanager
def local_redis(folder: Path) -> Iterator[LocalRedis]:
    instance = create(folder).start()
    try:
        yield instance
    finally:
        instance.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m include.devservices.redis_local")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    folder = args.dir.resolve()
    instance = LocalRedis.load(folder) if (folder / STATE_FILE).exists() else create(folder)
    if args.action == "start":
        instance.start()
    elif args.action == "stop":
        instance.stop()
    print(json.dumps({"port": instance.port, "up": instance.ping()}))


if __name__ == "__main__":
    main()
