"""Real database outages for chaos tests: the target's database stops accepting connections.

``block`` sets ``ALLOW_CONNECTIONS false`` on the database and terminates its sessions, so every
replica loses its pooled connections and cannot open new ones; ``unblock`` lets them back in.
Needs a superuser (or owner) connection to another database of the same server.
"""

from __future__ import annotations

import psycopg
from psycopg import sql


def block(admin_url: str, database: str) -> int:
    """Refuse new connections and end existing ones; returns how many sessions were ended."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(database)))
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchone()
    return int(row[0]) if row else 0


def unblock(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(database)))
