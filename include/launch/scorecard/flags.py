"""The beta's feature flags expire by themselves: every quarter hour the flag-expiry DAG turns off
each flag of the beta (``flag``, ``logging_flag``) whose ``expires_at`` has passed, and records which
tenants lost which flag when (seed 000: detailed logging for the first 72 hours, not for the beta).

The target honours ``expires_at`` on its own as well; this task makes the flag table and the ledger
say so, and an auditor sees the moment detailed logging ended.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from include.launch.scorecard.window import scorecard_run
from include.launch.spec.scorecard import ScorecardSpec

EXPIRED = "beta_flags_expired"


def moment(context: Any) -> datetime:
    """The end of the run's interval (a scheduled run checks up to then); now for a manual run."""
    end = context.get("data_interval_end") or context.get("logical_date")
    if end is None:
        return datetime.now(UTC)
    return datetime.fromisoformat(end) if isinstance(end, str) else end


def expire_flags(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    import psycopg

    from include.launch.plugins.changes.beta import target_dsn
    from include.launch.scorecard.pause import beta_params

    run = scorecard_run(spec, context)
    params = beta_params(spec)
    at = moment(context)
    with psycopg.connect(target_dsn(run)) as conn, conn.transaction():
        rows = conn.execute("UPDATE feature_flags SET enabled = false WHERE flag = ANY(%s) AND enabled AND "
                            "expires_at <= %s RETURNING flag, tenant_id, expires_at",
                            ([params.flag, params.logging_flag], at)).fetchall()
    if not rows:
        return {"checked_at": at.isoformat(), "expired": {}}
    expired: dict[str, dict[str, Any]] = {}
    for flag, tenant, expires in sorted(rows):
        entry = expired.setdefault(str(flag), {"tenants": [], "expired_at": expires.isoformat()})
        entry["tenants"].append(int(tenant))
        entry["expired_at"] = max(entry["expired_at"], expires.isoformat())
    run.record(EXPIRED, "successful", {"checked_at": at.isoformat(), "flags": expired})
    run.notify("beta_flags_expired", "; ".join(f"{flag} turned off for {len(e['tenants'])} tenant(s) (expired "
                                               f"{e['expired_at'][:16]})" for flag, e in expired.items()))
    return {"checked_at": at.isoformat(), "expired": expired}
