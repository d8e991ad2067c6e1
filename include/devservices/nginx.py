"""A real nginx (Debian package ``nginx``) as the weighted proxy in front of the demo target.

Our own master process with its own prefix folder, pid file and logs, one worker (so weighted
round robin is exact), listening on a free loopback port. The upstream block lives in its own
file, ``upstream.conf``: the canary applier rewrites it and reloads nginx, exactly as it would
a production proxy. ``reload_command()`` is the argv the applier runs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from include.devservices.ports import free_port

HOST = "127.0.0.1"


def binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/bin")
    if not found:
        raise FileNotFoundError("nginx not found: install the Debian package nginx (scripts/ensure-apt.sh nginx)")
    return found



def upstream_text(servers: list[tuple[str, int]], comment: str = "") -> str:
    """An ``upstream app`` block: (host:port, weight) pairs; weight 0 leaves the server out."""
    lines = [f"# {comment}" if comment else "# upstream of the demo proxy", "upstream app {"]
    lines += [f"    server {address} weight={weight} max_fails=0;" for address, weight in servers if weight > 0]
    lines += ["    keepalive 64;", "}", ""]
    return "\n".join(lines)


def main_config(prefix: Path, port: int) -> str:
    return f"""# nginx for the demo target (include.devservices.nginx)
worker_processes 1;
worker_rlimit_nofile 8192;
daemon on;
pid {prefix / 'nginx.pid'};
error_log {prefix / 'error.log'} warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix / 'tmp/body'};
    proxy_temp_path {prefix / 'tmp/proxy'};
    fastcgi_temp_path {prefix / 'tmp/fastcgi'};
    uwsgi_temp_path {prefix / 'tmp/uwsgi'};
    scgi_temp_path {prefix / 'tmp/scgi'};
    include {prefix / 'upstream.conf'};
    server {{
        listen {HOST}:{port} backlog=4096;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_connect_timeout 2s;
            proxy_read_timeout 30s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    prefix: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def config(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def upstream_file(self) -> Path:
        return self.prefix / "upstream.conf"

    def command(self, *extra: str) -> list[str]:
        return [binary(), "-p", str(self.prefix), "-c", str(self.config), "-e", str(self.prefix / "error.log"), *extra]

    def reload_command(self) -> list[str]:
        """Test the config, then reload: a broken upstream file never replaces a working one."""
        return ["sh", "-c", " ".join(self.command("-t", "-q")) + " && " + " ".join(self.command("-s", "reload"))]

    def start(self, timeout: float = 15.0) -> Nginx:
        subprocess.run(self.command("-t", "-q"), check=True, capture_output=True, text=True)
        subprocess.run(self.command(), check=True, capture_output=True, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/health", timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise TimeoutError(f"nginx not answering on {self.url}:\n{self.error_log()}")

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop our own master (pid file), never any other nginx."""
        pid_file = self.prefix / "nginx.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text().strip())
        try:
            import os

            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def create(prefix: Path, servers: list[tuple[str, int]]) -> Nginx:
    prefix = prefix.resolve()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    proxy = Nginx(prefix, free_port())
    proxy.config.write_text(main_config(prefix, proxy.port))
    proxy.upstream_file.write_text(upstream_text(servers, "initial: all traffic on the stable version"))
    return proxy


@contextmanager
def weighted_proxy(prefix: Path, servers: list[tuple[str, int]]) -> Iterator[Nginx]:
    """Start nginx in front of ``servers`` (host:port, weight); always stopped afterwards."""
    proxy = create(prefix, servers).start()
    try:
        yield proxy
    finally:
        proxy.stop()
