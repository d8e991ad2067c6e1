"""Readable evidence of a scorecard: the daily report, the weekly rollup, survey quotes."""

from __future__ import annotations

from typing import Any

from include.launch.beta.scoring import fmt

MARK = {"pass": "PASS", "fail": "FAIL", "no_data": "NO DATA", "not_due": "not due yet", "paused": "BETA PAUSED"}
ARROW = {"improving": "improving", "worsening": "worsening", "unchanged": "unchanged", "first": "first value",
         "-": "-"}


def criteria_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| Criterion | Threshold | Value | Result | Trend (vs day) |", "|---|---|---|---|---|"]
    for row in rows:
        trend = ARROW.get(row["trend"], row["trend"])
        if row.get("previous_day"):
            trend += f" (day {row['previous_day']}: {fmt(row['previous'])})"
        lines.append(f"| {row['description']} | {row['op']} {row['threshold']:g} | {fmt(row['value'])} | "
                     f"{MARK.get(row['status'], row['status'])} | {trend} |")
    return lines


def daily_report(doc: dict[str, Any], charts: dict[str, str]) -> str:
    lines = [
        f"# {doc['title']}: day {doc['day']} of {doc['days']} ({doc['date']})", "",
        f"- Outcome: **{doc['outcome'].upper()}**",
        f"- Window: {doc['window']['start'][:10]} to {doc['window']['planned_end'][:10]}",
        f"- Platform metrics from: {doc['platform'].get('source', '-')}",
        f"- Run: `{doc['run_id']}`", "",
        "## Success criteria", "", *criteria_table(doc["criteria"]), "",
    ]
    if doc.get("weekly_criteria"):
        lines += [f"## Weekly criteria (week {doc['week']})", "", *criteria_table(doc["weekly_criteria"]), ""]
    metrics = doc.get("metrics", {})
    lines += ["## Measurements", "", "| Metric | Value |", "|---|---|"]
    lines += [f"| {name} | {fmt(value)} |" for name, value in sorted(metrics.items())]
    lines.append("")
    if doc.get("quality"):
        lines += ["## Data integrity and tenant isolation", ""]
        for suite, result in doc["quality"].items():
            lines.append(f"- {suite}: {result.get('outcome')} - {result.get('summary', '')}")
        lines.append("")
    if doc.get("surveys"):
        lines += ["## Surveys", ""]
        for day, survey in sorted(doc["surveys"].items()):
            lines.append(f"- day {day}: {survey.get('status')}"
                         + (f", {survey.get('respondents')} respondents" if survey.get("respondents") else "")
                         + (f" ({len(survey.get('errors', []))} bad rows)" if survey.get("errors") else ""))
        lines.append("")
    if doc.get("incidents"):
        lines += ["## Incidents", "", *[f"- {i['severity']} {i['incident_id']}: {i['title']} ({i['state']})"
                                       for i in doc["incidents"]], ""]
    if charts:
        lines += ["## Charts (beta so far)", ""]
        lines += [f"![{metric}]({path})" for metric, path in charts.items()]
        lines.append("")
    return "\n".join(lines)


def weekly_rollup(title: str, week: int, days: list[dict[str, Any]], survey: dict[str, Any] | None,
                  incidents: list[dict[str, Any]]) -> str:
    """Every criterion for each day of the week, the week's closing verdict, tickets, incidents, survey."""
    first, last = days[0], days[-1]
    lines = [f"# {title}: week {week} (days {first['day']}-{last['day']}, {first['date']} to {last['date']})", "",
             f"- Days scored: {len(days)}; outcomes: "
             + ", ".join(f"day {d['day']} {d['outcome']}" for d in days), ""]
    metrics = [row["metric"] for row in last["criteria"]]
    header = "| Criterion | " + " | ".join(f"d{d['day']}" for d in days) + " | Week end |"
    lines += ["## Criteria by day", "", header, "|---|" + "---|" * (len(days) + 1)]
    for metric in metrics:
        end = next(row for row in last["criteria"] if row["metric"] == metric)
        cells = []
        for d in days:
            row = next((r for r in d["criteria"] if r["metric"] == metric), None)
            cells.append(fmt(row["value"]) if row else "-")
        lines.append(f"| {end['description']} | " + " | ".join(cells) + f" | {end['status'].upper()} |")
    lines.append("")
    if last.get("weekly_criteria"):
        lines += ["## Weekly criteria", ""]
        lines += [f"- {row['description']}: {fmt(row['value'])} ({row['status'].upper()})"
                  for row in last["weekly_criteria"]]
        lines.append("")
    tickets = last.get("metrics", {}).get("support_tickets_week_count")
    if tickets is not None:
        lines += [f"- Support tickets in the week: {fmt(tickets)} (P1 above 20)", ""]
    if survey:
        lines += ["## Survey", "", f"- Respondents: {survey['respondents']}",
                  f"- Trust forecasts: {fmt(survey['trust_forecasts_percent'])} %",
                  f"- Would pay again: {fmt(survey['would_pay_again_percent'])} %",
                  f"- Satisfaction: {fmt(survey['satisfaction_score'])} / 5",
                  f"- NPS: {fmt(survey['nps_score'])}", ""]
    lines += ["## Incidents", ""]
    lines += [f"- {i['severity']} {i['incident_id']}: {i['title']}" for i in incidents] or ["- none"]
    return "\n".join(lines) + "\n"


def quotes_markdown(title: str, date: str, survey_day: int, quotes: list[dict[str, Any]]) -> str:
    lines = [f"# {title}: user quotes ({date}, day-{survey_day} survey)", ""]
    for quote in quotes:
        tenants = ", ".join(map(str, quote["tenants"][:5]))
        lines.append(f"> {quote['comment']}")
        lines.append("")
        lines.append(f"-- {quote['count']} respondent(s), tenant(s) {tenants}; satisfaction "
                     f"{fmt(quote['satisfaction_mean'])}, NPS answer {fmt(quote['nps_mean'])}")
        lines.append("")
    if not quotes:
        lines.append("No comments in this survey.")
    return "\n".join(lines) + "\n"
