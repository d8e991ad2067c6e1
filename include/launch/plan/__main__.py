"""``python -m include.launch.plan check FILE [FILE ...]``: exit 0 when every plan is valid."""

from __future__ import annotations

import argparse
import sys

from include.launch.core.errors import PlanError
from include.launch.plan.loader import load_plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.launch.plan")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate plan files")
    check.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    failed = 0
    for file in args.files:
        try:
            plan = load_plan(file)
        except PlanError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        marking = ""
        if plan.mode == "demo":
            marking = f" (DEMO PLAN over {plan.extends or 'no base'}: not evidence for production)"
        print(f"{file}: valid plan {plan.launch.id!r} with {len(plan.phases)} phase(s){marking}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
