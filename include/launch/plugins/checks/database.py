"""Database checks through the Postgres provider: health, and capacity for the new pool size."""

from __future__ import annotations

import time
from typing import Any

from include.launch.core.vocabulary import Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.plugins.checks.base import CheckResult
from include.launch.plugins.checks.catalog import DatabaseCapacityParams, IndexUsageParams, NoParams


def _hook(run: PhaseRun) -> Any:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=run.spec.plan.connections.target_db)


def database_health(run: PhaseRun, params: NoParams) -> CheckResult:
    """Answers, is not a read-only replica, and lists who holds connections (pre_change_connections.txt)."""
    hook = _hook(run)
    started = time.perf_counter()
    in_recovery = hook.get_first("SELECT pg_is_in_recovery()")[0]
    latency_ms = (time.perf_counter() - started) * 1000
    rows = hook.get_records(
        "SELECT coalesce(nullif(application_name, ''), backend_type), coalesce(state, ''), count(*) "
        "FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1, 2 ORDER BY 3 DESC"
    )
    lines = [f"{app or '-'}\t{state or '-'}\t{count}" for app, state, count in rows]
    ref = run.evidence.write_text("pre_change_connections.txt",
                                  "application\tstate\tconnections\n" + "\n".join(lines) + "\n")
    measured = {"in_recovery": in_recovery, "query_ms": round(latency_ms, 2),
                "connections": sum(int(r[2]) for r in rows)}
    if in_recovery:
        return CheckResult(Outcome.FAILED, "the target database is in recovery (read-only)", measured, evidence=[ref])
    return CheckResult(Outcome.SUCCESSFUL, f"database answers in {latency_ms:.1f} ms, writable, "
                                           f"{measured['connections']} connection(s)", measured, evidence=[ref])


def database_capacity(run: PhaseRun, params: DatabaseCapacityParams) -> CheckResult:
    """max_connections - superuser reserve - plan reserve - connections held by others >= pool_max x replicas."""
    from include.launch.plugins.target import Target
    from include.launch.spec.effective import change_params

    change = change_params(run.spec, run.params)
    asked = getattr(change, "settings", {}) or {}
    if params.pool_max_setting not in asked:
        return CheckResult(Outcome.FAILED, f"the change sets no {params.pool_max_setting} (pool_max_setting): the "
                                           "connections it needs cannot be counted")
    pool_max = int(asked[params.pool_max_setting])
    replicas = len(Target.from_connection(run.spec.plan.connections.target_api).replicas)
    hook = _hook(run)
    max_connections = int(hook.get_first("SHOW max_connections")[0])
    superuser_reserved = int(hook.get_first("SHOW superuser_reserved_connections")[0])
    held_by_target = _target_pool_sizes(run, params.held_field)
    total_now = int(hook.get_first("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")[0])
    held_by_others = max(total_now - held_by_target, 0)
    available = max_connections - superuser_reserved - params.reserved_connections - held_by_others
    needed = pool_max * replicas
    measured = {"max_connections": max_connections, "superuser_reserved": superuser_reserved,
                "plan_reserved": params.reserved_connections, "held_by_others": held_by_others,
                "available": available, "needed": needed, "pool_max": pool_max, "replicas": replicas}
    if needed > available:
        return CheckResult(Outcome.FAILED, f"pool_max {pool_max} x {replicas} replicas = {needed} connections, but the "
                                           f"database can give {available} (max_connections {max_connections} - "
                                           f"reserved {superuser_reserved + params.reserved_connections} - held by "
                                           f"others {held_by_others})", measured)
    return CheckResult(Outcome.SUCCESSFUL, f"{needed} connections needed, {available} available", measured)


def _target_pool_sizes(run: PhaseRun, held_field: str) -> int:
    """Connections the target's own pools hold now (they are released when its replicas restart)."""
    from include.launch.plugins.checks.health import field, health_profile, read_health
    from include.launch.plugins.target import Target

    if not held_field:
        return 0
    states = read_health(Target.from_connection(run.spec.plan.connections.target_api), health_profile(run))
    return sum(int(field(state, held_field) or 0) for state in states.values())


INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
_LEADING_INDEX = """
SELECT i.relname FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
WHERE n.nspname = current_schema() AND t.relname = %s AND a.attname = %s AND x.indisvalid
ORDER BY i.relname LIMIT 1
"""


def _scan_nodes(plan: dict[str, Any]) -> list[str]:
    nodes = [f"{plan.get('Node Type')} on {plan.get('Relation Name') or plan.get('Index Name') or '?'}"
             + (f" using {plan['Index Name']}" if plan.get("Index Name") else "")]
    for child in plan.get("Plans", []):
        nodes += _scan_nodes(child)
    return nodes


def _explain(hook: Any, query: str, seqscan: bool) -> list[str]:
    import json

    conn = hook.get_conn()
    try:
        with conn.cursor() as cur:
            if not seqscan:
                cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute(f"EXPLAIN (FORMAT JSON) {query}")
            raw = cur.fetchone()[0]
        conn.rollback()
    finally:
        conn.close()
    document = json.loads(raw) if isinstance(raw, str) else raw
    return _scan_nodes(document[0]["Plan"])


def index_usage(run: PhaseRun, params: IndexUsageParams) -> CheckResult:
    """Each table.column leads a valid index; EXPLAIN of each hot query uses an index scan.

    On a small table the planner rightly prefers a sequential scan, so a query whose plain plan
    does not use an index is explained again with ``enable_seqscan = off``: an index scan then
    proves the index is usable for it, and both plans go into the evidence.
    """
    hook = _hook(run)
    indexes: dict[str, str | None] = {}
    for item in params.indexes:
        table, _, column = item.partition(".")
        row = hook.get_first(_LEADING_INDEX, parameters=(table, column))
        indexes[item] = row[0] if row else None
    missing = [item for item, name in indexes.items() if name is None]
    plans: list[dict[str, Any]] = []
    unused = []
    for query in params.queries:
        plain = _explain(hook, query, seqscan=True)
        entry: dict[str, Any] = {"query": query, "plan": plain}
        if not any(node.startswith(INDEX_SCANS) for node in plain):
            forced = _explain(hook, query, seqscan=False)
            entry["plan_without_seqscan"] = forced
            entry["note"] = "the planner prefers a sequential scan at this table size; index checked usable"
            if not any(node.startswith(INDEX_SCANS) for node in forced):
                unused.append(query)
        entry["index_scan"] = query not in unused
        plans.append(entry)
    measured = {"indexes": indexes, "explain": plans}
    evidence = [run.evidence.write_json("performance_gates.json", measured, replace=True)]
    problems = [f"no index on {', '.join(missing)}"] if missing else []
    problems += [f"EXPLAIN shows no index scan for: {query}" for query in unused]
    if problems:
        return CheckResult(Outcome.FAILED, "; ".join(problems), measured, evidence=evidence)
    scans = "; ".join(next((n for n in p.get("plan_without_seqscan", p["plan"]) if n.startswith(INDEX_SCANS)), "")
                      for p in plans)
    return CheckResult(Outcome.SUCCESSFUL, f"{len(indexes)} indexes present; EXPLAIN: {scans}", measured,
                       evidence=evidence)
