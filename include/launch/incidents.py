"""``python -m include.launch.incidents``: an incident's lifecycle from a shell, for the on-call
engineer who is not in the Airflow UI.

    python -m include.launch.incidents list --plan accubooks
    python -m include.launch.incidents open --plan accubooks --phase phase3_beta --severity P1 --by eng_lead \
        --title "Forecasts ignore payments" --summary "two tenants report ..." [--tenant 4 --tenant 9]
    python -m include.launch.incidents acknowledge INC-… --plan accubooks --by eng_lead --note "looking at the pool"
    python -m include.launch.incidents resolve INC-… --plan accubooks --by exec_approver --note "…" --root-cause "…"
    python -m include.launch.incidents escalate --plan accubooks      # what the scheduled DAG runs

Exit 0 when done, 1 when the step is refused (the reason printed), 2 when the plan or the ledger
cannot be read. The same steps run from the launch's incident DAG, where the actor is the signed-in
Airflow user instead of ``--by``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import psycopg
from airflow.exceptions import AirflowNotFoundException

from include.launch.core.errors import PlanError
from include.launch.evidence.incident_log import STEPS, IncidentStepError, incidents

VERBS = {"acknowledge": "acknowledged", "mitigate": "mitigated", "resolve": "resolved"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m include.launch.incidents")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every incident of the launch with its step")
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    escalate = commands.add_parser("escalate", help="page for incidents nobody acknowledged in time")
    for parser_ in (listing, escalate):
        parser_.add_argument("--plan", required=True, help="a shipped plan's name or a plan file")
    opening = commands.add_parser("open", help="open an incident by hand (seed 000's report, ledger, Slack)")
    opening.add_argument("--plan", required=True, help="a shipped plan's name or a plan file")
    opening.add_argument("--phase", required=True, help="the phase it belongs to")
    opening.add_argument("--severity", required=True, help="P0, P1 or P2 (a severity the plan has a rule for)")
    opening.add_argument("--title", required=True)
    opening.add_argument("--summary", required=True, help="what was seen")
    opening.add_argument("--by", required=True, help="who opens it (an id the plan names)")
    opening.add_argument("--tenant", action="append", default=[], help="a tenant it touches (repeatable)")
    for verb in VERBS:
        step = commands.add_parser(verb, help=f"mark an incident {VERBS[verb]}")
        step.add_argument("incident_id")
        step.add_argument("--plan", required=True, help="a shipped plan's name or a plan file")
        step.add_argument("--by", required=True, help="who takes the step (an id the plan names, for a P0 resolve)")
        step.add_argument("--note", required=True, help="what was seen or done")
        if verb == "resolve":
            step.add_argument("--root-cause", default="", help="for the report's Root Cause section")
    return parser


def main(argv: list[str] | None = None) -> int:
    from include.launch.engine.incidents import escalate_overdue, open_by_hand, take_incident_step
    from include.launch.evidence.ledger import Ledger
    from include.launch.plan import load_plan
    from include.launch.plan.loader import _resolve

    args = _parser().parse_args(argv)
    try:
        plan = load_plan(args.plan)
        if args.command == "list":
            now = datetime.now(UTC)
            found = incidents(Ledger.from_connection(plan.connections.ledger).rows(launch_id=plan.launch.id))
            for incident in found:
                if incident.is_open or args.all:
                    print(f"{incident.incident_id}  {incident.severity}  {incident.status:12}  "
                          f"{incident.minutes_open(now):6.0f} min  {incident.phase_id}  {incident.title}")
            if not any(i.is_open for i in found):
                print("no open incident")
            return 0
        if args.command == "open":
            ident = open_by_hand(plan, _resolve(args.plan), args.phase, args.severity, args.title, args.summary,
                                 args.by, list(args.tenant))
            print(f"{ident}: opened by {args.by} ({args.severity})")
            return 0
        if args.command == "escalate":
            for escalated in escalate_overdue(plan, _resolve(args.plan)):
                print(f"escalated {escalated['incident_id']}: paged={escalated['paged']}")
            return 0
        incident = take_incident_step(plan, _resolve(args.plan), args.incident_id, VERBS[args.command], args.by,
                                      args.note, getattr(args, "root_cause", ""))
    except IncidentStepError as exc:
        print(f"incidents: refused: {exc}", file=sys.stderr)
        return 1
    except (PlanError, psycopg.Error, OSError) as exc:
        print(f"incidents: cannot run: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except AirflowNotFoundException as exc:  # a missing connection is a one-line answer, not a traceback
        print(f"incidents: cannot run: {exc}", file=sys.stderr)
        return 2
    done = ", ".join(step for step in STEPS if step in incident.steps)
    print(f"{incident.incident_id}: {incident.status} by {args.by} ({done})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
