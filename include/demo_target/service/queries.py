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


def _account(conn: psycopg.Connection, tenant_id: int, code: str) -> int:
    row = conn.execute("SELECT id FROM accounts WHERE tenant_id = %s AND code = %s ORDER BY id LIMIT 1",
                       (tenant_id, code)).fetchone()
    if row is None:
        raise LookupError(f"tenant {tenant_id} has no account {code}")
    return int(row[0])


def _journal_entry(conn: psycopg.Connection, tenant_id: int, memo: str, debit_code: str, credit_code: str,
                   amount: Decimal) -> int:
    """One balanced entry: ``amount`` debited to one account and credited to another."""
    row = conn.execute("INSERT INTO journal_entries (tenant_id, entry_date, memo) VALUES (%s, current_date, %s) "
                       "RETURNING id", (tenant_id, memo)).fetchone()
    assert row is not None
    entry = int(row[0])
    conn.execute(
        "INSERT INTO journal_lines (tenant_id, entry_id, account_id, debit, credit) "
        "VALUES (%s, %s, %s, %s, 0), (%s, %s, %s, 0, %s)",
        (tenant_id, entry, _account(conn, tenant_id, debit_code), amount,
         tenant_id, entry, _account(conn, tenant_id, credit_code), amount),
    )
    return entry


def create_invoice(conn: psycopg.Connection, tenant_id: int, quantity: int, unit_price: Decimal) -> dict[str, Any]:
    """An invoice with one line and its revenue booking (receivables debited), in one transaction:
    a user's write leaves the totals and the ledger balanced, as the integrity suite expects."""
    amount = unit_price * quantity
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO invoices (tenant_id, customer, issued_on, due_on, total_amount) "
            "VALUES (%s, 'Live customer', current_date, current_date + 30, %s) RETURNING id",
            (tenant_id, amount)).fetchone()
        assert row is not None
        invoice = int(row[0])
        conn.execute("INSERT INTO invoice_lines (tenant_id, invoice_id, description, quantity, unit_price, amount) "
                     "VALUES (%s, %s, 'Service', %s, %s, %s)", (tenant_id, invoice, quantity, unit_price, amount))
        entry = _journal_entry(conn, tenant_id, f"invoice {invoice}", "1200", "4000", amount)
    return {"invoice_id": invoice, "entry_id": entry, "total_amount": amount}


def record_payment(conn: psycopg.Connection, tenant_id: int) -> dict[str, Any] | None:
    """Mark the tenant's oldest open invoice paid and book the cash (receivables credited); None when
    nothing is open."""
    with conn.transaction():
        row = conn.execute("SELECT id, total_amount FROM invoices WHERE tenant_id = %s AND status = 'open' "
                           "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", (tenant_id,)).fetchone()
        if row is None:
            return None
        invoice, amount = int(row[0]), Decimal(row[1])
        conn.execute("UPDATE invoices SET status = 'paid' WHERE id = %s", (invoice,))
        entry = _journal_entry(conn, tenant_id, f"payment of invoice {invoice}", "1000", "1200", amount)
    return {"invoice_id": invoice, "entry_id": entry, "amount": amount}
