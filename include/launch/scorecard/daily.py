"""Task bodies of a daily scorecard DAG (see include.launch.scorecard.dag). Each takes the ScorecardSpec
and Airflow's context; the collectors return {date: ...} for every day being scored (the logical
date, plus earlier days of the window that were missed), ``score`` writes the evidence.

Evidence that a ledger row references is written twice: the canonical file (replaced by a re-run:
``daily_metrics_[DATE].json``) and an immutable copy under ``history/`` that the row hashes, so a
re-run replaces the day's evidence and ``python -m include.launch.ledger verify`` stays clean.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from airflow.sdk.exceptions import AirflowSkipException

from include.launch.beta import charts, reports, scoring
from include.launch.beta.product import product_metrics
from include.launch.beta.survey import parse_survey, quotes, summarise
from include.launch.core.vocabulary import Metric, Outcome
from include.launch.evidence.runtime import PhaseRun
from include.launch.evidence.store import EvidenceRef, sha256_of
from include.launch.plan.daily_metrics import (
    ALWAYS_COLLECTED,
    PLATFORM_METRICS,
    PRODUCT_METRICS,
    QUALITY_METRIC,
    SURVEY_METRICS,
)
from include.launch.plugins.metrics.sample import Sample
from include.launch.scorecard.window import Window, find_window, logical_day, scorecard_run
from include.launch.spec.scorecard import DAY_EVENT, WINDOW_OPENED, ScorecardSpec

log = logging.getLogger(__name__)

SURVEY_DAYS = (7, 14)
INBOX = "inbox"
TICKETS_PER_WEEK_P1 = 20
INCIDENT_TITLES = {"integrity": "Data integrity check failed", "tenant_isolation": "Tenant isolation violated"}


def daily_name(day: date) -> str:
    return f"daily_metrics_{day.isoformat()}.json"


def window(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    """Skip unless the window is open on the logical date; list the days to score (missed ones first)."""
    run = scorecard_run(spec, context)
    today = logical_day(context)
    found = find_window(run.ledger, spec)
    phase = spec.scorecard.phase
    if found is None:
        raise AirflowSkipException(f"no active window: phase {phase!r} has not started one "
                                   f"({' / '.join(WINDOW_OPENED)} not in the ledger); nothing to score on {today}")
    number = found.day_number(today)
    if number < 1:
        raise AirflowSkipException(f"{today} is before the window of {phase!r} (starts {found.first_day})")
    if number > found.days:
        raise AirflowSkipException(f"{today} is after the {found.days}-day window of {phase!r} "
                                   f"({found.first_day} to {found.date_of(found.days)}); nothing to score")
    if found.closed_at is not None and today >= found.closed_at.date():
        raise AirflowSkipException(f"the window of {phase!r} was closed on {found.closed_at:%Y-%m-%d} "
                                   f"({found.closed_by}); nothing to score on {today}")
    missed = [n for n in range(1, number) if not run.evidence.exists(daily_name(found.date_of(n)))]
    days = [{"day": n, "date": found.date_of(n).isoformat(), "today": n == number} for n in [*missed, number]]
    if missed:
        log.info("catching up missed day(s) %s", missed)
    return {"day": number, "date": today.isoformat(), "days": days, "window": found.as_dict()}


def _window_info(context: Any) -> dict[str, Any]:
    info = context["ti"].xcom_pull(task_ids="beta_window")
    if not info:
        raise AirflowSkipException("no window information")
    return dict(info)


def _metrics_named(spec: ScorecardSpec) -> set[str]:
    """The scorecard's own metrics and every metric the review of it reads (its scaling decisions)."""
    from include.launch.plan.review_rules import judged_metrics

    own = {c.metric.value for c in [*spec.scorecard.criteria, *spec.scorecard.weekly_criteria]}
    return own | judged_metrics(spec.plan, spec.scorecard.id)


def _day_start(iso: str) -> datetime:
    return datetime.combine(date.fromisoformat(iso), datetime.min.time(), tzinfo=UTC)


