"""Service settings from a plain KEY=VALUE env file, so a pool change is a file edit plus a reload.

The env file path comes from DEMO_TARGET_ENV_FILE; DATABASE_URL may instead come from the
DEMO_TARGET_DATABASE_URL environment variable (which wins, so secrets need not sit in the file).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from include.demo_target import __version__

ENV_FILE_VAR = "DEMO_TARGET_ENV_FILE"
DATABASE_URL_VAR = "DEMO_TARGET_DATABASE_URL"
ADMIN_TOKEN_VAR = "DEMO_TARGET_ADMIN_TOKEN"
FAULTS_ENABLED_VAR = "DEMO_TARGET_FAULTS_ENABLED"
REPLICA_VAR = "DEMO_TARGET_REPLICA"
JWT_SECRET_VAR = "DEMO_TARGET_JWT_SECRET"
REDIS_URL_VAR = "DEMO_TARGET_REDIS_URL"

# Launch A's pre-change pool (max 50, min 10, idle 30 s, connect 2 s).
DEFAULTS: dict[str, str] = {
    "DB_POOL_MAX": "50",
    "DB_POOL_MIN": "10",
    "DB_POOL_IDLE_TIMEOUT": "30000",
    "DB_POOL_CONNECTION_TIMEOUT": "2000",
}


def read_env_file(path: Path | str) -> dict[str, str]:
    """Parse KEY=VALUE lines; blank lines, ``#`` comments and an ``export`` prefix are allowed."""
    values: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def write_env_file(path: Path | str, values: dict[str, str]) -> Path:
    """Write KEY=VALUE lines (used by ``up`` and tests to create and edit the config)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return out


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its env file."""

    database_url: str
    pool_max: int
    pool_min: int
    idle_timeout_ms: int
    connection_timeout_ms: int
    version: str = __version__
    rate_limit_rps: float = 0.0  # per client and route; 0 disables rate limiting
    cache_ttl_seconds: float = 5.0
    worker_interval_seconds: float = 0.5  # forecast queue polling; 0 disables the worker
    redis_url: str = ""  # REDIS_URL; empty: no shared cache (reads go to the database)
    jwt_secret: str = field(default="", repr=False)  # JWT_SECRET; empty: mutations refused, never a fallback
    cfur_window_seconds: float = 300.0  # crash-free users are counted over this sliding window
    sentry_dsn: str = ""

    def pool_dict(self) -> dict[str, int]:
        data = asdict(self)
        return {k: data[k] for k in ("pool_max", "pool_min", "idle_timeout_ms", "connection_timeout_ms")}


def load_settings(env_file: Path | str | None = None) -> Settings:
    """Settings from ``env_file`` (default: $DEMO_TARGET_ENV_FILE) over DEFAULTS."""
    values = dict(DEFAULTS)
    path = env_file or os.environ.get(ENV_FILE_VAR)
    if path:
        values.update(read_env_file(path))
    database_url = os.environ.get(DATABASE_URL_VAR) or values.get("DATABASE_URL", "")
    if not database_url:
        raise ValueError(f"no DATABASE_URL in the env file and no ${DATABASE_URL_VAR}")
    settings = Settings(
        database_url=database_url,
        pool_max=int(values["DB_POOL_MAX"]),
        pool_min=int(values["DB_POOL_MIN"]),
        idle_timeout_ms=int(values["DB_POOL_IDLE_TIMEOUT"]),
        connection_timeout_ms=int(values["DB_POOL_CONNECTION_TIMEOUT"]),
        version=values.get("APP_VERSION", __version__),
        rate_limit_rps=float(values.get("RATE_LIMIT_RPS", "0")),
        cache_ttl_seconds=float(values.get("CACHE_TTL_SECONDS", "5")),
        worker_interval_seconds=float(values.get("WORKER_INTERVAL_SECONDS", "0.5")),
        redis_url=os.environ.get(REDIS_URL_VAR) or values.get("REDIS_URL", ""),
        jwt_secret=os.environ.get(JWT_SECRET_VAR) or values.get("JWT_SECRET", ""),
        cfur_window_seconds=float(values.get("CFUR_WINDOW_SECONDS", "300")),
        sentry_dsn=values.get("SENTRY_DSN", ""),
    )
    if not 0 <= settings.pool_min <= settings.pool_max or settings.pool_max < 1:
        raise ValueError(f"invalid pool size min={settings.pool_min} max={settings.pool_max}")
    return settings
