"""Deterministic bulk data for the demo target, loaded with COPY, plus named planted defects.

Every ledger balances and every invoice total equals the sum of its lines, except where a defect
is planted on purpose; each defect is planted exactly once and recorded in ``planted_defects`` so
tests can check that the data-quality suites find exactly what was planted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg

from include.demo_target.beta import BetaProfile, simulate_beta, write_survey_csv
from include.demo_target.schema import IDENTITY_TABLES, TABLES, migrate

__all__ = [
    "DEFECTS",
    "BetaProfile",
    "GenerationResult",
    "generate",
    "parse_defects",
    "plant_defects",
    "simulate_beta",
    "write_survey_csv",
]

DEFECTS: tuple[str, ...] = (
    "unbalanced_entry",
    "orphan_line",
    "cross_tenant_reference",
    "null_tenant_id",
    "duplicate_id",
    "invoice_total_mismatch",
)

BASE_TIME = datetime(2025, 1, 1, tzinfo=UTC)
BASE_DATE = date(2025, 1, 1)
BATCH_TENANTS = 5000
USERS_PER_TENANT = 2
ACCOUNTS = (
    ("1000", "Cash", "asset"),
    ("1200", "Receivables", "asset"),
    ("2000", "Payables", "liability"),
    ("4000", "Revenue", "revenue"),
    ("5000", "Expenses", "expense"),
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": ("id", "name", "plan", "created_at"),
    "users": ("id", "tenant_id", "email", "name", "role", "created_at"),
    "accounts": ("id", "tenant_id", "code", "name", "type"),
    "journal_entries": ("id", "tenant_id", "entry_date", "memo"),
    "journal_lines": ("id", "tenant_id", "entry_id", "account_id", "debit", "credit"),
    "invoices": ("id", "tenant_id", "customer", "issued_on", "due_on", "status", "total_amount"),
    "invoice_lines": ("id", "tenant_id", "invoice_id", "description", "quantity", "unit_price", "amount"),
    "forecasts": ("id", "tenant_id", "created_at", "horizon_days", "predicted_cash", "confidence"),
    "forecast_jobs": (
        "id",
        "tenant_id",
        "forecast_id",
        "job_type",
        "status",
        "enqueued_at",
        "started_at",
        "finished_at",
    ),
    "feature_flags": ("tenant_id", "flag", "enabled", "expires_at"),
    "projects": ("id", "tenant_id", "owner_id", "name"),
    "reconciliation_jobs": ("id", "tenant_id", "project_id", "status", "created_at"),
    "reconciliation_results": ("id", "tenant_id", "job_id", "matched", "amount"),
}


@dataclass
class GenerationResult:
    """What was generated: rows per table, planted defect ids, wall time."""

    tenants: int
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def money(cents: int) -> str:
    """Cents as a numeric(14,2) literal; integer cents keep every balance exact."""
    return f"{cents // 100}.{cents % 100:02d}"


def parse_defects(spec: str | None) -> list[str]:
    """``all``, ``none``/empty, or a comma list of names from DEFECTS."""
    if not spec or spec == "none":
        return []
    if spec == "all":
        return list(DEFECTS)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = sorted(set(names) - set(DEFECTS))
    if unknown:
        raise ValueError(f"unknown defects {unknown}; known: {', '.join(DEFECTS)}")
    return list(dict.fromkeys(names))


class _Batch:
    """Tab-separated COPY text per table for one batch of tenants."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {t: [] for t in COLUMNS}

    def add(self, table: str, *values: object) -> None:
        self.lines[table].append("\t".join("\\N" if v is None else str(v) for v in values))

    def copy_into(self, conn: psycopg.Connection, rows: dict[str, int]) -> None:
        with conn.cursor() as cur:
            for table, lines in self.lines.items():
                if not lines:
                    continue
                cols = ", ".join(COLUMNS[table])
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[arg-type]
                    copy.write("\n".join(lines) + "\n")
                rows[table] = rows.get(table, 0) + len(lines)