# --- platform metrics ---------------------------------------------------------------------------

def prometheus_url(run: PhaseRun) -> str | None:
    """The Prometheus base URL when the plan names a connection that Airflow knows, else None."""
    from include.launch.core.connections import optional_http_url

    return optional_http_url(run.spec.plan.connections.prometheus, 9090)


def from_prometheus(base: str, job: str, metrics: set[str], day_start: datetime,
                    templates: Mapping[Metric, str]) -> dict[str, Any]:
    """Each metric over the day (up to now for today), evaluated at the end of the interval."""
    from include.monitoring import promql
    from include.monitoring.client import first_value

    end = min(datetime.now(UTC), day_start + timedelta(days=1))
    seconds = max(int((end - day_start).total_seconds()), 60)
    values: dict[str, float | None] = {}
    for name in sorted(metrics):
        expression = promql.expression(templates, Metric(name), job, f"{seconds}s")
        if expression is None:
            values[name] = None
            continue
        response = requests.get(f"{base}/api/v1/query", params={"query": expression, "time": str(end.timestamp())},
                                timeout=10)
        response.raise_for_status()
        values[name] = first_value(response.json()["data"]["result"])
    return {"source": "prometheus", "values": values, "window_seconds": seconds}


def from_target(run: PhaseRun, metrics: set[str], previous_raw: dict[str, Any] | None) -> dict[str, Any]:
    """Error rate and p95 from the replicas' metrics since the previous day's scrape; uptime from their health."""
    from include.launch.plugins.checks.health import health_profile, is_healthy
    from include.launch.plugins.metrics import target as target_source
    from include.launch.plugins.target import Target

    target = Target.from_connection(run.spec.plan.connections.target_api)
    profile = health_profile(run)
    healthy = 0
    for url in target.replicas:
        try:
            response = requests.get(f"{url}{profile.path}", timeout=target.timeout)
            healthy += int(is_healthy({**response.json(), "http_status": response.status_code}, profile))
        except (requests.RequestException, ValueError, TypeError):
            pass
    scraped = target_source.metrics_profile(run)
    current = target_source.scrape(target.replicas, scraped, timeout=target.timeout)
    previous = Sample(0.0, target_source.SOURCE, raw=previous_raw) if previous_raw else None
    derived = target_source.derive(previous, current, scraped)
    values: dict[str, float | None] = {name: derived.values.get(name) for name in metrics if name != "uptime_percent"}
    if "uptime_percent" in metrics:
        values["uptime_percent"] = 100.0 * healthy / len(target.replicas) if target.replicas else None
    return {"source": "target", "values": values, "raw": current.raw, "error": current.error,
            "requests": derived.values.get("requests_in_interval"), "replicas_healthy": healthy,
            "replicas": len(target.replicas)}


