"""One change at a time per launch: a lock row in the ledger database, taken atomically.

Two runs triggered together race for one INSERT; the loser is refused with the holder's name. The
lock is released by the run's teardown task, so a failed run does not leave the launch locked.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS launch_locks (
    launch_id   text PRIMARY KEY,
    dag_id      text NOT NULL,
    run_id      text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now()
);
"""


_SCHEMA_LOCK = 0x4C41554E43480002  # serialises CREATE TABLE IF NOT EXISTS, which races in PostgreSQL


def _ensure_schema(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        conn.execute(SCHEMA)


@dataclass(frozen=True)
class LockHolder:
    dag_id: str
    run_id: str


def acquire(dsn: str, launch_id: str, dag_id: str, run_id: str) -> LockHolder | None:
    """Take the launch lock; None on success (or if this run already holds it), else the holder."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _ensure_schema(conn)
        conn.execute(
            "INSERT INTO launch_locks (launch_id, dag_id, run_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (launch_id, dag_id, run_id),
        )
        row = conn.execute("SELECT dag_id, run_id FROM launch_locks WHERE launch_id = %s", (launch_id,)).fetchone()
    if row is None or (row[0], row[1]) == (dag_id, run_id):
        return None
    return LockHolder(row[0], row[1])


def release(dsn: str, launch_id: str, dag_id: str, run_id: str) -> bool:
    """Release the lock if this run holds it; True when something was released."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        _ensure_schema(conn)
        cursor = conn.execute(
            "DELETE FROM launch_locks WHERE launch_id = %s AND dag_id = %s AND run_id = %s",
            (launch_id, dag_id, run_id),
        )
        return cursor.rowcount > 0