class _Ids:
    """Next id per table, so ids are dense and deterministic."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def next(self, table: str) -> int:
        value = self.last.get(table, 0) + 1
        self.last[table] = value
        return value


def _tenant_rows(batch: _Batch, ids: _Ids, rng: random.Random, tenant: int) -> None:
    """All rows of one tenant: users, chart of accounts, balanced ledger, invoices, forecasts, B data."""
    created = BASE_TIME + timedelta(minutes=tenant)
    batch.add(
        "tenants",
        tenant,
        f"Tenant {tenant:05d}",
        ("standard", "plus", "pro")[tenant % 3],
        created.isoformat(),
    )
    users = []
    for k in range(USERS_PER_TENANT):
        uid = ids.next("users")
        users.append(uid)
        batch.add(
            "users",
            uid,
            tenant,
            f"user{uid}@t{tenant}.example.com",
            f"User {uid}",
            "owner" if k == 0 else "member",
            created.isoformat(),
        )
    accounts = []
    for code, name, kind in ACCOUNTS:
        aid = ids.next("accounts")
        accounts.append(aid)
        batch.add("accounts", aid, tenant, code, name, kind)
    for e in range(4):
        eid = ids.next("journal_entries")
        batch.add(
            "journal_entries",
            eid,
            tenant,
            (BASE_DATE + timedelta(days=e * 7 + tenant % 7)).isoformat(),
            f"entry {e}",
        )
        debit_acct, *credit_accts = rng.sample(accounts, 3 if e % 2 else 2)
        parts = [rng.randrange(100, 500_000) for _ in credit_accts]
        batch.add("journal_lines", ids.next("journal_lines"), tenant, eid, debit_acct, money(sum(parts)), "0.00")
        for acct, cents in zip(credit_accts, parts, strict=True):
            batch.add("journal_lines", ids.next("journal_lines"), tenant, eid, acct, "0.00", money(cents))
    for i in range(2):
        iid = ids.next("invoices")
        issued = BASE_DATE + timedelta(days=i * 15 + tenant % 15)
        amounts = []
        line_rows = []
        for n in range(2):
            qty, unit = rng.randrange(1, 10), rng.randrange(500, 100_000)
            amounts.append(qty * unit)
            line_rows.append(
                (ids.next("invoice_lines"), tenant, iid, f"Service {n}", qty, money(unit), money(qty * unit))
            )
        batch.add(
            "invoices",
            iid,
            tenant,
            f"Customer {rng.randrange(1, 500)}",
            issued.isoformat(),
            (issued + timedelta(days=30)).isoformat(),
            ("open", "paid")[i % 2],
            money(sum(amounts)),
        )
        for row in line_rows:
            batch.add("invoice_lines", *row)
    for f in range(3):
        fid = ids.next("forecasts")
        at = BASE_TIME + timedelta(days=f * 10, minutes=tenant % 1440)
        batch.add(
            "forecasts",
            fid,
            tenant,
            at.isoformat(),
            30 * (f + 1),
            money(rng.randrange(0, 10_000_000)),
            round(rng.uniform(0.6, 0.95), 3),
        )
        started = at + timedelta(seconds=rng.randrange(1, 30))
        batch.add(
            "forecast_jobs",
            ids.next("forecast_jobs"),
            tenant,
            fid,
            "forecast",
            "finished",
            at.isoformat(),
            started.isoformat(),
            (started + timedelta(seconds=rng.randrange(1, 20))).isoformat(),
        )
    batch.add("feature_flags", tenant, "cash_forecast_v2", "f", None)
    pid = ids.next("projects")
    batch.add("projects", pid, tenant, users[0], f"Reconciliation {tenant}")
    jid = ids.next("reconciliation_jobs")
    batch.add("reconciliation_jobs", jid, tenant, pid, "completed", (created + timedelta(days=1)).isoformat())
    for _ in range(3):
        batch.add(
            "reconciliation_results",
            ids.next("reconciliation_results"),
            tenant,
            jid,
            "t" if rng.random() < 0.97 else "f",
            money(rng.randrange(100, 1_000_000)),
        )


def _reset(conn: psycopg.Connection) -> None:
    conn.execute(f"TRUNCATE {', '.join(TABLES)}")  # type: ignore[arg-type]


def _sync_identities(conn: psycopg.Connection) -> None:
    """Move identity sequences past the copied ids so later inserts (beta, workers) never collide."""
    for table in IDENTITY_TABLES:
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # type: ignore[arg-type]
            f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
        )


def _insert_id(conn: psycopg.Connection, sql: str, params: Iterable[object]) -> int:
    row = conn.execute(sql, tuple(params)).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def plant_defects(conn: psycopg.Connection, names: list[str], seed: int) -> dict[str, int]:
    """Plant each named defect exactly once on top of clean data; record and return the row ids.

    Notes for the quality checks: the orphan line has only a debit (its missing entry is never
    "balanced"), and the NULL-tenant invoice has no lines and a zero total, so it trips no other check.
    """
    if not names:
        return {}
    rng = random.Random(seed * 7919 + 17)
    tenants = [r[0] for r in conn.execute("SELECT id FROM tenants ORDER BY id").fetchall()]
    if len(tenants) < 2:
        raise ValueError("planting defects needs at least 2 tenants")
    t1, t2 = rng.sample(tenants, 2)
    accts = [r[0] for r in conn.execute("SELECT id FROM accounts WHERE tenant_id = %s ORDER BY id", (t1,))]
    planted: dict[str, int] = {}
    detail: dict[str, str] = {}
    for name in names:
        if name == "unbalanced_entry":
            eid = _insert_id(
                conn,
                "INSERT INTO journal_entries (tenant_id, entry_date, memo) "
                "VALUES (%s, %s, 'planted: unbalanced') RETURNING id",
                (t1, BASE_DATE),
            )
            conn.execute(
                "INSERT INTO journal_lines (tenant_id, entry_id, account_id, debit, credit) VALUES "
                "(%s, %s, %s, 100.00, 0), (%s, %s, %s, 0, 90.00)",
                (t1, eid, accts[0], t1, eid, accts[3]),
            )
            planted[name], detail[name] = eid, "debits 100.00, credits 90.00"
        elif name == "orphan_line":
            max_entry = conn.execute("SELECT COALESCE(max(id), 0) FROM journal_entries").fetchone()
            missing = int(max_entry[0]) + 1_000_000 if max_entry else 1_000_000
            planted[name] = _insert_id(
                conn,
                "INSERT INTO journal_lines (tenant_id, entry_id, account_id, debit, "
                "credit) VALUES (%s, %s, %s, 25.00, 0) RETURNING id",
                (t1, missing, accts[0]),
            )
            detail[name] = f"entry_id {missing} does not exist"
        elif name == "cross_tenant_reference":
            forecast = conn.execute("SELECT min(id) FROM forecasts WHERE tenant_id = %s", (t1,)).fetchone()
            other_user = conn.execute("SELECT min(id) FROM users WHERE tenant_id = %s", (t2,)).fetchone()
            assert forecast is not None and other_user is not None
            planted[name] = _insert_id(
                conn,
                "INSERT INTO decisions (tenant_id, user_id, forecast_id, action, "
                "decided_at) VALUES (%s, %s, %s, 'planted: cross-tenant', %s) RETURNING id",
                (t1, other_user[0], forecast[0], BASE_TIME),
            )
            detail[name] = f"decision of tenant {t1} made by user {other_user[0]} of tenant {t2}"
        elif name == "null_tenant_id":
            planted[name] = _insert_id(
                conn,
                "INSERT INTO invoices (tenant_id, customer, issued_on, due_on, "
                "status, total_amount) VALUES (NULL, 'planted: no tenant', %s, %s, 'open', 0) "
                "RETURNING id",
                (BASE_DATE, BASE_DATE + timedelta(days=30)),
            )
            detail[name] = "invoice with NULL tenant_id (no lines, total 0.00)"
        elif name == "duplicate_id":
            row = conn.execute(
                "SELECT id, tenant_id, entry_date, memo FROM journal_entries WHERE tenant_id = %s ORDER BY id LIMIT 1",
                (t2,),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO journal_entries (id, tenant_id, entry_date, memo) VALUES (%s, %s, %s, %s)",
                (row[0], row[1], row[2], "planted: duplicate id"),
            )
            planted[name], detail[name] = int(row[0]), "journal_entries id appears twice"
        elif name == "invoice_total_mismatch":
            iid = _insert_id(
                conn,
                "INSERT INTO invoices (tenant_id, customer, issued_on, due_on, status, "
                "total_amount) VALUES (%s, 'planted: mismatch', %s, %s, 'open', 301.00) RETURNING id",
                (t2, BASE_DATE, BASE_DATE + timedelta(days=30)),
            )
            conn.execute(
                "INSERT INTO invoice_lines (tenant_id, invoice_id, description, quantity, unit_price, "
                "amount) VALUES (%s, %s, 'a', 1, 100.00, 100.00), (%s, %s, 'b', 2, 100.00, 200.00)",
                (t2, iid, t2, iid),
            )
            planted[name], detail[name] = iid, "total 301.00, lines sum to 300.00"
        else:
            raise ValueError(f"unknown defect {name!r}")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO planted_defects (name, table_name, row_id, detail) VALUES (%s, %s, %s, %s)",
            [(n, DEFECT_TABLES[n], planted[n], detail[n]) for n in names],
        )
    return planted


DEFECT_TABLES: dict[str, str] = {
    "unbalanced_entry": "journal_entries",
    "orphan_line": "journal_lines",
    "cross_tenant_reference": "decisions",
    "null_tenant_id": "invoices",
    "duplicate_id": "journal_entries",
    "invoice_total_mismatch": "invoices",
}


def generate(db_url: str, tenants: int, seed: int = 0, defects: list[str] | None = None) -> GenerationResult:
    """Replace the data with ``tenants`` tenants generated from ``seed``; plant ``defects``.

    Runs the migration first, truncates, bulk-loads with COPY in batches, then plants defects.
    """
    if tenants < 1:
        raise ValueError("tenants must be >= 1")
    started = time.perf_counter()
    migrate(db_url)
    result = GenerationResult(tenants=tenants, seed=seed)
    rng = random.Random(seed)
    ids = _Ids()
    with psycopg.connect(db_url) as conn:
        _reset(conn)
        for first in range(1, tenants + 1, BATCH_TENANTS):
            batch = _Batch()
            for tenant in range(first, min(first + BATCH_TENANTS, tenants + 1)):
                _tenant_rows(batch, ids, rng, tenant)
            batch.copy_into(conn, result.rows)
        _sync_identities(conn)
        result.defects = plant_defects(conn, list(defects or []), seed)
        for table in COLUMNS:  # true counts, including planted rows
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[arg-type]
            result.rows[table] = int(count[0]) if count else 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    result.seconds = time.perf_counter() - started
    return result
