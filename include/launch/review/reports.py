"""The three documents of the review, written for a five-minute read: the answer first, then the
table that justifies it, then where every number came from. Links are relative to the review's
run folder (``<phase>/<run>/``), so the daily charts open beside the reports."""

from __future__ import annotations

from typing import Any

from include.launch.beta.scoring import fmt

MARK = {"pass": "MET", "fail": "MISSED", "no_data": "NO DATA", "not_enough_data": "NOT ENOUGH DATA"}
UP = "../.."  # from <phase>/<run>/ back to the evidence base


def link(name: str) -> str:
    return f"[{name.rsplit('/', 1)[-1]}]({UP}/{name})"


def _files(names: list[str], limit: int = 4) -> str:
    if len(names) <= limit:
        return ", ".join(link(n) for n in names) or "-"
    return f"{link(names[0])} ... {link(names[-1])} ({len(names)} files)"


def _value(row: dict[str, Any]) -> str:
    return f"{fmt(row['value'])} ({row['basis']})"


def _verdict_line(review: dict[str, Any]) -> str:
    rec = review["recommendation"]
    text = f"**Recommendation: {rec['decision']}** for the {review['rollout_users']:,}-user rollout."
    if rec["blockers"]:
        text += " Blocked by: " + "; ".join(rec["blockers"]) + "."
    if rec["conditions"]:
        text += " Conditions: " + "; ".join(rec["conditions"]) + "."
    return text


def criteria_table(review: dict[str, Any]) -> list[str]:
    lines = ["| # | Criterion | Measured over the beta | Threshold | Verdict | Evidence |", "|---|---|---|---|---|---|"]
    for n, result in enumerate(review["criteria"], 1):
        for k, row in enumerate(result["metrics"]):
            name = f"{result['name']}{' (critical)' if result['critical'] else ''}" if k == 0 else ""
            days = f"; {row['coverage']}" + (f"; failed {len(row['days_failed'])} day(s)" if row["days_failed"] else "")
            lines.append(f"| {n if k == 0 else ''} | {name} | {row['metric']} = {_value(row)}{days} | "
                         f"{row['op']} {fmt(row['threshold'])} | {MARK[row['verdict']]} | "
                         f"{_files(row['failing_files'] or row['files'])} |")
    return lines


def completion_report(review: dict[str, Any], run_id: str) -> str:
    beta = review["beta"]
    met = sum(1 for r in review["criteria"] if r["verdict"] == "pass")
    lines = [f"# Beta completion report ({beta['first_day']} to {beta['last_day']})", "",
             _verdict_line(review), "",
             f"- {met} of {len(review['criteria'])} success criteria met over {beta['days']} scored days of "
             f"{beta['planned_days']} planned" + (f"; paused on {len(beta['paused_days'])} day(s): "
                                                 f"{', '.join(beta['paused_days'])}" if beta["paused_days"] else "")
             + f". A criterion needs {beta['coverage']['min_days_measured']} measured days (surveys: "
               f"{beta['coverage']['min_survey_answers']} answers), or it is NOT ENOUGH DATA.",
             "- Daily outcomes: " + ", ".join(f"{d[5:]} {o}" for d, o in beta["outcomes"].items()),
             f"- Review run: `{run_id}`", "", "## Success criteria over the whole beta", "",
             *criteria_table(review), ""]
    lines += ["## Incidents during the beta", ""]
    lines += [f"- {i['severity']} {i['incident_id']}: {i['title']} ({i['state']}, opened {i['opened_at']})"
              for i in review["incidents"]] or ["- none"]
    lines += ["", "## Surveys", ""]
    for day, summary in sorted(review["beta"]["surveys"].items(), key=lambda kv: int(kv[0])):
        lines.append(f"- day {day}: {summary.get('respondents')} respondents, NPS {fmt(summary.get('nps_score'))}, "
                     f"satisfaction {fmt(summary.get('satisfaction_score'))}, would pay again "
                     f"{fmt(summary.get('would_pay_again_percent'))} %, "
                     f"trust {fmt(summary.get('trust_forecasts_percent'))} %")
    if review["charts"]:
        lines += ["", "## Charts (whole beta, from the last daily report)", ""]
        lines += [f"![{metric}]({UP}/{path})" for metric, path in sorted(review["charts"].items())]
    lines += ["", "## Evidence used", "", *[f"- {link(n)}" for n in review["evidence_used"]], ""]
    return "\n".join(lines)


