"""Generator: balanced ledgers, each planted defect present exactly once, determinism, beta replay."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from include.demo_target.beta import SURVEY_HEADER, BetaProfile, simulate_beta, write_survey_csv
from include.demo_target.generator import DEFECTS, GenerationResult, generate, parse_defects
from include.demo_target.schema import INDEXES, TENANT_TABLES, migrate

NULL_TENANT = " UNION ALL ".join(
    f"SELECT id FROM {t} WHERE tenant_id IS NULL" for t in TENANT_TABLES if t not in ("beta_cohort", "feature_flags")
)
# How a quality check finds each defect, independently of the planted_defects bookkeeping.
DETECT = {
    "unbalanced_entry": "SELECT l.entry_id FROM journal_lines l WHERE EXISTS "
    "(SELECT 1 FROM journal_entries e WHERE e.id = l.entry_id) GROUP BY l.entry_id "
    "HAVING sum(l.debit) <> sum(l.credit)",
    "orphan_line": "SELECT l.id FROM journal_lines l WHERE NOT EXISTS "
    "(SELECT 1 FROM journal_entries e WHERE e.id = l.entry_id)",
    "cross_tenant_reference": "SELECT d.id FROM decisions d JOIN users u ON u.id = d.user_id "
    "WHERE u.tenant_id IS DISTINCT FROM d.tenant_id",
    "null_tenant_id": NULL_TENANT,
    "duplicate_id": "SELECT id FROM journal_entries GROUP BY id HAVING count(*) > 1",
    "invoice_total_mismatch": "SELECT i.id FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) AS s "
    "FROM invoice_lines GROUP BY invoice_id) l ON l.invoice_id = i.id "
    "WHERE i.total_amount <> COALESCE(l.s, 0)",
}


def _ids(db_url: str, sql: str) -> list[int]:
    with psycopg.connect(db_url) as conn:
        return [int(r[0]) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]


def _one(conn: psycopg.Connection, sql: str) -> tuple[Any, ...]:
    row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row


def test_migration_is_idempotent_and_creates_the_indexes(fresh_db: str) -> None:
    migrate(fresh_db)
    migrate(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        names = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert {idx for idx, _, _ in INDEXES} <= names


@pytest.mark.parametrize("defect", DEFECTS, ids=DEFECTS)
def test_each_planted_defect_is_present_exactly_once(seeded: tuple[str, GenerationResult], defect: str) -> None:
    db_url, result = seeded
    found = _ids(db_url, DETECT[defect])
    assert found == [result.defects[defect]]
    recorded = _ids(db_url, f"SELECT row_id FROM planted_defects WHERE name = '{defect}'")
    assert recorded == found


@pytest.mark.parametrize("defect", DEFECTS, ids=DEFECTS)
def test_clean_data_has_no_defects(fresh_db: str, defect: str) -> None:
    generate(fresh_db, tenants=20, seed=3)
    assert _ids(fresh_db, DETECT[defect]) == []


def test_generation_is_deterministic(seeded: tuple[str, GenerationResult], fresh_db: str) -> None:
    checksum = (
        "SELECT md5(string_agg(concat_ws(',', id, tenant_id, entry_id, account_id, debit, credit), ';' "
        "ORDER BY id)) FROM journal_lines"
    )
    again = generate(fresh_db, tenants=40, seed=7, defects=list(DEFECTS))
    assert again.defects == seeded[1].defects and again.rows == seeded[1].rows
    with psycopg.connect(fresh_db) as a, psycopg.connect(seeded[0]) as b:
        assert a.execute(checksum).fetchone() == b.execute(checksum).fetchone()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("all", list(DEFECTS)), ("", []), ("orphan_line,duplicate_id", ["orphan_line", "duplicate_id"])],
    ids=["all", "none", "two"],
)
def test_parse_defects(spec: str, expected: list[str]) -> None:
    assert parse_defects(spec) == expected


@pytest.mark.parametrize(
    ("profile", "meets"), [(BetaProfile(), True), (BetaProfile.failing(), False)], ids=["meets", "misses"]
)
def test_simulated_beta_meets_or_misses_the_criteria(
    fresh_db: str, tmp_path: Path, profile: BetaProfile, meets: bool
) -> None:
    generate(fresh_db, tenants=20, seed=1)
    cohort = list(range(1, 9))  # 8 tenants x 2 users = 16 beta users
    with psycopg.connect(fresh_db) as conn:
        summary = simulate_beta(conn, cohort, days=14, start_date=date(2025, 3, 1), seed=5, profile=profile)
        users = summary.users
        trust, pay, sat, promoters, detractors = _one(
            conn,
            "SELECT avg(trust_forecasts::int), avg(would_pay_again::int), avg(satisfaction), "
            "avg((nps >= 9)::int), avg((nps <= 6)::int) FROM survey_responses WHERE survey_day = 14",
        )
        (deciders,) = _one(conn, "SELECT count(DISTINCT user_id) FROM decisions")
        (tickets,) = _one(conn, "SELECT count(*) FROM support_tickets")
        n = write_survey_csv(conn, tmp_path / "day7.csv", 7)
    assert users == 16 and n == 16
    nps = 100 * (promoters - detractors)
    results = [
        trust >= 0.7,
        deciders / users >= 0.8,
        tickets / users / (14 / 30) < 0.5,
        pay >= 0.4,
        sat >= 4.0,
        nps >= 40,
    ]
    assert results == [meets] * len(results)
    with (tmp_path / "day7.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == SURVEY_HEADER and len(rows) == 17
