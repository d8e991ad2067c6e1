"""The data model a plan gives the quality gates: which tables and relations to check.

The suites are generated from this model, so a second product (Launch B) gets the same gates by
describing its own schema in its plan, never by editing GX JSON. Names are SQL identifiers and are
validated here, because they are interpolated into the generated queries.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT = r"^[a-z_][a-z0-9_]*$"
COLUMN_REF = r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def split_ref(ref: str) -> tuple[str, str]:
    """``table.column`` -> (table, column)."""
    table, column = ref.split(".", 1)
    return table, column


class Relation(_Model):
    """child -> parent along a foreign key (``table.column`` each).

    orphans: the integrity suite reports child rows whose non-NULL value has no parent row.
    tenant_match: the isolation suite reports child rows whose tenant differs from the parent's
    (only when both tables are tenant-owned).
    """

    child: str = Field(pattern=COLUMN_REF)
    parent: str = Field(pattern=COLUMN_REF)
    orphans: bool = True
    tenant_match: bool = True


class Ledger(_Model):
    """Double-entry ledger: every entry's line debits equal its credits.

    entries: table of entries (key ``id``); lines: table of lines; entry_column: the lines' link to
    the entry; debit / credit: the money columns of a line.
    """

    entries: str = Field(pattern=IDENT)
    lines: str = Field(pattern=IDENT)
    entry_column: str = Field(default="entry_id", pattern=IDENT)
    debit: str = Field(default="debit", pattern=IDENT)
    credit: str = Field(default="credit", pattern=IDENT)


class TotalRule(_Model):
    """A stored total equals the sum of its lines (an invoice total vs its lines' amounts).

    total: ``table.column`` holding the total; sum_of: ``table.column`` of the line amounts;
    via: ``table.column`` of the lines pointing at the total's key. A parent with no lines must
    have a total of 0.
    """

    total: str = Field(pattern=COLUMN_REF)
    sum_of: str = Field(pattern=COLUMN_REF)
    via: str = Field(pattern=COLUMN_REF)


class AmountRange(_Model):
    """column (``table.column``) must lie in [min, max]; NULL is out of range."""

    column: str = Field(pattern=COLUMN_REF)
    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> AmountRange:
        if self.min > self.max:
            raise ValueError(f"{self.column}: min {self.min} > max {self.max}")
        return self


class DataModel(_Model):
    """Which tables and relations the integrity and tenant-isolation suites check.

    tenants: ``table.column`` of the tenant registry (its key is the tenant id).
    tenant_tables: tenant-owned table -> its tenant column; none may hold a NULL tenant.
    keys: table -> the column reported as the offending id (default ``id``); ids only, never data.
    unique_ids: ``table.column`` values that must be unique (tables without a primary key first).
    relations: foreign keys checked for orphans and for matching tenants.
    ledger: the double-entry ledger, if the product has one (balanced entries, trial balance).
    totals: stored totals that must equal the sum of their lines.
    amount_ranges: money/quantity columns with their allowed range.
    ledger_tables: tables whose rows must all survive a change (compare_counts): every row at or
        below the snapshot's highest key is still there afterwards; users may add rows meanwhile.
    unchanged_tables: tables whose row count must be exactly the snapshot's (nothing writes them).
    """

    tenants: str = Field(default="tenants.id", pattern=COLUMN_REF)
    tenant_tables: dict[str, str] = Field(min_length=1)
    keys: dict[str, str] = Field(default_factory=dict)
    unique_ids: list[str] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    ledger: Ledger | None = None
    totals: list[TotalRule] = Field(default_factory=list)
    amount_ranges: list[AmountRange] = Field(default_factory=list)
    ledger_tables: list[str] = Field(default_factory=list)
    unchanged_tables: list[str] = Field(default_factory=list)

    @field_validator("tenant_tables", "keys")
    @classmethod
    def _identifiers(cls, value: dict[str, str]) -> dict[str, str]:
        for table, column in value.items():
            for name in (table, column):
                if not re.match(IDENT, name):
                    raise ValueError(f"{name!r} is not a plain SQL identifier")
        return value

    @field_validator("unique_ids")
    @classmethod
    def _column_refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not re.match(COLUMN_REF, ref):
                raise ValueError(f"{ref!r} is not table.column")
        return value

    @field_validator("ledger_tables", "unchanged_tables")
    @classmethod
    def _tables(cls, value: list[str]) -> list[str]:
        for table in value:
            if not re.match(IDENT, table):
                raise ValueError(f"{table!r} is not a plain SQL identifier")
        return value

    @model_validator(mode="after")
    def _counted_once(self) -> DataModel:
        both = sorted(set(self.ledger_tables) & set(self.unchanged_tables))
        if both:
            raise ValueError(f"{both} are in both ledger_tables and unchanged_tables: a table's rows are either "
                             "kept (others may be added) or unchanged, not both")
        return self

    def counted_tables(self) -> list[str]:
        """The tables a compare_counts snapshot records."""
        return [*self.ledger_tables, *self.unchanged_tables]

    def key(self, table: str) -> str:
        """The column that identifies a row of ``table`` in reports."""
        return self.keys.get(table, "id")

    def tenant_column(self, table: str) -> str | None:
        """The tenant column of a tenant-owned table; the key of the tenants table; else None."""
        tenants_table, tenants_key = split_ref(self.tenants)
        if table == tenants_table:
            return tenants_key
        return self.tenant_tables.get(table)