def decisions_report(review: dict[str, Any], run_id: str) -> str:
    rec = review["recommendation"]
    lines = ["# Post-beta decisions", "", _verdict_line(review), "", "| Decision | Answer | Deciding data |",
             "|---|---|---|"]
    for s in review["scaling"]:
        answer = f"{'YES' if s['decision'] == 'SCALE' else 'NO'}: {fmt(s['current'])} -> {fmt(s['target'])} {s['unit']}"
        lines.append(f"| Scale {s['name']} ({fmt(s['current'])} -> {fmt(s['proposed'])} {s['unit']})? | {answer} | "
                     f"{s['why']} |")
    basis = "; ".join(rec["blockers"] or rec["conditions"]) or "every criterion met, no P0/P1 during the beta"
    lines.append(f"| Proceed to the {review['rollout_users']:,}-user rollout? | {rec['decision']} | {basis} |")
    lines += ["", "## Rollout: how the recommendation follows from the rules", "",
              "- YES: every success criterion met and no P0/P1 occurred.",
              "- CONDITIONAL: only non-critical criteria missed (each becomes a named condition).",
              "- NO: a critical criterion missed (data integrity, tenant isolation), an integrity or isolation "
              "incident, or an open P0.", ""]
    if rec["blockers"]:
        lines += ["### Why not", "", *[f"- {b}" for b in rec["blockers"]], ""]
    if rec["conditions"]:
        lines += ["### Conditions to meet before the rollout", "", *[f"{n}. {c}" for n, c in
                                                                     enumerate(rec["conditions"], 1)], ""]
    lines += ["## Success criteria", "", *criteria_table(review), "",
              "Scaling details: [scaling_justifications.md](scaling_justifications.md); beta summary: "
              "[beta_completion_report.md](beta_completion_report.md).", "",
              "The executive's answer is recorded in rollout_approval.md.", f"Review run: `{run_id}`.", ""]
    return "\n".join(lines)


def scaling_report(review: dict[str, Any]) -> str:
    lines = ["# Scaling justifications", "",
             "Each decision follows the plan's rule: scale when every rule holds on the mean of the beta's daily "
             "values; a rule without data keeps the current size (no data, no scaling).", ""]
    for s in review["scaling"]:
        lines += [f"## {s['name']}: {fmt(s['current'])} -> {fmt(s['proposed'])} {s['unit']}: "
                  f"**{'SCALE' if s['decision'] == 'SCALE' else 'KEEP'}** ({fmt(s['target'])} {s['unit']})", "",
                  s["why"], "", "| Rule (scale when) | Beta mean | Peak day | Days over | Holds |",
                  "|---|---|---|---|---|"]
        for r in s["rules"]:
            lines.append(f"| {r['rule']} ({r['description']}) | {fmt(r['mean'])} | {fmt(r['peak'])} | "
                         f"{len(r['days_over'])} of {r['days']} | {'yes' if r['holds'] else 'no'} |")
        for r in s["rules"]:
            if r["daily"]:
                lines += ["", f"Daily {r['metric']}: " + ", ".join(f"{d['date'][5:]} {fmt(d['value'])}"
                                                                   for d in r["daily"])]
            chart = review["charts"].get(r["metric"])
            if chart:
                lines += ["", f"![{r['metric']}]({UP}/{chart})"]
        lines += ["", f"Evidence: {_files(s['files'])}", ""]
    if not review["scaling"]:
        lines.append("The plan asks no scaling question.")
    return "\n".join(lines) + "\n"


def approval_document(*, phase_title: str, decision: dict[str, Any], proposal: dict[str, Any], reviewed: list[str],
                      run_id: str, ledger_seq: int | None) -> str:
    against = decision.get("against_recommendation")
    lines = [f"# Rollout approval: {phase_title}", "",
             f"- Decision: **{decision['choice']}**",
             f"- Recommendation: {proposal.get('recommendation')}" + (" (the decision differs; reason below)"
                                                                       if against else ""),
             f"- Decided by: {decision['responder_name']} (`{decision['responder']}`)",
             f"- When: {decision['responded_at']}",
             f"- Comment: {decision['comment']}",
             f"- Run: `{run_id}`" + (f"; ledger row {ledger_seq}" if ledger_seq else ""), ""]
    conditions = proposal.get("conditions") or []
    if decision["choice"] == "CONDITIONAL":
        lines += ["## Conditions", ""]
        lines += [f"{n}. {c}" for n, c in enumerate(conditions, 1)] or [f"1. {decision['comment']}"]
        lines.append("")
    if proposal.get("blockers"):
        lines += ["## Blockers found by the review", "", *[f"- {b}" for b in proposal["blockers"]], ""]
    if proposal.get("scaling"):
        lines += ["## Scaling", "", *[f"- {s}" for s in proposal["scaling"]], ""]
    lines += ["## What was reviewed", "", *[f"- {link(n)}" for n in reviewed], ""]
    return "\n".join(lines)
