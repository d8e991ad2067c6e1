"""The one runner behind every quality gate (phase pre-checks, verification, the daily beta DAG).

``run_suite`` runs a suite against the plan's target_db, writes the GX result JSON and the Data
Docs HTML into the phase's evidence folder, appends a ``quality_suite`` ledger row and returns a
CheckResult: FAILED (bad data) lists each failed expectation with its count and first ids; ERROR
(a broken check: GX exception_info) is kept apart from bad data. great_expectations is imported
only inside ``evaluate``, so DAG files that import this module stay fast.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from include.launch.core.errors import ConfigurationError
from include.launch.core.vocabulary import Outcome
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.quality.checks import Check, Snapshot, Suite, suite_checks
from include.launch.plugins.quality.model import DataModel, split_ref

if TYPE_CHECKING:
    from include.launch.evidence.runtime import PhaseRun

SHOWN_IDS = 5
LEDGER_EVENT = "quality_suite"


@dataclass(frozen=True)
class Finding:
    """One expectation that did not pass: failed (count, first ids) or broken (the exception)."""

    check: str
    description: str
    count: int = 0
    ids: list[Any] = field(default_factory=list)
    error: str = ""

    @property
    def broken(self) -> bool:
        return bool(self.error)

    def line(self) -> str:
        if self.broken:
            return f"{self.check}: BROKEN CHECK ({self.error})"
        more = ", ..." if self.count > len(self.ids) else ""
        return f"{self.check}: {self.count} violation(s), ids {', '.join(map(str, self.ids))}{more}"


@dataclass(frozen=True)
class SuiteReport:
    """What one suite run found, plus GX's own result document and its HTML rendering."""

    suite: str
    checks: int
    findings: list[Finding]
    result_json: dict[str, Any]
    html: str
    seconds: float

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if not f.broken]

    @property
    def broken(self) -> list[Finding]:
        return [f for f in self.findings if f.broken]

    @property
    def outcome(self) -> Outcome:
        """Bad data wins over a broken check: a found violation is a fact whatever else broke."""
        if self.failed:
            return Outcome.FAILED
        if self.broken:
            return Outcome.ERROR
        return Outcome.SUCCESSFUL

    def summary(self) -> str:
        if self.outcome is Outcome.SUCCESSFUL:
            return f"{self.suite}: all {self.checks} expectations passed"
        return f"{self.suite}: " + "; ".join(f.line() for f in self.findings)


def sqlalchemy_url(dsn: str) -> str:
    """A psycopg3 SQLAlchemy URL for a libpq conninfo or URL; unix-socket hosts go in ``?host=``."""
    params = conninfo_to_dict(dsn)
    user = quote(str(params.get("user", "")), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = str(params.get("host", ""))
    port = params.get("port")
    dbname = quote(str(params.get("dbname", "postgres")), safe="")
    if host.startswith("/"):
        query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgresql+psycopg://{auth}/{dbname}{query}"
    netloc = f"{host or 'localhost'}" + (f":{port}" if port else "")
    return f"postgresql+psycopg://{auth}{netloc}/{dbname}"


def row_snapshot(dsn: str, model: DataModel) -> Snapshot:
    """Each counted table's row count and highest key, read in one snapshot (what compare_counts
    checks against after the change)."""
    tables = model.counted_tables()
    if not tables:
        return {}
    query = " UNION ALL ".join(f"SELECT '{t}', count(*), COALESCE(max({model.key(t)}), 0) FROM {t}" for t in tables)
    with psycopg.connect(dsn) as conn:
        return {str(name): {"rows": int(count), "up_to": int(top)}
                for name, count, top in conn.execute(query).fetchall()}  # type: ignore[arg-type]


def _exception_message(info: dict[str, Any]) -> str:
    """GX puts exception_info either flat or keyed by metric id; the first raised message, one line."""
    candidates = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "exception").strip().splitlines()[0][:300]
    return ""


def _findings(result: dict[str, Any], checks: list[Check]) -> list[Finding]:
    described = {c.name: c.description for c in checks}
    findings = []
    for item in result.get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config") or {}
        name = str((config.get("meta") or {}).get("check", config.get("type", "?")))
        error = _exception_message(item.get("exception_info") or {})
        if error:
            findings.append(Finding(name, described.get(name, ""), error=error))
            continue
        found = item.get("result") or {}
        rows = (found.get("details") or {}).get("unexpected_rows") or []
        ids = [row.get("id") for row in rows[:SHOWN_IDS]]
        findings.append(Finding(name, described.get(name, ""), int(found.get("observed_value") or 0), ids))
    return findings


def evaluate(dsn: str, model: DataModel, suite: Suite, before: Snapshot | None = None,
             *, checks: list[Check] | None = None) -> SuiteReport:
    """Run one suite with GX and interpret the result; no evidence, no ledger (see run_suite)."""
    from include.launch.plugins.quality import gx_suite

    started = time.perf_counter()
    checks = checks if checks is not None else suite_checks(model, suite, before)
    result = gx_suite.validate(sqlalchemy_url(dsn), split_ref(model.tenants)[0], suite, checks)
    document = result.to_json_dict()
    html = gx_suite.render_html(result)
    return SuiteReport(suite, len(checks), _findings(document, checks), document, html,
                       time.perf_counter() - started)


def target_dsn(run: PhaseRun) -> str:
    from include.launch.core.connections import postgres_conninfo

    return postgres_conninfo(run.spec.plan.connections.target_db)


def run_suite(run: PhaseRun, suite: Suite, *, before: Snapshot | None = None,
              checks: list[Check] | None = None) -> CheckResult:
    """Run, write result JSON + HTML evidence, record the ledger row, return the CheckResult."""
    model = run.spec.plan.data_model
    if model is None:
        raise ConfigurationError(f"plan {run.spec.launch_id!r} has no data_model: quality suites need one")
    dsn = target_dsn(run)
    snapshot = row_snapshot(dsn, model) if suite == "integrity" else {}
    report = evaluate(dsn, model, suite, before, checks=checks)
    stem = f"quality/{run.task_id or 'suite'}-{suite}-{int(time.time() * 1000)}"
    evidence = [
        run.evidence.write_json(f"{stem}.json", report.result_json),
        run.evidence.write_text(f"{stem}.html", report.html),
    ]
    measured: dict[str, Any] = {
        "suite": suite, "expectations": report.checks, "failed": len(report.failed), "broken": len(report.broken),
        "seconds": round(report.seconds, 3), "row_snapshot": snapshot,
        "compare_counts": before is not None,
        "findings": [{"check": f.check, "count": f.count, "ids": f.ids, "error": f.error} for f in report.findings],
    }
    if before is not None:
        measured["snapshot_before"] = before
    run.record(LEDGER_EVENT, report.outcome.value, measured, evidence)
    return CheckResult(report.outcome, report.summary(), measured, [], evidence)


def dump(report: SuiteReport) -> str:
    """The GX result as pretty JSON (for the CLI and debugging)."""
    return json.dumps(report.result_json, indent=2, default=str)
