"""The worker's settings, from its env file over the defaults (re-read on every reload)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from include.demo_worker import __version__

DEFAULTS = {"WORKER_THREADS": "2", "JOB_TIMEOUT_MS": "2000", "RETRY_LIMIT": "1", "JOB_COST_MS": "3"}


@dataclass(frozen=True)
class Settings:
    threads: int
    job_timeout_ms: int
    retry_limit: int
    job_cost_ms: float
    release: str


def read_env(path: Path | None) -> dict[str, str]:
    values = dict(DEFAULTS)
    if path is not None and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def load(path: Path | None) -> Settings:
    values = read_env(path)
    threads = int(values["WORKER_THREADS"])
    if not 1 <= threads <= 64:
        raise ValueError(f"WORKER_THREADS must be 1..64 (got {threads})")
    return Settings(threads=threads, job_timeout_ms=int(values["JOB_TIMEOUT_MS"]),
                    retry_limit=int(values["RETRY_LIMIT"]), job_cost_ms=float(values["JOB_COST_MS"]),
                    release=values.get("WORKER_RELEASE", __version__))
