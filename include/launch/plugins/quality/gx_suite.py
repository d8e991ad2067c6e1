"""The GX side: one custom expectation that runs its query once, suites built in code, HTML docs.

GX's UnexpectedRowsExpectation runs every query twice (a COUNT, then a fetch of up to 200 rows).
``NoViolationsExpectation`` keeps its SQL field and renderers but depends on one metric that
wraps the query as ``SELECT count(*) OVER (), v.* FROM (query) v LIMIT n``: one execution gives
the total count and the first offending ids. A broken query raises inside the metric, and GX
reports it as ``exception_info`` on that expectation, never as a data failure.

Import this module only inside a task: importing great_expectations takes seconds.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, ClassVar

import great_expectations as gx
from great_expectations.compatibility import pydantic
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metric_provider import QueryMetricProvider

from include.launch.plugins.quality.checks import Check

SAMPLE_ROWS = 20
COUNT_COLUMN = "violations_total"


class ViolationsOnce(QueryMetricProvider):
    """Total violations and the first SAMPLE_ROWS rows, from a single execution of the query."""

    metric_name = "launch_violations.once"
    value_keys = ("unexpected_rows_query",)
    query_param_name: ClassVar[str] = "unexpected_rows_query"

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(  # type: ignore[no-untyped-def]
        cls,  # noqa: N805 - GX's metric_value decorator makes this a classmethod
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> dict[str, Any]:
        query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
        wrapped = f"SELECT count(*) OVER () AS {COUNT_COLUMN}, v.* FROM ({query}) AS v LIMIT {SAMPLE_ROWS}"
        rows = execution_engine.execute_query(sa.text(wrapped)).mappings().fetchall()
        total = int(rows[0][COUNT_COLUMN]) if rows else 0
        sample = [{k: _plain(v) for k, v in row.items() if k != COUNT_COLUMN} for row in rows]
        return {"count": total, "rows": sample}


def _plain(value: Any) -> Any:
    """JSON-safe scalars (numeric comes back as Decimal)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class NoViolationsExpectation(UnexpectedRowsExpectation):
    """Fails when its query returns any row; observed_value is the count, details hold the first ids."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("launch_violations.once",)

    @pydantic.validator("unexpected_rows_query")
    def _validate_query(cls, query: Any) -> Any:  # noqa: N805 - pydantic validator
        """Our queries name their tables directly: no ``{batch}`` warning, no brace formatting."""
        return query.rstrip("; \t\r\n\v\f") if isinstance(query, str) else query

    def _validate(  # type: ignore[override]
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        found = metrics["launch_violations.once"]
        return {
            "success": found["count"] == 0,
            "result": {"observed_value": found["count"], "details": {"unexpected_rows": found["rows"]}},
        }


def build_suite(name: str, checks: list[Check]) -> gx.ExpectationSuite:
    """An ExpectationSuite with one NoViolationsExpectation per check (meta.check names it)."""
    suite = gx.ExpectationSuite(name=name)
    for check in checks:
        suite.add_expectation(NoViolationsExpectation(
            unexpected_rows_query=check.query,
            description=f"{check.name}: {check.description}",
            meta={"check": check.name},
        ))
    return suite


def validate(sqlalchemy_url: str, anchor_table: str, suite_name: str,
             checks: list[Check]) -> ExpectationSuiteValidationResult:
    """Run the suite against the database in an ephemeral context; one batch (the anchor table)."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # add_sql, not add_postgres: the latter rejects unix-socket URLs (no host in the netloc).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "a more specific PostgresDatasource may be more appropriate"
        source = context.data_sources.add_sql(name="target", connection_string=sqlalchemy_url)
    asset = source.add_table_asset(name=anchor_table, table_name=anchor_table)
    batch = asset.add_batch_definition_whole_table("whole_table").get_batch()
    suite = context.suites.add(build_suite(suite_name, checks))
    return batch.validate(suite, result_format="COMPLETE")


def render_html(result: ExpectationSuiteValidationResult) -> str:
    """The Data Docs validation page for this result, rendered by GX's own renderer and view."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    document = ValidationResultsPageRenderer().render(result)
    return str(DefaultJinjaPageView().render(document))
