"""The DataModel: plans carry one; names that are not SQL identifiers are refused; URLs for GX."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from include.launch.plan import load_plan
from include.launch.plugins.quality.checks import suite_checks
from include.launch.plugins.quality.model import DataModel
from include.launch.plugins.quality.runner import sqlalchemy_url


@pytest.mark.parametrize("plan", ["accubooks", "reconciliation"], ids=["accubooks", "reconciliation"])
def test_plans_carry_a_data_model(plan: str) -> None:
    model = load_plan(plan).data_model
    assert model is not None and model.tenant_tables and model.ledger_tables


@pytest.mark.parametrize("bad", [
    {"tenant_tables": {"users; DROP TABLE x": "tenant_id"}},
    {"tenant_tables": {"users": "tenant_id"}, "unique_ids": ["users"]},
    {"tenant_tables": {"users": "tenant_id"}, "surprise": 1},
    {"tenant_tables": {"users": "tenant_id"}, "amount_ranges": [{"column": "a.b", "min": 2, "max": 1}]},
], ids=["injection", "not_table_column", "unknown_key", "empty_range"])
def test_bad_models_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DataModel.model_validate(bad)


def test_a_snapshot_adds_the_kept_rows_and_unchanged_counts_checks() -> None:
    model = load_plan("accubooks").data_model
    assert model is not None
    snapshot = {"journal_entries": {"rows": 3, "up_to": 9}, "accounts": {"rows": 5, "up_to": 5}}
    names = [c.name for c in suite_checks(model, "integrity", snapshot)]
    assert names[-2:] == ["ledger_rows_kept", "row_counts_unchanged"]
    assert not {"ledger_rows_kept", "row_counts_unchanged"} & {c.name for c in suite_checks(model, "integrity")}


def test_a_table_is_either_kept_or_unchanged() -> None:
    with pytest.raises(ValidationError, match="both ledger_tables and unchanged_tables"):
        DataModel.model_validate({"tenant_tables": {"users": "tenant_id"}, "ledger_tables": ["users"],
                                  "unchanged_tables": ["users"]})


@pytest.mark.parametrize(("dsn", "url"), [
    ("user=postgres dbname=x host=/work/main/.run/pg", "postgresql+psycopg://postgres@/x?host=/work/main/.run/pg"),
    ("postgresql://u:p%40ss@db.example:5433/acc", "postgresql+psycopg://u:p%40ss@db.example:5433/acc"),
    ("host=/tmp/s port=5444 dbname=d", "postgresql+psycopg:///d?host=/tmp/s&port=5444"),
], ids=["unix_socket", "tcp_password", "socket_port"])
def test_sqlalchemy_url(dsn: str, url: str) -> None:
    assert sqlalchemy_url(dsn) == url
