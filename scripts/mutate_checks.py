"""For each check kind: make it always pass, run the tests that name it, and report whether any
test noticed. A SURVIVED kind is a check whose breakage no test would catch.

    .venv/bin/python scripts/mutate_checks.py [--jobs N] [KIND ...]   # default: every kind, 2 at a time

Tests run in-process (dag.test), so a mutant reaches every check they run; the real-Airflow tests
(tests/e2e, tests/celery) start their own processes and are left out. Exit 1 if any kind survived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_OF_PROCESS = ("tests/e2e/", "tests/celery/", "tests/browser/")
LOGS = ROOT / ".run" / "mutation"


def tests_naming(kind: str) -> list[str]:
    """Test files that name the kind (in a plan variant, a parametrization or an assertion), plus
    the phase suites whose plan uses it."""
    found = subprocess.run(["grep", "-rlw", "--include=test_*.py", kind, "tests"], cwd=ROOT, capture_output=True,
                           text=True).stdout.split()
    plans = subprocess.run(["grep", "-lw", kind, "include/plans/accubooks.yaml", "include/plans/reconciliation.yaml"],
                           cwd=ROOT, capture_output=True, text=True).stdout.split()
    suites = {"include/plans/accubooks.yaml": ["tests/launch/phase1", "tests/launch/phase2", "tests/launch/phase3"],
              "include/plans/reconciliation.yaml": ["tests/launch/launch_b"]}
    # The files that name the kind first: a killed mutant usually fails there, and -x stops early.
    direct = sorted(path for path in set(found) if not path.startswith(OUT_OF_PROCESS))
    suites_used = sorted({suite for plan in plans for suite in suites[plan]} - set(direct))
    return direct + suites_used


def verdict(kind: str) -> tuple[str, bool]:
    """One kind's line of the report, and whether its mutant survived."""
    paths = tests_naming(kind)
    if not paths:
        return f"{kind:26} SURVIVED  no test names it", True
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.harness.mutant", "-x", "-q",
                             "-p", "no:cacheprovider", *paths], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "LAUNCH_MUTANT_CHECK": kind})
    seconds = time.monotonic() - started
    log = LOGS / f"{kind}.log"  # the whole pytest output, for a kind that survived or errored
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(result.stdout + result.stderr)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    if result.returncode == 0:
        return f"{kind:26} SURVIVED  {len(paths)} test path(s) all passed ({seconds:.0f} s; {log})", True
    if failed:
        return f"{kind:26} killed    by {failed[0].removeprefix('FAILED ').split(' - ')[0]} ({seconds:.0f} s)", False
    return (f"{kind:26} ERROR     pytest exit {result.returncode}: {result.stdout.strip().splitlines()[-1:]} "
            f"({seconds:.0f} s; {log})"), True


def main(argv: list[str]) -> int:
    """``--jobs N`` kinds at once (default 2): the tests mostly wait on real services, so two
    pytest processes keep a 2-core machine busy; each makes its own databases on one server."""
    sys.path.insert(0, str(ROOT))
    from include.devservices.postgres import start_server
    from include.launch.plugins.checks import CHECKS

    jobs = 2
    if argv[:1] == ["--jobs"]:
        jobs, argv = int(argv[1]), argv[2:]
    start_server()  # once, before the pytest processes share it
    started = time.monotonic()
    survived = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for line, lived in pool.map(verdict, argv or CHECKS.names()):
            print(line, flush=True)
            if lived:
                survived.append(line.split()[0])
    print(f"{len(survived)} kind(s) survived: {', '.join(survived) or 'none'} "
          f"({time.monotonic() - started:.0f} s, {jobs} at a time)")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
