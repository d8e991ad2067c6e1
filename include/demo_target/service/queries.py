"""The tenant-scoped SQL behind the API; every query filters on tenant_id."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row


def tenant_exists(conn: psycopg.Connection, tenant_id: int) -> bool:
    return conn.execute("SELECT 1 FROM tenants WHERE id = %s", (tenant_id,)).fetchone() is not None


def invoices(conn: psycopg.Connection, tenant_id: int, limit: int = 100) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, customer, issued_on, due_on, status, total_amount FROM invoices "
            "WHERE tenant_id = %s ORDER BY id LIMIT %s",
            (tenant_id, limit),
        )
        return cur.fetchall()


def trial_balance(conn: psycopg.Connection, tenant_id: int) -> dict[str, Any]:
    """Debits and credits per account; a tenant's ledger balances when the totals agree."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT a.id AS account_id, a.code, a.name, a.type, "
            "COALESCE(sum(l.debit), 0) AS debit, COALESCE(sum(l.credit), 0) AS credit "
            "FROM accounts a LEFT JOIN journal_lines l ON l.account_id = a.id AND l.tenant_id = a.tenant_id "
            "WHERE a.tenant_id = %s GROUP BY a.id, a.code, a.name, a.type ORDER BY a.code",
            (tenant_id,),
        )
        rows = cur.fetchall()
    debit = sum((r["debit"] for r in rows), Decimal(0))
    credit = sum((r["credit"] for r in rows), Decimal(0))
    return {"accounts": rows, "total_debit": debit, "total_credit": credit, "balanced": debit == credit}


def latest_forecast(conn: psycopg.Connection, tenant_id: int) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, created_at, horizon_days, predicted_cash, confidence FROM forecasts "
            "WHERE tenant_id = %s ORDER BY created_at DESC, id DESC LIMIT 1",
            (tenant_id,),
        )
        return cur.fetchone()


def enqueue_forecast(conn: psycopg.Connection, tenant_id: int) -> int:
    row = conn.execute(
        "INSERT INTO forecast_jobs (tenant_id, job_type, status) VALUES (%s, 'forecast', 'queued') RETURNING id",
        (tenant_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])