def platform_metrics(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    run = scorecard_run(spec, context)
    info = _window_info(context)
    wanted = (_metrics_named(spec) & PLATFORM_METRICS) | ALWAYS_COLLECTED
    base = prometheus_url(run)
    out: dict[str, Any] = {}
    for entry in info["days"]:
        start = _day_start(entry["date"])
        if not wanted:
            out[entry["date"]] = {"source": "none", "values": {}}
        elif base is not None:
            out[entry["date"]] = from_prometheus(base, spec.launch_id, wanted, start, run.spec.plan.promql())
        elif entry["today"]:
            previous = _read_doc(run, start.date() - timedelta(days=1))
            raw = ((previous or {}).get("platform") or {}).get("raw")
            out[entry["date"]] = from_target(run, wanted, raw)
        else:
            out[entry["date"]] = {"source": "target (no history for a missed day)",
                                  "values": dict.fromkeys(wanted)}
    return out


# --- product metrics ----------------------------------------------------------------------------

def cohort_tenants(conn: Any, found: Window) -> list[int]:
    if found.tenants:
        return list(found.tenants)
    return [int(r[0]) for r in conn.execute("SELECT tenant_id FROM beta_cohort ORDER BY tenant_id").fetchall()]


def product_metrics_task(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    import psycopg

    from include.launch.core.connections import postgres_conninfo

    info = _window_info(context)
    if not (_metrics_named(spec) & PRODUCT_METRICS) and "support_tickets_per_user_month" not in _metrics_named(spec):
        return {entry["date"]: {} for entry in info["days"]}
    found = Window.from_dict(info["window"])
    window_start = _day_start(found.first_day.isoformat())
    out = {}
    with psycopg.connect(postgres_conninfo(spec.plan.connections.target_db)) as conn:
        tenants = cohort_tenants(conn, found)
        for entry in info["days"]:
            out[entry["date"]] = product_metrics(conn, tenants, window_start, _day_start(entry["date"]), entry["day"])
    return out


# --- surveys ------------------------------------------------------------------------------------

def publish(run: PhaseRun, name: str, text: str) -> tuple[EvidenceRef, str]:
    """Write the canonical file (replaced by a re-run) and an immutable copy under history/ that the
    ledger hashes; returns (the copy's ref, the canonical file's sha256)."""
    canonical = run.evidence.write_text(name, text, replace=True)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    copy = run.evidence.write_text(f"history/{stamp}_{name.replace('/', '_')}", text)
    return copy, canonical.sha256


def _cohort_users(spec: ScorecardSpec, found: Window) -> dict[int, int] | None:
    import psycopg

    from include.launch.beta.product import cohort_users
    from include.launch.core.connections import postgres_conninfo

    with psycopg.connect(postgres_conninfo(spec.plan.connections.target_db)) as conn:
        tenants = cohort_tenants(conn, found)
        return cohort_users(conn, tenants) if tenants else None


def import_survey(run: PhaseRun, spec: ScorecardSpec, survey_day: int, found: Window,
                  scored_date: str) -> dict[str, Any]:
    """Import the inbox's day-N CSV when it is new or changed; a bad file is rejected whole."""
    inbox_name = f"{INBOX}/survey_day{survey_day}.csv"
    results_name = f"survey_results_day{survey_day}.json"
    existing = json.loads(run.evidence.read_bytes(results_name)) if run.evidence.exists(results_name) else None
    if not run.evidence.exists(inbox_name):
        return {"status": "imported" if existing else "missing", "file": inbox_name,
                **({"summary": existing["summary"], "respondents": existing["summary"]["respondents"]}
                   if existing else {})}
    data = run.evidence.read_bytes(inbox_name)
    digest = sha256_of(data)
    if existing and existing.get("source_sha256") == digest:
        return {"status": "imported", "file": inbox_name, "summary": existing["summary"],
                "respondents": existing["summary"]["respondents"], "imported_on": existing.get("imported_on")}
    parsed = parse_survey(data, survey_day, _cohort_users(spec, found))
    if not parsed.accepted:
        document = {"survey_day": survey_day, "file": inbox_name, "source_sha256": digest, "rejected": True,
                    "errors": parsed.errors, "checked_at": datetime.now(UTC).isoformat(),
                    "note": "the whole file was rejected; nothing was imported"}
        ref, _ = publish(run, f"survey_rejected_day{survey_day}.json", json.dumps(document, indent=2) + "\n")
        run.record("survey_rejected", Outcome.FAILED.value, {"scorecard": spec.scorecard.id, "survey_day": survey_day,
                                                             "file": inbox_name, "errors": parsed.errors[:50],
                                                             "error_count": len(parsed.errors)}, [ref])
        run.notify("failed", f"Day-{survey_day} survey CSV rejected ({len(parsed.errors)} bad row(s)); nothing "
                             f"imported. First: {parsed.errors[0]}", severity="P2")
        result: dict[str, Any] = {"status": "rejected", "file": inbox_name, "errors": parsed.errors}
        if existing:
            result.update(summary=existing["summary"], respondents=existing["summary"]["respondents"],
                          kept="the previously imported file")
        return result
    summary = summarise(parsed.answers)
    document = {"survey_day": survey_day, "file": inbox_name, "source_sha256": digest, "imported_on": scored_date,
                "imported_at": datetime.now(UTC).isoformat(), "summary": summary, "quotes": quotes(parsed.answers)}
    ref, sha = publish(run, results_name, json.dumps(document, indent=2, sort_keys=True) + "\n")
    run.record("survey_imported", Outcome.SUCCESSFUL.value, {"scorecard": spec.scorecard.id, "survey_day": survey_day,
                                                             "file": inbox_name, "respondents": summary["respondents"],
                                                             "canonical_sha256": sha}, [ref])
    return {"status": "imported", "file": inbox_name, "summary": summary, "respondents": summary["respondents"],
            "imported_on": scored_date}


def surveys(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    run = scorecard_run(spec, context)
    info = _window_info(context)
    found = Window.from_dict(info["window"])
    if not (_metrics_named(spec) & SURVEY_METRICS):
        return {}
    last_day = max(entry["day"] for entry in info["days"])
    return {str(day): import_survey(run, spec, day, found, info["date"])
            for day in SURVEY_DAYS if day <= min(last_day, found.days)}


# --- quality ------------------------------------------------------------------------------------

def _open_titles(run: PhaseRun) -> dict[str, str]:
    from include.launch.evidence.incident_log import open_incidents

    return {i.title: i.incident_id for i in open_incidents(run.ledger.rows(launch_id=run.spec.launch_id))}


def open_once(run: PhaseRun, severity: str, title: str, summary: str, data_integrity: str = "OK",
              tenants: list[str] | None = None) -> dict[str, Any]:
    """Open an incident unless one with this title is still open (a re-run or the next day);
    ``tenants``: the tenants it touches (the report's users affected)."""
    from include.launch.evidence.incidents import open_incident

    existing = _open_titles(run).get(title)
    if existing:
        return {"incident_id": existing, "severity": severity, "title": title, "state": "still open"}
    ref = open_incident(run, severity=severity, title=title, summary=summary, data_integrity=data_integrity,
                        tenants=tenants)
    ident = ref.path.rsplit("/", 1)[-1].removesuffix(".md")
    return {"incident_id": ident, "severity": severity, "title": title, "state": "opened"}


def quality_suites(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    """Integrity and tenant isolation on today's data; any violation is a P0 (report, ledger, Slack)."""
    run = scorecard_run(spec, context)
    info = _window_info(context)
    if spec.plan.data_model is None:
        return {"values": {}, "suites": {}, "incidents": []}
    from include.launch.plugins.quality.runner import run_suite

    suites: dict[str, Any] = {}
    incidents = []
    issues: float | None = 0.0
    for suite in ("integrity", "tenant_isolation"):
        result = run_suite(run, suite)  # type: ignore[arg-type]
        suites[suite] = {"outcome": result.outcome.value, "summary": result.summary,
                         "failed": result.measured.get("failed"), "broken": result.measured.get("broken")}
        if result.outcome is Outcome.FAILED:
            count = sum(int(f.get("count") or 0) for f in result.measured.get("findings", []) if not f.get("error"))
            issues = None if issues is None else issues + max(count, 1)
            incidents.append(open_once(run, "P0", f"{INCIDENT_TITLES[suite]} [{spec.scorecard.id}]",
                                       f"day {info['day']} ({info['date']}): {result.summary}",
                                       data_integrity=f"VIOLATED ({suite})",
                                       tenants=[str(t) for t in info["window"].get("tenants") or []]))
        elif result.outcome is not Outcome.SUCCESSFUL:
            issues = None
    paused = None
    if incidents:  # seed 001: any integrity issue means an immediate pause
        from include.launch.scorecard.pause import pause_for_incidents

        paused = pause_for_incidents(run, spec, Window.from_dict(info["window"]), str(info["date"]), incidents)
    return {"values": {QUALITY_METRIC: issues}, "suites": suites, "incidents": incidents, "paused": paused}


# --- scoring and evidence -----------------------------------------------------------------------

def _read_doc(run: PhaseRun, day: date) -> dict[str, Any] | None:
    name = daily_name(day)
    return json.loads(run.evidence.read_bytes(name)) if run.evidence.exists(name) else None


def _history(run: PhaseRun, found: Window, before_day: int) -> list[dict[str, Any]]:
    docs = [_read_doc(run, found.date_of(n)) for n in range(1, before_day)]
    return [doc for doc in docs if doc]


def _survey_values(survey_docs: dict[str, Any], day: int) -> tuple[dict[str, float | None], frozenset[str]]:
    """The latest imported survey due by ``day``; before the first survey the metrics are not due."""
    due = [int(d) for d in survey_docs if int(d) <= day and survey_docs[d].get("summary")]
    if not due:
        not_due = SURVEY_METRICS if day < SURVEY_DAYS[0] else frozenset()
        return {}, frozenset(not_due)
    summary = survey_docs[str(max(due))]["summary"]
    values = {name: summary.get(name) for name in SURVEY_METRICS}
    values["survey_trust_forecasts_percent"] = summary.get("trust_forecasts_percent")
    values["survey_respondents_count"] = float(summary["respondents"])
    return values, frozenset()


def _sources(values: dict[str, Any], platform_source: str) -> dict[str, str]:
    sources = {}
    for name in values:
        if name in PLATFORM_METRICS:
            sources[name] = platform_source
        elif name in SURVEY_METRICS:
            sources[name] = "survey"
        elif name == QUALITY_METRIC:
            sources[name] = "quality suites"
        else:
            sources[name] = "target database"
    return sources


def _charts(run: PhaseRun, spec: ScorecardSpec, doc: dict[str, Any], history: list[dict[str, Any]],
            days: int) -> tuple[dict[str, str], dict[str, str]]:
    paths, shas = {}, {}
    for row in doc["criteria"] + doc.get("weekly_criteria", []):
        metric = row["metric"]
        points = scoring.series(history, doc, metric)
        verdicts = {int(d["day"]): r["status"] != scoring.FAIL for d in [*history, doc]
                    for r in d.get("criteria", []) + d.get("weekly_criteria", []) if r["metric"] == metric}
        svg = charts.line_chart(f"{row['description']} (day {doc['day']})", points, days, row["threshold"], verdicts)
        name = f"charts/{doc['date']}/{metric}.svg"
        shas[name] = run.evidence.write_text(name, svg, replace=True).sha256
        paths[metric] = name
    return paths, shas


def _previous_row_seq(run: PhaseRun, spec: ScorecardSpec, day_iso: str) -> int | None:
    from include.launch.scorecard.outcomes import daily_outcomes

    row = daily_outcomes(run.ledger, spec.launch_id, spec.scorecard.id).get(day_iso)
    return row.seq if row else None


def _tickets_rule(run: PhaseRun, spec: ScorecardSpec, doc: dict[str, Any]) -> dict[str, Any] | None:
    tickets = doc["metrics"].get("support_tickets_week_count")
    if tickets is None or tickets <= TICKETS_PER_WEEK_P1:
        return None
    week = (int(doc["day"]) - 1) // 7 + 1
    return open_once(run, "P1", f"More than {TICKETS_PER_WEEK_P1} support tickets in beta week {week} "
                                f"[{spec.scorecard.id}]",
                     f"{tickets:g} support tickets in the 7 days to {doc['date']}: pause new users, investigate "
                     "within 15 minutes, fix or roll back")


def score_day(run: PhaseRun, spec: ScorecardSpec, entry: dict[str, Any], found: Window, collected: dict[str, Any],
              history: list[dict[str, Any]]) -> dict[str, Any]:
    card = spec.scorecard
    day, day_iso = int(entry["day"]), str(entry["date"])
    platform = collected["platform"].get(day_iso) or {"source": "none", "values": {}}
    values: dict[str, Any] = {**(platform.get("values") or {}), **(collected["product"].get(day_iso) or {})}
    survey_values, not_due = _survey_values(collected["surveys"], day)
    values.update(survey_values)
    quality: dict[str, Any] = collected["quality"] if entry["today"] else {
        "values": {QUALITY_METRIC: None}, "suites": {}, "incidents": []}
    values.update(quality.get("values") or {})
    sources = _sources(values, str(platform.get("source")))
    doc: dict[str, Any] = {
        "scorecard": card.id, "launch": spec.launch_id, "title": spec.title, "date": day_iso, "day": day,
        "days": found.days, "week": (day - 1) // 7 + 1, "run_id": run.run_id, "window": found.as_dict(),
        "generated_at": datetime.now(UTC).isoformat(),
        "criteria": scoring.score(list(card.criteria), values, history, not_due, sources),
        "metrics": {k: v for k, v in sorted(values.items())},
        "platform": {k: v for k, v in platform.items() if k != "values"},
        "surveys": {d: {k: v for k, v in s.items() if k != "summary"} for d, s in collected["surveys"].items()
                    if int(d) <= day},
        "quality": quality.get("suites", {}),
        "incidents": list(quality.get("incidents", [])),
        "caught_up": not entry["today"],
    }
    week_closes = day % 7 == 0 or day == found.days
    if card.weekly_criteria and week_closes:
        doc["weekly_criteria"] = scoring.score(list(card.weekly_criteria), values, history, not_due, sources)
    pause = found.pause_covering(date.fromisoformat(day_iso))
    if pause is not None:  # measured or not, a paused beta's day judges nothing
        doc["paused"] = pause.as_dict()
        doc["criteria"] = scoring.paused_rows(doc["criteria"])
        if "weekly_criteria" in doc:
            doc["weekly_criteria"] = scoring.paused_rows(doc["weekly_criteria"])
    doc["outcome"] = scoring.day_outcome(doc["criteria"] + doc.get("weekly_criteria", []))
    if (ticket_incident := _tickets_rule(run, spec, doc)) is not None:
        doc["incidents"].append(ticket_incident)
    chart_paths, chart_shas = _charts(run, spec, doc, history, found.days)
    replaces = _previous_row_seq(run, spec, day_iso)
    doc["replaces_ledger_seq"] = replaces
    refs: list[EvidenceRef] = []
    files: dict[str, str] = dict(chart_shas)
    for name, text in _day_files(spec, doc, chart_paths, collected, history, found).items():
        ref, sha = publish(run, name, text)
        refs.append(ref)
        files[name] = sha
    run.record(DAY_EVENT, doc["outcome"], {
        "scorecard": card.id, "date": day_iso, "day": day, "outcome": doc["outcome"], "replaces": replaces,
        "caught_up": doc["caught_up"],
        "criteria": [{"metric": r["metric"], "value": r["value"], "threshold": r["threshold"], "status": r["status"]}
                     for r in doc["criteria"] + doc.get("weekly_criteria", [])],
        "incidents": [i["incident_id"] for i in doc["incidents"]], "files": files,
        "paused": bool(doc.get("paused")),
    }, refs)
    return doc


def _day_files(spec: ScorecardSpec, doc: dict[str, Any], chart_paths: dict[str, str], collected: dict[str, Any],
               history: list[dict[str, Any]], found: Window) -> dict[str, str]:
    """Every text file of the day: metrics JSON, report, and on survey days / week ends the extras."""
    day, day_iso = int(doc["day"]), str(doc["date"])
    files = {
        daily_name(date.fromisoformat(day_iso)): json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n",
        f"daily_report_{day_iso}.md": reports.daily_report(doc, chart_paths),
    }
    survey = collected["surveys"].get(str(day))
    if survey and survey.get("status") == "imported" and survey.get("summary"):
        results = json.loads(collected["survey_documents"].get(str(day), "{}") or "{}")
        files[f"user_quotes_{day_iso}.md"] = reports.quotes_markdown(spec.title, day_iso, day,
                                                                     results.get("quotes", []))
    if day % 7 == 0 or day == found.days:
        week = (day - 1) // 7 + 1
        week_docs = [d for d in history if (int(d["day"]) - 1) // 7 + 1 == week] + [doc]
        survey_summary = (collected["surveys"].get(str(day)) or {}).get("summary")
        incidents = [i for d in week_docs for i in d.get("incidents", []) if i.get("state") == "opened"]
        files[f"weekly_metrics_week_{week}.md"] = reports.weekly_rollup(spec.title, week, week_docs, survey_summary,
                                                                        incidents)
    return files


def summary_text(doc: dict[str, Any]) -> str:
    lines = [f"Day {doc['day']}/{doc['days']} ({doc['date']}): {doc['outcome'].upper()}"]
    for row in doc["criteria"] + doc.get("weekly_criteria", []):
        mark = {"pass": "OK", "fail": "FAIL", "no_data": "no data", "not_due": "not due", "paused": "paused"}[
            row["status"]]
        lines.append(f"- {row['description']}: {scoring.fmt(row['value'])} ({mark}; {row['trend']})")
    for incident in doc["incidents"]:
        lines.append(f"- {incident['severity']} {incident['incident_id']}: {incident['title']} ({incident['state']})")
    return "\n".join(lines)


def score(spec: ScorecardSpec, context: Any) -> dict[str, Any]:
    run = scorecard_run(spec, context)
    ti = context["ti"]
    info = _window_info(context)
    found = Window.from_dict(info["window"])
    survey_documents = {}
    for day in SURVEY_DAYS:
        name = f"survey_results_day{day}.json"
        if run.evidence.exists(name):
            survey_documents[str(day)] = run.evidence.read_bytes(name).decode()
    collected: dict[str, Any] = {
        "platform": ti.xcom_pull(task_ids="platform_metrics") or {},
        "product": ti.xcom_pull(task_ids="product_metrics") or {},
        "surveys": ti.xcom_pull(task_ids="surveys") or {},
        "quality": ti.xcom_pull(task_ids="quality_suites") or {"values": {}, "suites": {}, "incidents": []},
        "survey_documents": survey_documents,
    }
    first = int(info["days"][0]["day"])
    history = _history(run, found, first)
    outcomes = {}
    doc: dict[str, Any] = {}
    for entry in info["days"]:
        doc = score_day(run, spec, entry, found, collected, history)
        history.append(doc)
        outcomes[doc["date"]] = doc["outcome"]
    run.notify("daily_scorecard", summary_text(doc), severity="P0" if any(
        i["severity"] == "P0" and i["state"] == "opened" for i in doc["incidents"]) else "",
        details={"Day": f"{doc['day']} of {doc['days']}", "Outcome": doc["outcome"]})
    return {"outcomes": outcomes, "day": doc["day"], "date": doc["date"]}


def record_failure(spec: ScorecardSpec, context: Any, *, dag_level: bool) -> None:
    """Failure callbacks: a ledger row and (for the run) Slack; never raises."""
    try:
        run = scorecard_run(spec, context)
        error = str(context.get("exception") or context.get("reason") or "a task failed")[:1000]
        if dag_level:
            run.record("scorecard_failed", Outcome.FAILED.value, {"scorecard": spec.scorecard.id, "reason": error})
            run.notify("failed", f"{spec.title} did not complete for {logical_day(context)}: {error}", severity="P2")
        else:
            run.record("scorecard_step_failed", Outcome.FAILED.value, {"scorecard": spec.scorecard.id,
                                                                       "task": run.task_id, "error": error})
    except Exception:  # a callback must never hide the original failure
        log.exception("could not record the failure of %s", spec.dag_id)

