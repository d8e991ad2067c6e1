"""Connection churn from PostgreSQL's own statistics: new server connections per minute.

``pg_stat_database.sessions`` counts every session ever established to the database; two samples
give the rate. The query goes over the connection's TCP address like any client's, so a database
on another host is measured the same way (no local process is read).
"""

from __future__ import annotations

import time
from typing import Any

from include.launch.plugins.metrics.sample import Sample

SOURCE = "postgres_stats"
QUERY = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"


def read_sessions(conninfo: str) -> float:
    import psycopg

    with psycopg.connect(conninfo, connect_timeout=5, autocommit=True) as conn:
        # The statistics a backend reports are flushed when it is idle; ask for a fresh snapshot.
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(QUERY).fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("pg_stat_database has no sessions count for this database (PostgreSQL 14 or later)")
    return float(row[0])


def churn_per_minute(previous: Sample | None, sessions: float, now: float) -> float | None:
    """New connections per minute since ``previous`` (None on the first sample or a stats reset)."""
    if previous is None or previous.error or "sessions" not in previous.raw:
        return None
    before, elapsed = float(previous.raw["sessions"]), now - float(previous.raw["at"])
    if elapsed <= 0 or sessions < before:
        return None
    return (sessions - before) / elapsed * 60


def postgres_stats(run: Any, params: Any, previous: Sample | None) -> Sample:
    from include.launch.core.connections import postgres_conninfo

    conn_id = params.conn_id or run.spec.plan.connections.target_db
    now = time.time()
    try:
        sessions = read_sessions(postgres_conninfo(conn_id))
    except Exception as exc:  # noqa: BLE001 - an unreadable source is an error sample, never a pass
        return Sample(now, SOURCE, error=f"{conn_id}: {type(exc).__name__}: {exc}")
    # The connection this sample opened counts too: one per sample, far below any churn threshold.
    return Sample(now, SOURCE, {"connection_churn_count": churn_per_minute(previous, sessions, now)},
                  {"sessions": sessions, "at": now})
