"""The checks of both suites as plain SQL, generated from the plan's DataModel.

Every query returns one small row per violation, first column ``id`` (the offending key: a row id,
a tenant id or a table name; never customer data). The GX suites and the plain-SQL benchmark run
exactly these queries, so the benchmark compares like with like.

Each planted defect is reported once, by its most specific check: the balance check only looks at
entries that exist (an orphan line is the orphan check's), the trial balance leaves out entries
already reported unbalanced, and the tenant-match check leaves NULL tenants to the NULL check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from include.launch.plugins.quality.model import DataModel, Ledger, Relation, TotalRule, split_ref

Suite = Literal["integrity", "tenant_isolation"]
SUITES: tuple[Suite, ...] = ("integrity", "tenant_isolation")


@dataclass(frozen=True)
class Check:
    """One expectation: a stable name, what it means, and the SQL that lists its violations."""

    name: str
    description: str
    query: str


def _unique(model: DataModel, ref: str) -> Check:
    table, column = split_ref(ref)
    return Check(
        f"unique_{table}_{column}",
        f"{table}.{column} is unique",
        f"SELECT {column} AS id FROM {table} WHERE {column} IS NOT NULL GROUP BY {column} HAVING count(*) > 1",
    )


def _orphans(model: DataModel, relation: Relation) -> Check:
    child, fk = split_ref(relation.child)
    parent, pk = split_ref(relation.parent)
    return Check(
        f"no_orphans_{child}_{fk}",
        f"every {relation.child} has its {relation.parent}",
        f"SELECT c.{model.key(child)} AS id FROM {child} c WHERE c.{fk} IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{pk} = c.{fk})",
    )


def _tenant_match(model: DataModel, relation: Relation) -> Check | None:
    child, fk = split_ref(relation.child)
    parent, pk = split_ref(relation.parent)
    child_tenant, parent_tenant = model.tenant_column(child), model.tenant_column(parent)
    if not relation.tenant_match or child_tenant is None or parent_tenant is None:
        return None
    if split_ref(model.tenants)[0] == parent and fk == child_tenant:
        return None  # the link *is* the tenant: nothing to compare, orphans cover it
    return Check(
        f"same_tenant_{child}_{fk}",
        f"{relation.child} points at a {parent} row of the same tenant",
        f"SELECT c.{model.key(child)} AS id FROM {child} c WHERE EXISTS (SELECT 1 FROM {parent} p "
        f"WHERE p.{pk} = c.{fk} AND p.{parent_tenant} <> c.{child_tenant})",
    )


def _balanced(ledger: Ledger) -> Check:
    per_entry = (f"SELECT {ledger.entry_column} AS entry_id, sum({ledger.debit}) - sum({ledger.credit}) AS diff "
                 f"FROM {ledger.lines} GROUP BY {ledger.entry_column}")
    return Check(
        "entries_balance",
        f"every {ledger.entries} row's debits equal its credits",
        f"SELECT b.entry_id AS id, b.diff FROM ({per_entry}) b WHERE b.diff <> 0 "
        f"AND EXISTS (SELECT 1 FROM {ledger.entries} e WHERE e.id = b.entry_id)",
    )


def _trial_balance(ledger: Ledger, tenant: str) -> Check:
    """Per-tenant trial balance over existing, balanced entries; lines booked to another tenant show here."""
    per_part = (f"SELECT {ledger.entry_column} AS entry_id, {tenant} AS tenant, "
                f"sum({ledger.debit}) - sum({ledger.credit}) AS diff FROM {ledger.lines} "
                f"GROUP BY {ledger.entry_column}, {tenant}")
    entry_diff = (f"SELECT sum({ledger.debit}) - sum({ledger.credit}) FROM {ledger.lines} x "
                  f"WHERE x.{ledger.entry_column} = p.entry_id")
    return Check(
        "trial_balance_zero",
        "every tenant's trial balance is zero",
        f"SELECT p.tenant AS id, sum(p.diff) AS diff FROM ({per_part}) p WHERE p.diff <> 0 "
        f"AND EXISTS (SELECT 1 FROM {ledger.entries} e WHERE e.id = p.entry_id) AND ({entry_diff}) = 0 "
        "GROUP BY p.tenant HAVING sum(p.diff) <> 0",
    )


def _total(model: DataModel, rule: TotalRule) -> Check:
    parent, total = split_ref(rule.total)
    lines, amount = split_ref(rule.sum_of)
    _, via = split_ref(rule.via)
    key = model.key(parent)
    return Check(
        f"totals_{parent}_{total}",
        f"{rule.total} equals the sum of {rule.sum_of}",
        f"SELECT t.{key} AS id FROM {parent} t LEFT JOIN (SELECT {via}, sum({amount}) AS s FROM {lines} "
        f"GROUP BY {via}) l ON l.{via} = t.{key} WHERE t.{total} <> COALESCE(l.s, 0)",
    )


Snapshot = dict[str, dict[str, int]]
"""table -> {"rows": count, "up_to": highest key}, taken before a change (runner.row_snapshot)."""


def _rows_kept(model: DataModel, snapshot: Snapshot) -> Check | None:
    """Ledger rows present before the change are all still there. Rows users add meanwhile have
    higher keys and are not counted, so the check holds under live write traffic and still finds a
    deleted row. (A row committed late with a lower key only raises the count: it never hides a loss
    unless both happen at once.)"""
    parts = [f"SELECT '{table}' AS id, CAST({int(snapshot[table]['rows'])} AS bigint) AS expected, "
             f"(SELECT count(*) FROM {table} WHERE {model.key(table)} <= {int(snapshot[table]['up_to'])}) AS actual"
             for table in model.ledger_tables if table in snapshot]
    if not parts:
        return None
    return Check(
        "ledger_rows_kept",
        "every ledger row that existed before the change still exists",
        f"SELECT id, expected, actual FROM ({' UNION ALL '.join(parts)}) c WHERE actual < expected",
    )


def _rows_unchanged(model: DataModel, snapshot: Snapshot) -> Check | None:
    parts = [f"SELECT '{table}' AS id, CAST({int(snapshot[table]['rows'])} AS bigint) AS expected, "
             f"(SELECT count(*) FROM {table}) AS actual" for table in model.unchanged_tables if table in snapshot]
    if not parts:
        return None
    return Check(
        "row_counts_unchanged",
        "tables nothing may write hold exactly as many rows as before the change",
        f"SELECT id, expected, actual FROM ({' UNION ALL '.join(parts)}) c WHERE expected <> actual",
    )


def integrity_checks(model: DataModel, snapshot: Snapshot | None = None) -> list[Check]:
    """Balanced entries, trial balance, orphans, unique ids, totals, ranges; with a snapshot, the
    ledger rows kept and the unchanged tables' counts."""
    checks: list[Check] = []
    if model.ledger is not None:
        tenant = model.tenant_column(model.ledger.lines) or "tenant_id"
        checks += [_balanced(model.ledger), _trial_balance(model.ledger, tenant)]
    checks += [_orphans(model, r) for r in model.relations if r.orphans]
    checks += [_unique(model, ref) for ref in model.unique_ids]
    checks += [_total(model, rule) for rule in model.totals]
    for rng in model.amount_ranges:
        table, column = split_ref(rng.column)
        checks.append(Check(
            f"range_{table}_{column}",
            f"{rng.column} lies in [{rng.min:g}, {rng.max:g}]",
            f"SELECT {model.key(table)} AS id FROM {table} WHERE {column} IS NULL "
            f"OR {column} < {rng.min!r} OR {column} > {rng.max!r}",
        ))
    if snapshot is not None:
        checks += [c for c in (_rows_kept(model, snapshot), _rows_unchanged(model, snapshot)) if c is not None]
    return checks


def isolation_checks(model: DataModel) -> list[Check]:
    """No NULL tenant on a tenant-owned table; every child row has its parent's tenant."""
    checks = [
        Check(f"tenant_not_null_{table}", f"{table}.{column} is never NULL",
              f"SELECT {model.key(table)} AS id FROM {table} WHERE {column} IS NULL")
        for table, column in model.tenant_tables.items()
    ]
    checks += [c for c in (_tenant_match(model, r) for r in model.relations) if c is not None]
    return checks


def suite_checks(model: DataModel, suite: Suite, snapshot: Snapshot | None = None) -> list[Check]:
    if suite == "integrity":
        return integrity_checks(model, snapshot)
    if suite == "tenant_isolation":
        return isolation_checks(model)
    raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
