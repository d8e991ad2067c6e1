"""Turn Airflow connection ids into client settings; secrets stay inside the connection."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo


def get_connection(conn_id: str):  # type: ignore[no-untyped-def]
    """The Airflow connection (env var, secrets backend or metadata DB, as Airflow resolves it)."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def postgres_conninfo(conn_id: str) -> str:
    """A libpq conninfo string for a postgres connection; host may be a unix-socket folder."""
    conn = get_connection(conn_id)
    extra = conn.extra_dejson or {}
    params: dict[str, str | int] = {}
    host = conn.host or extra.get("host")
    if host:
        params["host"] = host
    if conn.port:
        params["port"] = int(conn.port)
    if conn.login:
        params["user"] = conn.login
    if conn.password:
        params["password"] = conn.password
    params["dbname"] = conn.schema or extra.get("dbname") or "postgres"
    params["connect_timeout"] = int(extra.get("connect_timeout", 5))
    return make_conninfo(**params)  # type: ignore[arg-type]


def optional_http_url(conn_id: str | None, default_port: int) -> str | None:
    """The base URL of an optional HTTP service (Prometheus, Alertmanager), or None when the plan
    names no connection or Airflow does not know it (a check then fails, unless its plan entry says
    ``when_unavailable: not_applicable``)."""
    if not conn_id:
        return None
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    host = str(conn.host or "")
    if "://" not in host:
        host = f"http://{host}:{conn.port or default_port}"
    return host.rstrip("/")
